//! Product images: staff upload pictures judged by their content, in an order they choose; a
//! refused upload or a deleted image leaves neither a record nor bytes behind; images are as
//! visible as their product; deleting a product for good deletes its images.

use std::{io::Cursor, path::Path, sync::Arc};

use image::{DynamicImage, ImageFormat as Encoding, Rgb, RgbImage};
use shop_core::{
    adapters::images::{BlobImageFiles, ImageRejection},
    app::{Actor, AppError, Shop, UpdateProduct},
    domain::{ImageFormat, ImageLimits, ImageVariant, ProductId, ProductImage},
    ports::ImageFiles,
};
use tempfile::TempDir;

use crate::support::{
    TestShop, admin, create_product, events_of_type, place_order, register_customer,
};

const IMAGE_ADDED: &str = "dev.shop.product.image_added.v1";

fn picture(width: u32, height: u32, encoding: Encoding) -> Vec<u8> {
    let rgb = RgbImage::from_fn(width, height, |x, y| Rgb([x as u8, y as u8, 90]));
    let picture = match encoding {
        Encoding::WebP => DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(rgb).to_rgba8()),
        _ => DynamicImage::ImageRgb8(rgb),
    };
    let mut out = Cursor::new(Vec::new());
    picture.write_to(&mut out, encoding).expect("encodes");
    out.into_inner()
}

/// The shop keeping its images in a folder of its own (returned, to look at the files).
fn with_images(t: &TestShop, limits: ImageLimits) -> (Shop, TempDir) {
    let dir = tempfile::tempdir().expect("a folder");
    let files = BlobImageFiles::local(dir.path()).expect("a writable folder");
    (t.shop.clone().with_images(Arc::new(files), limits), dir)
}

/// Every file under the images' folder, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(relative) = path.strip_prefix(root) {
                out.push(relative.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &dir.join("images"), &mut out);
    out.sort();
    out
}

async fn images_of(shop: &Shop, product: ProductId) -> Vec<ProductImage> {
    shop.images_of(&[product])
        .await
        .expect("images")
        .remove(&product)
        .unwrap_or_default()
}

async fn uploads_are_judged_by_their_bytes_and_kept_in_order(t: TestShop) {
    let (shop, dir) = with_images(&t, ImageLimits::default());
    let lamp = create_product(&t, "LAMP-1", 5_000, 3).await;
    let (_, customer) = register_customer(&t, "ada@example.com").await;
    let png = picture(40, 30, Encoding::Png);

    let refused = shop
        .add_product_image(&customer, lamp.id, png.clone())
        .await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
    let refused = shop
        .add_product_image(&Actor::Anonymous, lamp.id, png.clone())
        .await;
    assert!(
        matches!(refused, Err(AppError::Unauthenticated)),
        "{refused:?}"
    );

    let first = shop
        .add_product_image(&admin(), lamp.id, png)
        .await
        .expect("a PNG is taken");
    let second = shop
        .add_product_image(&admin(), lamp.id, picture(64, 64, Encoding::Jpeg))
        .await
        .expect("a JPEG is taken");
    let third = shop
        .add_product_image(&admin(), lamp.id, picture(8, 16, Encoding::WebP))
        .await
        .expect("a WebP is taken");
    assert_eq!(
        [first.format, second.format, third.format],
        [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Webp]
    );
    assert_eq!((first.width, first.height), (40, 30));
    assert_eq!([first.position, second.position, third.position], [0, 1, 2]);
    let listed: Vec<_> = images_of(&shop, lamp.id)
        .await
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(listed, [first.id, second.id, third.id]);
    // One event per upload asks the media worker for the smaller sizes.
    let events = events_of_type(&t, IMAGE_ADDED).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].payload["image_id"], first.id.to_string());

    // A GIF, a PDF named .png and a truncated PNG are refused: nothing recorded, nothing stored.
    let files_before = files_under(dir.path());
    let mut truncated = picture(64, 64, Encoding::Png);
    truncated.truncate(truncated.len() / 2);
    for (bytes, expected) in [
        (
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(),
            "image_unsupported_type",
        ),
        (b"%PDF-1.7\n%\xe2\xe3".to_vec(), "image_unsupported_type"),
        (truncated, "image_undecodable"),
    ] {
        let refused = shop
            .add_product_image(&admin(), lamp.id, bytes)
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), expected);
    }
    assert_eq!(images_of(&shop, lamp.id).await.len(), 3);
    assert_eq!(files_under(dir.path()), files_before);
    assert_eq!(events_of_type(&t, IMAGE_ADDED).await.len(), 3);
}

