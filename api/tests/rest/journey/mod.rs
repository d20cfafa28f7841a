//! The whole shop over HTTP, as a customer and an administrator use it: sign up, browse, fill a
//! cart, check out (with idempotent retries), get paid and fulfilled, cancel, read history and
//! sales figures, and rotate and end sessions.
//!
//! The tests are here; the steps they share are in `steps`.

mod steps;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Backend, TestApp, assert_problem, header, json_body, text};

use steps::{
    browse, history, ids, line_of, order_status, quantity_of, sessions_rotate_and_end,
    stock_the_shop,
};

on_both_backends!(
    a_customer_shops_and_an_admin_fulfils,
    retries_of_one_checkout_buy_once_even_when_concurrent,
    checkout_refuses_what_can_no_longer_be_sold,
);

async fn a_customer_shops_and_an_admin_fulfils(backend: Backend) {
    // 10% tax, so totals differ from subtotals.
    let app = TestApp::builder(backend)
        .tax_basis_points(1_000)
        .spawn()
        .await;
    let admin = app.admin_token().await;
    let catalog = stock_the_shop(&app, &admin).await;

    // Register, sign in, see oneself.
    let user = app.register("Ada@Example.com").await;
    assert_eq!(user["email"], "ada@example.com", "{user}");
    assert_eq!(user["role"], "customer");
    let session = app.login("ada@example.com").await;
    let token = session.access_token.as_str();
    let me = json_body(app.get("/users/me", Some(token)).await, StatusCode::OK).await;
    assert_eq!(me["id"], user["id"]);
    assert_eq!(me["full_name"], "Test Ada@Example.com");

    // Two addresses; the first becomes the default.
    let home = app.add_address(token, "Ada at home").await;
    assert_eq!(home["is_default"], true, "{home}");
    assert_eq!(home["country"], "US");
    let office = app.add_address(token, "Ada at the office").await;
    assert_eq!(office["is_default"], false, "{office}");
    let addresses = json_body(
        app.get("/users/me/addresses", Some(token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        ids(&addresses),
        vec![text(&home, "id"), text(&office, "id")]
    );

    browse(&app, &catalog).await;

    let blue_mug = text(&catalog.blue_mug, "id");
    let kettle = text(&catalog.kettle, "id");
    let book = text(&catalog.book, "id");

    // Cart: adding the same product twice adds up in one line.
    let cart = app.add_to_cart(token, &blue_mug, 2).await;
    assert_eq!(cart["items"][0]["quantity"], 2, "{cart}");
    let cart = app.add_to_cart(token, &blue_mug, 1).await;
    assert_eq!(cart["items"].as_array().map(Vec::len), Some(1), "{cart}");
    assert_eq!(cart["items"][0]["quantity"], 3, "{cart}");
    let mug_line = text(&cart["items"][0], "id");
    app.add_to_cart(token, &kettle, 1).await;
    let cart = app.add_to_cart(token, &book, 4).await;
    let book_line = line_of(&cart, &book);
    let cart = json_body(
        app.patch(
            &format!("/cart/items/{mug_line}"),
            Some(token),
            &json!({ "quantity": 2 }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(quantity_of(&cart, &blue_mug), 2, "{cart}");
    json_body(
        app.delete(&format!("/cart/items/{book_line}"), Some(token))
            .await,
        StatusCode::OK,
    )
    .await;
    let cart = json_body(app.get("/cart", Some(token)).await, StatusCode::OK).await;
    assert_eq!(cart["items"].as_array().map(Vec::len), Some(2), "{cart}");
    assert_eq!(quantity_of(&cart, &blue_mug), 2);
    assert_eq!(quantity_of(&cart, &kettle), 1);
    // 2 × 12.00 + 1 × 45.00
    assert_eq!(cart["subtotal"]["amount_minor"], 6_900, "{cart}");
    assert_eq!(cart["subtotal"]["currency"], "USD");
    assert_eq!(cart["item_count"], 3);

    // Checkout to the office, with an idempotency key.
    let key = "journey-order-1";
    let to_office = json!({ "shipping_address_id": text(&office, "id") });
    let response = app.checkout_request(token, key, Some(&to_office)).await;
    assert_eq!(header(response.headers(), "idempotent-replayed"), "");
    let order = json_body(response, StatusCode::CREATED).await;
    let order_id = text(&order, "id");
    assert_eq!(order["status"], "pending_payment", "{order}");
    assert_eq!(order["subtotal"]["amount_minor"], 6_900);
    assert_eq!(order["tax"]["amount_minor"], 690);
    assert_eq!(order["total"]["amount_minor"], 7_590);
    assert_eq!(order["shipping_address"]["recipient"], "Ada at the office");
    assert_eq!(order["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(app.stock_of(&blue_mug).await, 8);
    assert_eq!(app.stock_of(&kettle).await, 4);
    let cart = json_body(app.get("/cart", Some(token)).await, StatusCode::OK).await;
    assert_eq!(cart["items"], json!([]), "the cart is emptied: {cart}");
    assert_eq!(cart["subtotal"], Value::Null);

    // A retry with the same key and body is the same order, bought once.
    let response = app.checkout_request(token, key, Some(&to_office)).await;
    assert_eq!(header(response.headers(), "idempotent-replayed"), "true");
    let replayed = json_body(response, StatusCode::CREATED).await;
    assert_eq!(replayed["id"], order["id"]);
    assert_eq!(replayed["total"], order["total"]);
    assert_eq!(app.stock_of(&blue_mug).await, 8, "stock taken once");
    assert_eq!(app.stock_of(&kettle).await, 4, "stock taken once");

    // The same key for a different request is refused, and changes nothing.
    let before = app.snapshot(&admin).await;
    let to_home = json!({ "shipping_address_id": text(&home, "id") });
    assert_problem(
        app.checkout_request(token, key, Some(&to_home)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(app.snapshot(&admin).await, before);

    // The order in the customer's list and on its own.
    let orders = json_body(app.get("/orders", Some(token)).await, StatusCode::OK).await;
    assert_eq!(ids(&orders["items"]), vec![order_id.clone()], "{orders}");
    assert_eq!(orders["next_cursor"], Value::Null);
    let fetched = json_body(
        app.get(&format!("/orders/{order_id}"), Some(token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fetched, order);

    // Admin: an illegal jump is refused; a payment of the exact total marks the order paid.
    let status_path = format!("/admin/orders/{order_id}/status");
    assert_problem(
        app.patch(&status_path, Some(&admin), &json!({ "status": "shipped" }))
            .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    )
    .await;
    assert_eq!(
        order_status(&app, token, &order_id).await,
        "pending_payment"
    );
    let payment = |amount_minor: i64, reference: &str| {
        json!({
            "order_id": order_id, "amount_minor": amount_minor, "currency": "USD",
            "provider": "manual", "reference": reference, "status": "succeeded",
        })
    };
    let short = assert_problem(
        app.post(
            "/admin/payments",
            Some(&admin),
            &payment(7_589, "txn-short"),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(short["errors"]["amount_minor"].is_array(), "{short}");
    assert_eq!(
        order_status(&app, token, &order_id).await,
        "pending_payment"
    );
    let paid = json_body(
        app.post("/admin/payments", Some(&admin), &payment(7_590, "txn-1"))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(paid["amount"]["amount_minor"], 7_590);
    assert_eq!(order_status(&app, token, &order_id).await, "paid");
    let payments = json_body(
        app.get(&format!("/orders/{order_id}/payments"), Some(token))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&payments), vec![text(&paid, "id")]);

    // Once fulfilment starts, the customer can no longer cancel.
    let fulfilling = json_body(
        app.patch(
            &status_path,
            Some(&admin),
            &json!({ "status": "fulfilling" }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fulfilling["status"], "fulfilling");
    assert_problem(
        app.post(
            &format!("/orders/{order_id}/cancel"),
            Some(token),
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "not_cancellable",
    )
    .await;
    assert_eq!(order_status(&app, token, &order_id).await, "fulfilling");
    assert_eq!(
        app.stock_of(&blue_mug).await,
        8,
        "nothing returned to stock"
    );

    // A second order, to the default address, cancelled while pending: the stock comes back.
    let second = app.place_order(token, &book, 2).await;
    let second_id = text(&second, "id");
    assert_eq!(second["shipping_address"]["recipient"], "Ada at home");
    assert_eq!(app.stock_of(&book).await, 5);
    let cancelled = json_body(
        app.post(
            &format!("/orders/{second_id}/cancel"),
            Some(token),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(app.stock_of(&book).await, 7);
    assert_eq!(app.product("rust-book").await["stock"], 7);

    // Every step is in the history.
    assert_eq!(
        history(&app, token, &order_id).await,
        vec![
            (None, "pending_payment".to_owned()),
            (Some("pending_payment".to_owned()), "paid".to_owned()),
            (Some("paid".to_owned()), "fulfilling".to_owned()),
        ]
    );
    assert_eq!(
        history(&app, token, &second_id).await,
        vec![
            (None, "pending_payment".to_owned()),
            (Some("pending_payment".to_owned()), "cancelled".to_owned()),
        ]
    );
    let orders = json_body(app.get("/orders", Some(token)).await, StatusCode::OK).await;
    assert_eq!(
        ids(&orders["items"]),
        vec![second_id.clone(), order_id.clone()]
    );

    // Sales figures: both orders placed today; only the live one counts as revenue, and the
    // best seller is the mug (the cancelled books don't count).
    let stats = json_body(app.get("/admin/stats", Some(&admin)).await, StatusCode::OK).await;
    let days = stats["days"].as_array().expect("days");
    let placed: i64 = days.iter().filter_map(|day| day["orders"].as_i64()).sum();
    assert_eq!(placed, 2, "{stats}");
    let revenue: i64 = days
        .iter()
        .filter_map(|day| day["revenue_minor"].as_i64())
        .sum();
    assert_eq!(revenue, 7_590, "{stats}");
    let today = chrono::Utc::now().date_naive().to_string();
    assert!(
        days.iter().any(|day| day["day"] == today.as_str()),
        "{stats}"
    );
    assert_eq!(
        stats["top_products"][0]["product_id"], catalog.blue_mug["id"],
        "{stats}"
    );
    assert_eq!(stats["top_products"][0]["units"], 2, "{stats}");

    sessions_rotate_and_end(&app, &session.refresh_token).await;
}

/// A client that retries a checkout (the same key) — at the same time, or later with more in
/// the cart — gets the one order it placed, and pays for it once.
async fn retries_of_one_checkout_buy_once_even_when_concurrent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let mug = text(
        &app.create_product(&admin, "Blue Mug", 1_200, 10, None)
            .await,
        "id",
    );
    let pen = text(
        &app.create_product(&admin, "Pen", 250, 10, None).await,
        "id",
    );
    let token = app.register_and_login("ada@example.com").await;
    app.add_address(&token, "Ada").await;
    app.add_to_cart(&token, &mug, 3).await;

    let attempt = || async {
        let response = app.checkout_request(&token, "retried-key", None).await;
        let replayed = header(response.headers(), "idempotent-replayed") == "true";
        (replayed, json_body(response, StatusCode::CREATED).await)
    };
    let answers = {
        let (a, b, c, d) = tokio::join!(attempt(), attempt(), attempt(), attempt());
        [a, b, c, d]
    };
    let first = &answers[0].1;
    for (_, order) in &answers {
        assert_eq!(order["id"], first["id"], "one order for one key");
    }
    let fresh = answers.iter().filter(|(replayed, _)| !replayed).count();
    assert_eq!(fresh, 1, "exactly one answer placed the order");
    assert_eq!(app.stock_of(&mug).await, 7, "three mugs sold, once");

    // A retry after the cart was refilled still answers with the original order, and leaves
    // the new cart alone.
    app.add_to_cart(&token, &pen, 2).await;
    let (replayed, order) = attempt().await;
    assert!(replayed);
    assert_eq!(order["id"], first["id"]);
    assert_eq!(order["items"].as_array().map(Vec::len), Some(1), "{order}");
    assert_eq!(app.stock_of(&pen).await, 10);
    let cart = json_body(app.get("/cart", Some(&token)).await, StatusCode::OK).await;
    assert_eq!(quantity_of(&cart, &pen), 2, "{cart}");
    let orders = json_body(app.get("/orders", Some(&token)).await, StatusCode::OK).await;
    assert_eq!(ids(&orders["items"]), vec![text(first, "id")]);
}

/// Carts are promises of nothing: when the last unit was sold to someone else, or the product
/// was taken off sale, checkout says so, and neither the cart nor the stock changes.
async fn checkout_refuses_what_can_no_longer_be_sold(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let last_one = text(
        &app.create_product(&admin, "Last Mug", 1_200, 1, None).await,
        "id",
    );
    let retired = text(
        &app.create_product(&admin, "Old Mug", 900, 5, None).await,
        "id",
    );
    let ada = app.register_and_login("ada@example.com").await;
    let bob = app.register_and_login("bob@example.com").await;
    app.add_to_cart(&ada, &last_one, 1).await;
    app.add_to_cart(&bob, &last_one, 1).await;
    app.checkout(&ada).await;
    assert_eq!(app.stock_of(&last_one).await, 0);

    let bob_before = app.customer_state(&bob).await;
    let problem = assert_problem(
        app.checkout_request(&bob, "bob-1", None).await,
        StatusCode::CONFLICT,
        "insufficient_stock",
    )
    .await;
    assert_eq!(
        problem["product_id"].as_str(),
        Some(last_one.as_str()),
        "{problem}"
    );
    assert_eq!(problem["available"], 0, "{problem}");
    assert_eq!(problem["requested"], 1, "{problem}");
    assert_eq!(
        app.customer_state(&bob).await,
        bob_before,
        "the cart is kept"
    );

    json_body(
        app.delete(
            &format!(
                "/cart/items/{}",
                text(&bob_before["/cart"]["items"][0], "id")
            ),
            Some(&bob),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    app.add_to_cart(&bob, &retired, 2).await;
    json_body(
        app.delete(&format!("/admin/products/{retired}"), Some(&admin))
            .await,
        StatusCode::OK,
    )
    .await;
    let bob_before = app.customer_state(&bob).await;
    assert_eq!(
        bob_before["/cart"]["items"][0]["available"], false,
        "{bob_before}"
    );
    assert_problem(
        app.checkout_request(&bob, "bob-2", None).await,
        StatusCode::CONFLICT,
        "product_unavailable",
    )
    .await;
    assert_eq!(app.customer_state(&bob).await, bob_before);
    assert_eq!(app.stock_of(&retired).await, 5);
}
