//! Product images through the real `shop-api` binary on the embedded default: an admin uploads
//! pictures as `multipart/form-data`, the embedded media worker makes the smaller sizes, the
//! catalog lists the URLs in order, downloads carry long-lived cache headers and ETags, and bad
//! uploads are problems that change nothing.

mod common;

use std::{io::Cursor, path::Path, time::Duration};

use common::{
    Server, http,
    journey::{admin, customer},
    shop_api,
};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::{
    StatusCode,
    header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION},
    multipart::{Form, Part},
};
use serde_json::{Value, json};
use shop_api::grpc::pb::{self, product_service_client::ProductServiceClient};

const MAX_BYTES: usize = 300_000;

fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let rgb = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x / 8) as u8, (y / 8) as u8, 60])
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(rgb)
        .write_to(&mut out, format)
        .expect("encodes");
    out.into_inner()
}

fn form(field: &str, bytes: Vec<u8>, name: &str, mime: &str) -> Form {
    Form::new().part(
        field.to_owned(),
        Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(mime)
            .expect("a media type"),
    )
}

async fn upload(server: &Server, token: &str, product: &str, form: Form) -> (StatusCode, Value) {
    let response = http()
        .post(server.url(&format!("/api/v1/admin/products/{product}/images")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("an upload");
    let status = response.status();
    let location = response.headers().get(LOCATION).cloned();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status == StatusCode::CREATED {
        // `Location` is the original's URL.
        assert_eq!(
            location.as_ref().and_then(|value| value.to_str().ok()),
            body["url"].as_str()
        );
    }
    (status, body)
}

async fn product(server: &Server, id: &str) -> Value {
    let response = http()
        .get(server.url(&format!("/api/v1/products/{id}")))
        .send()
        .await
        .expect("a product");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JSON")
}

fn image_ids(product: &Value) -> Vec<String> {
    product["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|image| image["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Waits until the media worker has made `url`'s size: its ETag then names it.
async fn made(server: &Server, url: &str, size: &str) -> reqwest::Response {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let response = http()
            .get(server.url(url))
            .send()
            .await
            .expect("a download");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let etag = response.headers()[ETAG].to_str().expect("text").to_owned();
        if etag.ends_with(&format!("-{size}\"")) {
            return response;
        }
        // The stand-in is the original, and says it may change.
        assert!(etag.ends_with("-original\""), "{etag}");
        assert_eq!(response.headers()[CACHE_CONTROL], "max-age=60");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the {size} of {url} was never made"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn stored_files(dir: &Path) -> usize {
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| {
                let path = entry.path();
                if path.is_dir() { count(&path) } else { 1 }
            })
            .sum()
    }
    count(&dir.join("var/invoices/images"))
}

#[tokio::test]
async fn an_admin_uploads_orders_and_deletes_images_that_the_catalog_serves_with_cache_headers() {
    let dir = tempfile::tempdir().expect("a folder");
    let max = MAX_BYTES.to_string();
    let server = Server::start(shop_api(
        dir.path(),
        &[
            ("SHOP_HTTP_ADDR", "127.0.0.1:0"),
            ("SHOP_IMAGE_MAX_BYTES", max.as_str()),
        ],
        &[],
    ))
    .await;
    let admin = admin(&server).await;
    let customer = customer(&server, "ada@example.com").await;
    let listing: Value = http()
        .get(server.url("/api/v1/products?limit=1"))
        .send()
        .await
        .expect("products")
        .json()
        .await
        .expect("JSON");
    let lamp = listing["items"][0]["id"]
        .as_str()
        .expect("a product")
        .to_owned();
    assert_eq!(listing["items"][0]["images"], json!([]));
    let photo = picture(1_200, 600, ImageFormat::Png);

    // Customers and strangers cannot upload; nothing changes.
    let (status, problem) = upload(
        &server,
        &customer,
        &lamp,
        form("image", photo.clone(), "a.png", "image/png"),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let anonymous = http()
        .post(server.url(&format!("/api/v1/admin/products/{lamp}/images")))
        .multipart(form("image", photo.clone(), "a.png", "image/png"))
        .send()
        .await
        .expect("an upload");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Bad uploads: a text file named and declared as PNG, JSON instead of a form, the picture
    // under another field, more bytes than allowed.
    let bad = [
        (
            form("image", b"not a picture".to_vec(), "a.png", "image/png"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "image_unsupported_type",
        ),
        (
            form("file", photo.clone(), "a.png", "image/png"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            form("image", vec![7; MAX_BYTES + 1], "big.png", "image/png"),
            StatusCode::PAYLOAD_TOO_LARGE,
            "image_too_large",
        ),
    ];
    for (form, status, code) in bad {
        let (got, problem) = upload(&server, &admin, &lamp, form).await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{problem}"
        );
    }
    let json_body = http()
        .post(server.url(&format!("/api/v1/admin/products/{lamp}/images")))
        .bearer_auth(&admin)
        .json(&json!({ "image": "aGVsbG8=" }))
        .send()
        .await
        .expect("an upload");
    assert_eq!(json_body.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        json_body.headers()[CONTENT_TYPE],
        "application/problem+json"
    );
    assert_eq!(
        image_ids(&product(&server, &lamp).await),
        Vec::<String>::new()
    );
    assert_eq!(stored_files(dir.path()), 0);

    // A PNG (declared as anything: the bytes decide) and a JPEG.
    let (status, first) = upload(
        &server,
        &admin,
        &lamp,
        form(
            "image",
            photo.clone(),
            "photo.bin",
            "application/octet-stream",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        (
            first["content_type"].as_str(),
            first["width"].as_u64(),
            first["height"].as_u64()
        ),
        (Some("image/png"), Some(1_200), Some(600))
    );
    let (status, second) = upload(
        &server,
        &admin,
        &lamp,
        form(
            "image",
            picture(300, 400, ImageFormat::Jpeg),
            "b.jpg",
            "image/jpeg",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let (first_id, second_id) = (
        first["id"].as_str().expect("id").to_owned(),
        second["id"].as_str().expect("id").to_owned(),
    );
    let shown = product(&server, &lamp).await;
    assert_eq!(image_ids(&shown), [first_id.clone(), second_id.clone()]);
    // The listing (served from the catalog cache before the upload) shows them too.
    let listing: Value = http()
        .get(server.url("/api/v1/products?limit=1"))
        .send()
        .await
        .expect("products")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        image_ids(&listing["items"][0]),
        [first_id.clone(), second_id.clone()]
    );

    // The thumbnail is made by the media worker; then it is final and cached for good.
    let thumbnail_url = first["thumbnail_url"].as_str().expect("a URL").to_owned();
    let thumbnail = made(&server, &thumbnail_url, "thumbnail").await;
    assert_eq!(
        thumbnail.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(thumbnail.headers()[CONTENT_TYPE], "image/png");
    let etag = thumbnail.headers()[ETAG].clone();
    let bytes = thumbnail.bytes().await.expect("bytes");
    let decoded = image::load_from_memory(&bytes).expect("a picture");
    assert_eq!((decoded.width(), decoded.height()), (200, 100));
    let medium = made(
        &server,
        first["medium_url"].as_str().expect("a URL"),
        "medium",
    )
    .await;
    let decoded =
        image::load_from_memory(&medium.bytes().await.expect("bytes")).expect("a picture");
    assert_eq!((decoded.width(), decoded.height()), (800, 400));
    let original = http()
        .get(server.url(first["url"].as_str().expect("a URL")))
        .send()
        .await
        .expect("a download");
    assert_eq!(
        original.bytes().await.expect("bytes").as_ref(),
        photo.as_slice()
    );
    let again = http()
        .get(server.url(&thumbnail_url))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("a download");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.expect("no body").is_empty());

    // Reordering: anything but each image once is refused and changes nothing.
    let reorder = |ids: Value| {
        http()
            .put(server.url(&format!("/api/v1/admin/products/{lamp}/images/order")))
            .bearer_auth(&admin)
            .json(&json!({ "image_ids": ids }))
            .send()
    };
    let refused = reorder(json!([first_id])).await.expect("a reorder");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        image_ids(&product(&server, &lamp).await),
        [first_id.clone(), second_id.clone()]
    );
    let reordered = reorder(json!([second_id, first_id]))
        .await
        .expect("a reorder");
    assert_eq!(reordered.status(), StatusCode::OK);
    assert_eq!(
        image_ids(&product(&server, &lamp).await),
        [second_id.clone(), first_id.clone()]
    );

    // Deleting an image takes every size of it.
    let deleted = http()
        .delete(server.url(&format!("/api/v1/admin/products/{lamp}/images/{first_id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("a delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = http()
        .get(server.url(&thumbnail_url))
        .send()
        .await
        .expect("a download");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(image_ids(&product(&server, &lamp).await), [second_id]);

    // gRPC lists the same images with the same URLs.
    let grpc: std::net::SocketAddr = server
        .banner_value("grpc listening on ")
        .expect("the gRPC address")
        .parse()
        .expect("an address");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connected");
    let listed = ProductServiceClient::new(channel)
        .get_product(pb::GetProductRequest {
            product: Some(pb::get_product_request::Product::ProductId(lamp.clone())),
        })
        .await
        .expect("GetProduct")
        .into_inner()
        .product
        .expect("a product");
    let rest = product(&server, &lamp).await;
    let grpc_images: Vec<(String, String)> = listed
        .images
        .iter()
        .map(|image| (image.id.clone(), image.thumbnail_url.clone()))
        .collect();
    let rest_images: Vec<(String, String)> = rest["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|image| {
            (
                image["id"].as_str().expect("id").to_owned(),
                image["thumbnail_url"].as_str().expect("url").to_owned(),
            )
        })
        .collect();
    assert_eq!(grpc_images, rest_images);

    // A product never ordered, deleted for good, takes its images with it.
    let created: Value = http()
        .post(server.url("/api/v1/admin/products"))
        .bearer_auth(&admin)
        .json(&json!({ "sku": "POSTER-1", "name": "Poster", "price_minor": 1_500, "currency": "USD", "stock": 5 }))
        .send()
        .await
        .expect("a product")
        .json()
        .await
        .expect("JSON");
    let poster = created["id"].as_str().expect("an id").to_owned();
    let (status, poster_image) = upload(
        &server,
        &admin,
        &poster,
        form(
            "image",
            picture(50, 50, ImageFormat::Png),
            "p.png",
            "image/png",
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let files_before = stored_files(dir.path());
    let removed = http()
        .delete(server.url(&format!("/api/v1/admin/products/{poster}?permanent=true")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("a delete");
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let gone = http()
        .get(server.url(poster_image["url"].as_str().expect("a URL")))
        .send()
        .await
        .expect("a download");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert!(stored_files(dir.path()) < files_before);
    assert!(
        !dir.path()
            .join(format!("var/invoices/images/{poster}"))
            .join(poster_image["id"].as_str().expect("id"))
            .join("original.png")
            .exists()
    );

    server.terminate().await;
}