async fn limits_on_size_pixels_and_count_refuse_without_leaving_anything(t: TestShop) {
    let limits = ImageLimits {
        max_bytes: 4_096,
        max_pixels: 10_000,
        max_per_product: 2,
    };
    let (shop, dir) = with_images(&t, limits);
    let lamp = create_product(&t, "LAMP-1", 5_000, 3).await;
    let missing = ProductId::new();

    let too_many_pixels = shop
        .add_product_image(&admin(), lamp.id, picture(101, 100, Encoding::Png))
        .await;
    assert!(matches!(
        too_many_pixels,
        Err(AppError::ImageRejected(
            ImageRejection::TooManyPixels { .. }
        ))
    ));
    let too_large = shop
        .add_product_image(&admin(), lamp.id, vec![0xFF; 4_097])
        .await;
    assert!(matches!(
        too_large,
        Err(AppError::ImageRejected(ImageRejection::TooLarge { .. }))
    ));
    let no_product = shop
        .add_product_image(&admin(), missing, picture(10, 10, Encoding::Png))
        .await;
    assert!(matches!(no_product, Err(AppError::NotFound("product"))));

    for _ in 0..2 {
        shop.add_product_image(&admin(), lamp.id, picture(10, 10, Encoding::Png))
            .await
            .expect("within the count");
    }
    let third = shop
        .add_product_image(&admin(), lamp.id, picture(10, 10, Encoding::Png))
        .await;
    assert!(matches!(third, Err(AppError::Rule(_))), "{third:?}");
    assert_eq!(images_of(&shop, lamp.id).await.len(), 2);
    // Only the two accepted originals are stored: refused uploads took their bytes back.
    assert_eq!(files_under(dir.path()).len(), 2);
}

async fn concurrent_uploads_each_get_their_own_place(t: TestShop) {
    let (shop, _dir) = with_images(&t, ImageLimits::default());
    let lamp = create_product(&t, "LAMP-1", 5_000, 3).await;
    let uploads = (0..8).map(|n| {
        let shop = shop.clone();
        tokio::spawn(async move {
            shop.add_product_image(&admin(), lamp.id, picture(10 + n, 10, Encoding::Png))
                .await
        })
    });
    for upload in futures::future::join_all(uploads).await {
        upload.expect("joined").expect("uploaded");
    }
    let mut positions: Vec<i64> = images_of(&shop, lamp.id)
        .await
        .iter()
        .map(|image| image.position)
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, (0..8).collect::<Vec<_>>());
}

async fn staff_reorder_and_delete_images(t: TestShop) {
    let (shop, dir) = with_images(&t, ImageLimits::default());
    let lamp = create_product(&t, "LAMP-1", 5_000, 3).await;
    let other = create_product(&t, "DESK-1", 9_000, 3).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            shop.add_product_image(&admin(), lamp.id, picture(10, 10, Encoding::Png))
                .await
                .expect("uploaded")
                .id,
        );
    }
    let foreign = shop
        .add_product_image(&admin(), other.id, picture(10, 10, Encoding::Png))
        .await
        .expect("uploaded")
        .id;
    let as_text = |ids: &[shop_core::domain::ImageId]| -> Vec<String> {
        ids.iter().map(ToString::to_string).collect()
    };

    // Not a permutation of the product's images (one missing, one repeated, one of another
    // product, one not an id): refused, order unchanged.
    for wrong in [
        as_text(&ids[..2]),
        as_text(&[ids[0], ids[0], ids[1]]),
        as_text(&[ids[0], ids[1], foreign]),
        vec!["nope".to_owned(), ids[1].to_string(), ids[2].to_string()],
    ] {
        let refused = shop.reorder_product_images(&admin(), lamp.id, &wrong).await;
        assert!(matches!(refused, Err(AppError::Validation(_))), "{wrong:?}");
    }
    let (_, customer) = register_customer(&t, "ada@example.com").await;
    let reversed = as_text(&[ids[2], ids[1], ids[0]]);
    assert!(matches!(
        shop.reorder_product_images(&customer, lamp.id, &reversed)
            .await,
        Err(AppError::Forbidden)
    ));
    let order: Vec<_> = images_of(&shop, lamp.id)
        .await
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(order, ids);

    let reordered = shop
        .reorder_product_images(&admin(), lamp.id, &reversed)
        .await
        .expect("a permutation");
    let order: Vec<_> = reordered.iter().map(|image| image.id).collect();
    assert_eq!(order, [ids[2], ids[1], ids[0]]);

    // Deleting checks the image belongs to the product named.
    assert!(matches!(
        shop.delete_product_image(&admin(), lamp.id, foreign).await,
        Err(AppError::NotFound("image"))
    ));
    assert!(matches!(
        shop.delete_product_image(&customer, lamp.id, ids[1]).await,
        Err(AppError::Forbidden)
    ));
    shop.delete_product_image(&admin(), lamp.id, ids[1])
        .await
        .expect("deleted");
    let left: Vec<_> = images_of(&shop, lamp.id)
        .await
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(left, [ids[2], ids[0]]);
    let files = files_under(dir.path());
    assert!(!files.iter().any(|file| file.contains(&ids[1].to_string())));
    assert_eq!(files.len(), 3);
}

