//! The OpenAPI description: valid OpenAPI 3, listing exactly the routes the router serves, every
//! schema reference resolvable; and the interactive docs page.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Backend, TestApp, header, json_body, send};

/// Every route under `/api/v1`, as (method, path template).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("post", "/api/v1/auth/password-reset"),
    ("post", "/api/v1/auth/password-reset/confirm"),
    ("post", "/api/v1/auth/verify-email"),
    ("post", "/api/v1/users/me/email-verification"),
    ("get", "/api/v1/users/me"),
    ("patch", "/api/v1/users/me"),
    ("put", "/api/v1/users/me/password"),
    ("get", "/api/v1/users/me/addresses"),
    ("post", "/api/v1/users/me/addresses"),
    ("put", "/api/v1/users/me/addresses/{id}"),
    ("delete", "/api/v1/users/me/addresses/{id}"),
    ("get", "/api/v1/products"),
    ("get", "/api/v1/products/search"),
    ("get", "/api/v1/products/{id_or_slug}"),
    ("get", "/api/v1/categories"),
    ("get", "/api/v1/cart"),
    ("delete", "/api/v1/cart"),
    ("post", "/api/v1/cart/items"),
    ("patch", "/api/v1/cart/items/{id}"),
    ("delete", "/api/v1/cart/items/{id}"),
    ("post", "/api/v1/orders"),
    ("get", "/api/v1/orders"),
    ("get", "/api/v1/orders/{id}"),
    ("get", "/api/v1/orders/{id}/history"),
    ("get", "/api/v1/orders/{id}/payments"),
    ("post", "/api/v1/orders/{id}/payment"),
    ("post", "/api/v1/payments/{provider}/webhook"),
    ("post", "/api/v1/orders/{id}/cancel"),
    ("get", "/api/v1/orders/{id}/invoice"),
    ("get", "/api/v1/notifications"),
    ("post", "/api/v1/notifications/{id}/read"),
    ("post", "/api/v1/admin/products"),
    ("patch", "/api/v1/admin/products/{id}"),
    ("delete", "/api/v1/admin/products/{id}"),
    ("post", "/api/v1/admin/products/{id}/stock"),
    ("post", "/api/v1/admin/categories"),
    ("patch", "/api/v1/admin/categories/{id}"),
    ("get", "/api/v1/admin/users"),
    ("patch", "/api/v1/admin/users/{id}"),
    ("get", "/api/v1/admin/orders"),
    ("patch", "/api/v1/admin/orders/{id}/status"),
    ("post", "/api/v1/admin/payments"),
    ("post", "/api/v1/admin/orders/{id}/refunds"),
    ("get", "/api/v1/admin/stats"),
    ("get", "/api/v1/admin/analytics"),
    // Coupons (api/src/rest/coupons.rs).
    ("get", "/api/v1/admin/coupons"),
    ("post", "/api/v1/admin/coupons"),
    ("get", "/api/v1/admin/coupons/{id}"),
    ("put", "/api/v1/admin/coupons/{id}"),
    ("delete", "/api/v1/admin/coupons/{id}"),
    ("put", "/api/v1/cart/coupon"),
    ("delete", "/api/v1/cart/coupon"),
    // Shipping (api/src/rest/shipping.rs).
    ("get", "/api/v1/shipping-methods"),
    ("get", "/api/v1/admin/shipping-methods"),
    ("post", "/api/v1/admin/shipping-methods"),
    ("put", "/api/v1/admin/shipping-methods/{id}"),
    ("delete", "/api/v1/admin/shipping-methods/{id}"),
    ("put", "/api/v1/admin/orders/{id}/shipment"),
    // Product images (api/src/rest/images.rs).
    ("post", "/api/v1/admin/products/{id}/images"),
    ("put", "/api/v1/admin/products/{id}/images/order"),
    ("delete", "/api/v1/admin/products/{id}/images/{image_id}"),
    ("get", "/api/v1/products/{id}/images"),
    ("get", "/api/v1/products/{id}/images/{image_id}/{variant}"),
];

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let response = send(app.client.get(app.url("/openapi.json"))).await;
    assert!(
        header(response.headers(), "content-type").starts_with("application/json"),
        "{:?}",
        response.headers()
    );
    let doc = json_body(response, StatusCode::OK).await;
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|version| version.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().expect("paths");

    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item")
                .keys()
                .filter(|key| HTTP_METHODS.contains(&key.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    let unexpected: Vec<_> = documented.difference(&expected).collect();
    assert!(missing.is_empty(), "undocumented routes: {missing:?}");
    assert!(
        unexpected.is_empty(),
        "documented but not expected: {unexpected:?}"
    );

    // Every operation says what it answers; everything outside auth and the catalog needs a
    // bearer token and says so.
    for (method, path) in &documented {
        let operation = &paths[path.as_str()][method.as_str()];
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|r| !r.is_empty()),
            "{method} {path}"
        );
        // Payment providers sign their notifications instead of signing in.
        let public = path.starts_with("/api/v1/auth/")
            || path.starts_with("/api/v1/payments/")
            || path.starts_with("/api/v1/products")
            || path == "/api/v1/categories";
        // `[{}, {"bearer": []}]` (the catalog: a token is optional) is not "secured".
        let secured = operation["security"]
            .as_array()
            .is_some_and(|requirements| {
                !requirements.is_empty() && requirements.iter().all(|r| r.get("bearer").is_some())
            });
        assert_eq!(
            secured, !public,
            "{method} {path}: security {}",
            operation["security"]
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    // Every schema reference resolves.
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
        assert!(schemas.contains_key(name), "unresolved $ref {reference}");
    }

    // And the router really serves every documented route (a request with a made-up id reaches
    // its handler: no 405, no router-level 404).
    let some_id = uuid::Uuid::now_v7().to_string();
    for (method, path) in &documented {
        let url = app.url(
            &path
                .replace("{id}", &some_id)
                .replace("{id_or_slug}", "no-such-product")
                .replace("{provider}", "sandbox"),
        );
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let response = send(app.client.request(method.clone(), &url)).await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {url}");
        assert!(
            status != StatusCode::NOT_FOUND || body["type"] != "about:blank",
            "{method} {url} is not routed: {body}"
        );
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => refs.push(reference.clone()),
                    _ => collect_refs(value, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

#[tokio::test]
async fn the_docs_page_is_html() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let response = send(app.client.get(app.url("/docs"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        header(response.headers(), "content-type").starts_with("text/html"),
        "{:?}",
        response.headers()
    );
    let page = response.text().await.expect("a page");
    assert!(page.to_lowercase().contains("<html"), "{page}");
    assert!(
        page.contains("/openapi.json") || page.contains("\"openapi\""),
        "the page loads the description"
    );
}
