//! The media worker on Postgres: an uploaded image's medium and thumbnail sizes are made once,
//! stored beside the original and marked ready; a redelivered event changes nothing; an image
//! deleted before its event is handled is skipped and leaves no files.

mod support;

use std::{io::Cursor, path::Path, sync::Arc};

use chrono::Utc;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::json;
use shop_core::{
    adapters::{images::BlobImageFiles, sql::SqlStore},
    app::{Actor, CreateProduct, Shop, ShopSettings},
    domain::{ImageLimits, ImageVariant, ProductImage},
};
use shop_workers::{
    handler::Handler as _,
    media::{IMAGE_ADDED, Media},
};
use support::{data, database, event};

fn png(width: u32, height: u32) -> Vec<u8> {
    let rgb = RgbImage::from_fn(width, height, |x, y| Rgb([x as u8, y as u8, 7]));
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(rgb)
        .write_to(&mut out, ImageFormat::Png)
        .expect("encodes");
    out.into_inner()
}

fn image_added(image: &ProductImage) -> shop_core::messaging::CloudEvent {
    event(
        IMAGE_ADDED,
        format!("products/{}", image.product_id),
        Utc::now(),
        json!({ "product_id": image.product_id, "image_id": image.id, "format": "png" }),
    )
}

fn file_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() { file_count(&path) } else { 1 }
        })
        .sum()
}

#[tokio::test]
async fn sizes_are_made_once_and_a_deleted_image_is_skipped() {
    let (_database, db) = database().await;
    let folder = tempfile::tempdir().expect("a folder");
    let files = Arc::new(BlobImageFiles::local(folder.path()).expect("a writable folder"));
    let shop = Shop::new(Arc::new(SqlStore::new(db.clone())), ShopSettings::default())
        .with_images(files.clone(), ImageLimits::default());
    let product = shop
        .create_product(
            &Actor::System,
            CreateProduct {
                sku: "LAMP-1".into(),
                name: "Lamp".into(),
                price_minor: 5_000,
                currency: "EUR".into(),
                stock: Some(3),
                ..CreateProduct::default()
            },
        )
        .await
        .expect("a product");
    let media = Media::new(data(&db), files);

    let image = shop
        .add_product_image(&Actor::System, product.id, png(1_600, 400))
        .await
        .expect("uploaded");
    let added = image_added(&image);
    media.handle(&added).await.expect("handled");
    let thumbnail = shop
        .image_download(
            &Actor::Anonymous,
            product.id,
            image.id,
            ImageVariant::Thumbnail,
            &[],
        )
        .await
        .expect("served");
    assert!(thumbnail.is_final);
    let decoded = image::load_from_memory(&thumbnail.bytes.expect("bytes")).expect("a picture");
    assert_eq!((decoded.width(), decoded.height()), (200, 50));
    let medium = shop
        .image_download(
            &Actor::Anonymous,
            product.id,
            image.id,
            ImageVariant::Medium,
            &[],
        )
        .await
        .expect("served");
    let decoded = image::load_from_memory(&medium.bytes.expect("bytes")).expect("a picture");
    assert_eq!((decoded.width(), decoded.height()), (800, 200));
    let images = folder.path().join("images");
    assert_eq!(file_count(&images), 3);

    // Delivered again: nothing new.
    media.handle(&added).await.expect("handled again");
    assert_eq!(file_count(&images), 3);

    // Deleted before its event was handled: skipped, nothing left behind.
    let doomed = shop
        .add_product_image(&Actor::System, product.id, png(900, 900))
        .await
        .expect("uploaded");
    shop.delete_product_image(&Actor::System, product.id, doomed.id)
        .await
        .expect("deleted");
    media.handle(&image_added(&doomed)).await.expect("skipped");
    assert_eq!(file_count(&images), 3);

    // A payload that is not an image event's is dead-lettered, not retried.
    let malformed = event(
        IMAGE_ADDED,
        "products/x".into(),
        Utc::now(),
        json!({ "product_id": 42 }),
    );
    assert!(matches!(
        media.handle(&malformed).await,
        Err(shop_workers::handler::HandlerError::Reject(_))
    ));
}
