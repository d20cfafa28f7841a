//! The catalog cache: anonymous catalog reads are served from the cache (in-process or Redis),
//! and no write (price, stock through checkout or cancellation, deactivation) is ever hidden by
//! it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, header, json_body, text};

on_both_backends!(anonymous_catalog_reads_are_cached_and_never_stale);

/// An anonymous GET: the `x-cache` header and the JSON body.
async fn read(app: &TestApp, path: &str, token: Option<&str>) -> (String, Value) {
    let response = app.get(path, token).await;
    let cache = header(response.headers(), "x-cache");
    (cache, json_body(response, StatusCode::OK).await)
}

async fn anonymous_catalog_reads_are_cached_and_never_stale(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let product = app.create_product(&admin, "Blue Mug", 1_000, 5, None).await;
    let id = text(&product, "id");
    let by_slug = "/products/blue-mug";
    let listing = "/products?sort=price_asc";

    let (cache, first) = read(&app, by_slug, None).await;
    assert_eq!(cache, "miss");
    let (cache, second) = read(&app, by_slug, None).await;
    assert_eq!(cache, "hit");
    assert_eq!(second, first, "the cached answer is the answer");
    assert_eq!(read(&app, listing, None).await.0, "miss");
    assert_eq!(read(&app, listing, None).await.0, "hit");

    // A price change is visible at once, on the product and in listings.
    json_body(
        app.patch(
            &format!("/admin/products/{id}"),
            Some(&admin),
            &json!({ "price_minor": 1_250 }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let (cache, repriced) = read(&app, by_slug, None).await;
    assert_eq!(cache, "miss");
    assert_eq!(repriced["price"]["amount_minor"], 1_250);
    let (cache, again) = read(&app, by_slug, None).await;
    assert_eq!((cache.as_str(), &again), ("hit", &repriced));
    let (cache, list) = read(&app, listing, None).await;
    assert_eq!(cache, "miss");
    assert_eq!(list["items"][0]["price"]["amount_minor"], 1_250);

    // Stock sold at checkout is gone from the anonymous view at once.
    let customer = app.register_and_login("ada@example.com").await;
    // Signed-in reads bypass the cache (and never fill it).
    let (cache, _) = read(&app, by_slug, Some(&customer)).await;
    assert_eq!(cache, "bypass");
    let order = app.place_order(&customer, &id, 2).await;
    let (cache, after_checkout) = read(&app, by_slug, None).await;
    assert_eq!(cache, "miss");
    assert_eq!(after_checkout["stock"], 3, "{after_checkout}");
    assert_eq!(read(&app, by_slug, None).await.1["stock"], 3);
    assert_eq!(
        read(&app, &format!("/products/{id}"), None).await.1["stock"],
        3
    );
    assert_eq!(read(&app, listing, None).await.1["items"][0]["stock"], 3);

    // Stock returned by a cancellation too.
    json_body(
        app.post(
            &format!("/orders/{}/cancel", text(&order, "id")),
            Some(&customer),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read(&app, by_slug, None).await.1["stock"], 5);

    // A deactivated product disappears for anonymous visitors, cached or not.
    json_body(
        app.delete(&format!("/admin/products/{id}"), Some(&admin))
            .await,
        StatusCode::OK,
    )
    .await;
    let response = app.get(by_slug, None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(read(&app, listing, None).await.1["items"], json!([]));
    let (cache, staff_view) = read(&app, by_slug, Some(&admin)).await;
    assert_eq!(cache, "bypass");
    assert_eq!(staff_view["active"], false);

    // The categories listing is cached and refreshed the same way.
    assert_eq!(
        read(&app, "/categories", None).await,
        ("miss".to_owned(), json!([]))
    );
    assert_eq!(read(&app, "/categories", None).await.0, "hit");
    app.create_category(&admin, "Mugs", None).await;
    let (cache, categories) = read(&app, "/categories", None).await;
    assert_eq!(cache, "miss");
    assert_eq!(categories[0]["name"], "Mugs");
}
