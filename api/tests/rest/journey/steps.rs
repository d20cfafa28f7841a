//! The steps the journeys are made of: stocking the shop, browsing it, reading orders and history,
//! and rotating and ending sessions.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem, json_body, text};

/// The catalog the journey shops in (USD, minor units).
pub(super) struct Catalog {
    pub(super) kitchen: String,
    pub(super) mugs: String,
    pub(super) blue_mug: Value,
    pub(super) kettle: Value,
    pub(super) book: Value,
}

/// Two categories (one inside the other), a third, and five products to browse.
pub(super) async fn stock_the_shop(app: &TestApp, admin: &str) -> Catalog {
    let kitchen = app.create_category(admin, "Kitchen", None).await;
    let kitchen = text(&kitchen, "id");
    let mugs = app.create_category(admin, "Mugs", Some(&kitchen)).await;
    let mugs = text(&mugs, "id");
    let books = app.create_category(admin, "Books", None).await;
    let books = text(&books, "id");
    let blue_mug = app
        .create_product(admin, "Blue Mug", 1_200, 10, Some(&mugs))
        .await;
    assert_eq!(blue_mug["slug"], "blue-mug", "{blue_mug}");
    app.create_product(admin, "Red Mug", 1_500, 0, Some(&mugs))
        .await;
    let kettle = app
        .create_product(admin, "Kettle", 4_500, 5, Some(&kitchen))
        .await;
    let book = app
        .create_product(admin, "Rust Book", 3_900, 7, Some(&books))
        .await;
    app.create_product(admin, "Pen", 250, 100, None).await;
    Catalog {
        kitchen,
        mugs,
        blue_mug,
        kettle,
        book,
    }
}

/// Filters, sorts, pages, one product by slug and by id, search and categories.
pub(super) async fn browse(app: &TestApp, catalog: &Catalog) {
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|product| text(product, "name"))
            .collect()
    };
    let list = |query: String| async move {
        json_body(
            app.get(&format!("/products?{query}"), None).await,
            StatusCode::OK,
        )
        .await
    };

    let by_name = list("sort=name".into()).await;
    assert_eq!(
        names(&by_name),
        ["Blue Mug", "Kettle", "Pen", "Red Mug", "Rust Book"],
        "{by_name}"
    );
    let kitchen = list(format!("category_id={}&sort=name", catalog.kitchen)).await;
    assert_eq!(
        names(&kitchen),
        ["Blue Mug", "Kettle", "Red Mug"],
        "subcategories too"
    );
    let mugs = list(format!("category_id={}&sort=name", catalog.mugs)).await;
    assert_eq!(names(&mugs), ["Blue Mug", "Red Mug"]);
    let mid_priced = list("min_price=1000&max_price=4000&sort=price_asc".into()).await;
    assert_eq!(names(&mid_priced), ["Blue Mug", "Red Mug", "Rust Book"]);
    let in_stock = list("in_stock=true&sort=name".into()).await;
    assert_eq!(names(&in_stock), ["Blue Mug", "Kettle", "Pen", "Rust Book"]);
    assert!(
        in_stock["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|product| product["in_stock"] == true && product["stock"].as_i64() > Some(0))
    );
    let dearest_first = list("sort=price_desc".into()).await;
    assert_eq!(
        names(&dearest_first),
        ["Kettle", "Rust Book", "Red Mug", "Blue Mug", "Pen"]
    );

    // Pages of two, following `next_cursor` to the end, in price order.
    let mut seen = Vec::new();
    let mut query = "sort=price_asc&limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = list(query.clone()).await;
        pages += 1;
        assert!(page["items"].as_array().expect("items").len() <= 2);
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("sort=price_asc&limit=2&cursor={cursor}"),
            None => break,
        }
        assert!(pages < 10, "the cursor never ends");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["Pen", "Blue Mug", "Red Mug", "Rust Book", "Kettle"]);

    // One product, by slug and by id.
    let by_slug = app.product("blue-mug").await;
    assert_eq!(by_slug["price"]["amount_minor"], 1_200);
    assert_eq!(by_slug["price"]["formatted"], "12.00 USD");
    assert_eq!(by_slug["category_id"].as_str(), Some(catalog.mugs.as_str()));
    let by_id = app.product(&text(&catalog.blue_mug, "id")).await;
    assert_eq!(by_id, by_slug);

    // Search.
    let found = json_body(
        app.get("/products/search?q=mug", None).await,
        StatusCode::OK,
    )
    .await;
    let mut found = names(&found);
    found.sort();
    assert_eq!(found, ["Blue Mug", "Red Mug"]);
    let none = json_body(
        app.get("/products/search?q=submarine", None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(none["items"], json!([]));

    // Categories, with the tree in `parent_id`.
    let categories = json_body(app.get("/categories", None).await, StatusCode::OK).await;
    let categories = categories.as_array().expect("a list");
    assert_eq!(categories.len(), 3, "{categories:?}");
    let mugs = categories
        .iter()
        .find(|category| category["name"] == "Mugs")
        .expect("Mugs is listed");
    assert_eq!(mugs["parent_id"].as_str(), Some(catalog.kitchen.as_str()));
    assert_eq!(mugs["slug"], "mugs");
}

/// Refresh rotates the tokens; replaying a rotated one ends the whole family; logout ends a
/// session.
pub(super) async fn sessions_rotate_and_end(app: &TestApp, first_refresh: &str) {
    let refresh = |token: &str| {
        let body = json!({ "refresh_token": token });
        async move { app.post("/auth/refresh", None, &body).await }
    };
    let rotated = json_body(refresh(first_refresh).await, StatusCode::OK).await;
    let second_refresh = text(&rotated, "refresh_token");
    assert_ne!(second_refresh, first_refresh);
    let access = text(&rotated, "access_token");
    json_body(app.get("/users/me", Some(&access)).await, StatusCode::OK).await;

    // The first token was used: presenting it again is refused and revokes the new one too.
    assert_problem(
        refresh(first_refresh).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_problem(
        refresh(&second_refresh).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // A new sign-in, then logout: its refresh token stops working.
    let session = app.login("ada@example.com").await;
    let response = app
        .post(
            "/auth/logout",
            None,
            &json!({ "refresh_token": session.refresh_token }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        refresh(&session.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

pub(super) async fn order_status(app: &TestApp, token: &str, order_id: &str) -> String {
    let order = json_body(
        app.get(&format!("/orders/{order_id}"), Some(token)).await,
        StatusCode::OK,
    )
    .await;
    text(&order, "status")
}

pub(super) async fn history(
    app: &TestApp,
    token: &str,
    order_id: &str,
) -> Vec<(Option<String>, String)> {
    let history = json_body(
        app.get(&format!("/orders/{order_id}/history"), Some(token))
            .await,
        StatusCode::OK,
    )
    .await;
    history
        .as_array()
        .expect("a list")
        .iter()
        .map(|change| {
            (
                change["from"].as_str().map(str::to_owned),
                text(change, "to"),
            )
        })
        .collect()
}

pub(super) fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|item| text(item, "id"))
        .collect()
}

pub(super) fn line_of(cart: &Value, product_id: &str) -> String {
    let line = cart["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|line| line["product_id"] == product_id)
        .unwrap_or_else(|| panic!("{product_id} in {cart}"));
    text(line, "id")
}

pub(super) fn quantity_of(cart: &Value, product_id: &str) -> i64 {
    cart["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|line| line["product_id"] == product_id)
        .and_then(|line| line["quantity"].as_i64())
        .unwrap_or_else(|| panic!("{product_id} in {cart}"))
}
