//! `GET /api/v1/orders/{id}/invoice` on Postgres: the invoice worker's PDF for the order's owner
//! and administrators, 404 for another customer and before the invoice exists, 401 signed out.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::ServiceExt as _;
use reqwest::{Client, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use shop_api::server::{AppState, Limits, router};
use shop_core::{
    adapters,
    app::{
        Actor, AddToCart, AuthSettings, Checkout, CreateProduct, RecordPayment, RegisterUser, Shop,
        ShopSettings, WorkerData,
    },
    config::DatabaseUrl,
    messaging::CloudEvent,
};
use shop_testing::PgDatabase;
use shop_workers::{
    handler::Handler as _,
    invoice::InvoiceReader,
    invoice::{InvoiceStore, Invoices, seller_lines},
};

const PASSWORD: &str = "correct horse battery";

async fn register(shop: &Shop, email: &str, role: &str) -> Actor {
    let user = shop
        .register_user(
            &Actor::System,
            RegisterUser {
                email: email.to_owned(),
                password: PASSWORD.to_owned(),
                full_name: email.to_owned(),
                role: Some(role.to_owned()),
            },
        )
        .await
        .expect("register");
    Actor::user(user.id, user.role)
}

async fn login(client: &Client, base: &str, email: &str) -> String {
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("a session");
    body["access_token"].as_str().expect("a token").to_owned()
}

async fn get(client: &Client, url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("a response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_and_admins_download_the_invoice_and_nobody_else() {
    let database = PgDatabase::create().await;
    let url = DatabaseUrl::parse(database.url()).expect("a database URL");
    let store = adapters::connect_and_migrate(&url, 5)
        .await
        .expect("migrate the test database");
    let shop = Shop::new(store, ShopSettings::default())
        .with_auth(AuthSettings::new(SecretString::from(
            "invoice-tests-secret-long-enough-for-hs256",
        )))
        .with_invoice_files(Arc::new(InvoiceReader::default()));
    let app = router(AppState::new(
        shop.clone(),
        Limits {
            rate_limit_per_minute: 0,
            webhook_rate_limit_per_minute: 0,
            trust_forwarded_for: false,
            request_timeout: Duration::from_secs(30),
            cors_allowed_origins: Vec::new(),
            maintenance_read_only: false,
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("the address"));
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    let client = Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");

    // Ada orders and pays.
    let ada = register(&shop, "ada@example.com", "customer").await;
    register(&shop, "eve@example.com", "customer").await;
    register(&shop, "ops@example.com", "admin").await;
    let product = shop
        .create_product(
            &Actor::System,
            CreateProduct {
                sku: "MUG-1".into(),
                name: "Mug".into(),
                slug: None,
                description: None,
                price_minor: 1_250,
                currency: "EUR".into(),
                stock: Some(5),
                category_id: None,
                active: Some(true),
                weight_grams: None,
            },
        )
        .await
        .expect("a product");
    shop.add_to_cart(
        &ada,
        AddToCart {
            product_id: product.id.to_string(),
            quantity: 2,
        },
    )
    .await
    .expect("add to the cart");
    let order = shop
        .checkout(
            &ada,
            Checkout {
                idempotency_key: "k1".into(),
                shipping_address_id: None,
                shipping_method_id: None,
            },
        )
        .await
        .expect("checkout")
        .order;
    let invoice_url = format!("{base}/api/v1/orders/{}/invoice", order.id);
    let ada_token = login(&client, &base, "ada@example.com").await;
    let eve_token = login(&client, &base, "eve@example.com").await;
    let ops_token = login(&client, &base, "ops@example.com").await;

    // Not paid, no invoice yet: a 404 problem.
    let response = get(&client, &invoice_url, Some(&ada_token)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let problem: Value = response.json().await.expect("a problem");
    assert_eq!(problem["status"], 404, "{problem}");

    shop.record_payment(
        &Actor::System,
        RecordPayment {
            order_id: order.id.to_string(),
            amount_minor: order.total.amount_minor(),
            currency: "EUR".into(),
            provider: "test".into(),
            reference: "txn-1".into(),
            status: "succeeded".into(),
            failure_reason: None,
        },
    )
    .await
    .expect("pay");
    let paid = shop
        .store()
        .pending_events(1_000)
        .await
        .expect("the outbox")
        .into_iter()
        .find(|event| event.event_type == "dev.shop.order.paid.v1")
        .expect("an OrderPaid event");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let worker = Invoices::new(
        WorkerData::new(shop.store().clone()),
        InvoiceStore::local(dir.path()).expect("the invoice folder"),
        seller_lines("Shop"),
    );
    worker
        .handle(&CloudEvent::from_outbox(&paid))
        .await
        .expect("the invoice is issued");

    for token in [&ada_token, &ops_token] {
        let response = get(&client, &invoice_url, Some(token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "application/pdf");
        let disposition = headers["content-disposition"].to_str().expect("ASCII");
        assert!(
            disposition.starts_with("attachment; filename=\"INV-")
                && disposition.ends_with("-000001.pdf\""),
            "{disposition}"
        );
        let bytes = response.bytes().await.expect("the PDF");
        assert!(bytes.starts_with(b"%PDF"));
    }
    let response = get(&client, &invoice_url, Some(&eve_token)).await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "another customer's order does not exist for them"
    );
    let response = get(&client, &invoice_url, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    server.abort();
}