async fn images_are_as_visible_as_their_product_and_variants_fall_back_to_the_original(
    t: TestShop,
) {
    let (shop, dir) = with_images(&t, ImageLimits::default());
    let lamp = create_product(&t, "LAMP-1", 5_000, 3).await;
    let original = picture(1_000, 500, Encoding::Png);
    let image = shop
        .add_product_image(&admin(), lamp.id, original.clone())
        .await
        .expect("uploaded");

    // Before the media worker ran, the thumbnail is the original, marked not final.
    let early = shop
        .image_download(
            &Actor::Anonymous,
            lamp.id,
            image.id,
            ImageVariant::Thumbnail,
            &[],
        )
        .await
        .expect("served");
    assert_eq!(early.bytes.as_deref(), Some(original.as_slice()));
    assert!(!early.is_final && early.public);
    assert_eq!(early.content_type, "image/png");

    // What the media worker does: store the variant, then mark the image.
    let files = BlobImageFiles::local(dir.path()).expect("the same folder");
    let (_, thumbnail) =
        shop_core::adapters::images::render_variants(&original, &[ImageVariant::Thumbnail])
            .expect("resized")
            .remove(0);
    files
        .put(&image.key(ImageVariant::Thumbnail), thumbnail.clone())
        .await
        .expect("stored");
    assert!(
        t.store()
            .mark_image_variants_ready(image.id)
            .await
            .expect("marked")
    );
    let late = shop
        .image_download(
            &Actor::Anonymous,
            lamp.id,
            image.id,
            ImageVariant::Thumbnail,
            &[],
        )
        .await
        .expect("served");
    assert_eq!(late.bytes, Some(thumbnail));
    assert!(late.is_final);
    assert_ne!(late.etag, early.etag);
    // A client holding the tag (even as a weak one, compared by the transport) gets no bytes.
    let revalidated = shop
        .image_download(
            &Actor::Anonymous,
            lamp.id,
            image.id,
            ImageVariant::Thumbnail,
            &["\"other\"".to_owned(), late.etag.clone()],
        )
        .await
        .expect("served");
    assert_eq!((revalidated.bytes, revalidated.etag), (None, late.etag));

    // A deactivated product's images are hidden from customers, shown to staff, not shared.
    t.update_product(
        &admin(),
        lamp.id,
        UpdateProduct {
            active: Some(false),
            ..UpdateProduct::default()
        },
    )
    .await
    .expect("deactivated");
    let hidden = shop
        .image_download(
            &Actor::Anonymous,
            lamp.id,
            image.id,
            ImageVariant::Original,
            &[],
        )
        .await;
    assert!(matches!(hidden, Err(AppError::NotFound("product"))));
    let staff = shop
        .image_download(&admin(), lamp.id, image.id, ImageVariant::Original, &[])
        .await
        .expect("staff see it");
    assert!(!staff.public);
}

async fn deleting_a_product_for_good_deletes_its_images_but_ordered_products_stay(t: TestShop) {
    let (shop, dir) = with_images(&t, ImageLimits::default());
    let lamp = create_product(&t, "LAMP-1", 5_000, 3).await;
    let desk = create_product(&t, "DESK-1", 9_000, 3).await;
    for product in [lamp.id, desk.id] {
        shop.add_product_image(&admin(), product, picture(10, 10, Encoding::Png))
            .await
            .expect("uploaded");
    }
    let (_, customer) = register_customer(&t, "ada@example.com").await;
    place_order(&t, &customer, desk.id, 1).await;

    assert!(matches!(
        shop.delete_product_permanently(&customer, lamp.id).await,
        Err(AppError::Forbidden)
    ));
    // Ordered: refused, product and image kept.
    assert!(matches!(
        shop.delete_product_permanently(&admin(), desk.id).await,
        Err(AppError::Rule(_))
    ));
    assert_eq!(images_of(&shop, desk.id).await.len(), 1);

    shop.delete_product_permanently(&admin(), lamp.id)
        .await
        .expect("deleted");
    assert!(matches!(
        shop.get_product(&admin(), &lamp.id.to_string()).await,
        Err(AppError::NotFound("product"))
    ));
    assert!(images_of(&shop, lamp.id).await.is_empty());
    let files = files_under(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].contains(&desk.id.to_string()));
    assert!(matches!(
        shop.delete_product_permanently(&admin(), lamp.id).await,
        Err(AppError::NotFound("product"))
    ));
}

contract_tests!(
    uploads_are_judged_by_their_bytes_and_kept_in_order,
    limits_on_size_pixels_and_count_refuse_without_leaving_anything,
    concurrent_uploads_each_get_their_own_place,
    staff_reorder_and_delete_images,
    images_are_as_visible_as_their_product_and_variants_fall_back_to_the_original,
    deleting_a_product_for_good_deletes_its_images_but_ordered_products_stay,
);
