//! The invoice worker on Postgres: a paid order gets one invoice (numbered, stored as a PDF whose
//! text carries the number and the total, announced in the outbox), however often `OrderPaid`
//! arrives.

use chrono::{Datelike as _, Utc};
use secrecy::SecretString;
use std::sync::Arc;

use shop_core::{
    adapters::{
        self,
        sql::{Db, SqlStore},
    },
    app::{
        Actor, AddToCart, AddressInput, AuthSettings, Checkout, CreateProduct, RecordPayment,
        RegisterUser, Shop, ShopSettings, WorkerData,
    },
    config::DatabaseUrl,
    domain::{Order, OrderId, TaxRate},
    messaging::CloudEvent,
    ports::{InvoiceRecord, InvoiceStore as _, StoreResult},
};
use shop_testing::PgDatabase;
use shop_workers::{
    handler::Handler as _,
    invoice::{InvoiceStore, Invoices, seller_lines},
};

/// The workers' way into the shop's data, on the test database.
fn data(db: &Db) -> WorkerData {
    WorkerData::new(Arc::new(SqlStore::new(db.clone())))
}

/// The invoice of `order`, as the API's download route reads it.
async fn find(db: &Db, order: OrderId) -> StoreResult<Option<InvoiceRecord>> {
    SqlStore::new(db.clone()).find_invoice(order).await
}

/// A shop with 10 % tax on a fresh Postgres database, and the workers' pool on it.
async fn shop() -> (PgDatabase, Shop, Db) {
    let database = PgDatabase::create().await;
    let url = DatabaseUrl::parse(database.url()).expect("a database URL");
    let (shop, db) = shop_on(&url).await;
    (database, shop, db)
}

async fn shop_on(url: &DatabaseUrl) -> (Shop, Db) {
    let store = adapters::connect_and_migrate(url, 2)
        .await
        .expect("migrate the test database");
    let tax_rate = TaxRate::from_basis_points(1_000).expect("a tax rate");
    let shop = Shop::new(store, ShopSettings { tax_rate })
        .with_auth(AuthSettings::new(SecretString::from("x".repeat(32))));
    let db = Db::connect(url, 5).await.expect("the workers' pool");
    (shop, db)
}

/// Registers `email`, gives them a default address, orders 3 × a product and pays: the
/// `OrderPaid` event the relay would deliver.
async fn paid_order(shop: &Shop, email: &str, sku: &str) -> (Order, CloudEvent) {
    let user = shop
        .register_user(
            &Actor::System,
            RegisterUser {
                email: email.to_owned(),
                password: "correct horse battery".to_owned(),
                full_name: "Ada Lovelace".to_owned(),
                role: None,
            },
        )
        .await
        .expect("register");
    let actor = Actor::user(user.id, user.role);
    shop.add_address(
        &actor,
        AddressInput {
            recipient: "Ada Lovelace".to_owned(),
            line1: "12 St James's Square".to_owned(),
            line2: None,
            city: "London".to_owned(),
            region: None,
            postal_code: "SW1Y 4JH".to_owned(),
            country: "gb".to_owned(),
            phone: None,
            is_default: true,
        },
    )
    .await
    .expect("an address");
    let product = shop
        .create_product(
            &Actor::System,
            CreateProduct {
                sku: sku.to_owned(),
                name: "Analytical Engine mug".to_owned(),
                slug: Some(sku.to_lowercase()),
                description: None,
                price_minor: 1_999,
                currency: "USD".to_owned(),
                stock: Some(10),
                category_id: None,
                active: Some(true),
                weight_grams: None,
            },
        )
        .await
        .expect("a product");
    shop.add_to_cart(
        &actor,
        AddToCart {
            product_id: product.id.to_string(),
            quantity: 3,
        },
    )
    .await
    .expect("add to the cart");
    let order = shop
        .checkout(
            &actor,
            Checkout {
                idempotency_key: uuid::Uuid::new_v4().to_string(),
                shipping_address_id: None,
                shipping_method_id: None,
            },
        )
        .await
        .expect("checkout")
        .order;
    shop.record_payment(
        &Actor::System,
        RecordPayment {
            order_id: order.id.to_string(),
            amount_minor: order.total.amount_minor(),
            currency: "USD".to_owned(),
            provider: "test".to_owned(),
            reference: format!("txn-{}", order.id),
            status: "succeeded".to_owned(),
            failure_reason: None,
        },
    )
    .await
    .expect("pay");
    let paid = shop
        .store()
        .pending_events(10_000)
        .await
        .expect("the outbox")
        .into_iter()
        .find(|event| {
            event.event_type == "dev.shop.order.paid.v1"
                && event.subject == format!("orders/{}", order.id)
        })
        .expect("an OrderPaid event");
    (order, CloudEvent::from_outbox(&paid))
}

async fn invoice_events(shop: &Shop) -> Vec<serde_json::Value> {
    shop.store()
        .pending_events(10_000)
        .await
        .expect("the outbox")
        .into_iter()
        .filter(|event| event.event_type == "dev.shop.invoice.created.v1")
        .map(|event| {
            let mut payload = event.payload;
            payload["subject"] = event.subject.into();
            payload
        })
        .collect()
}

fn pdf_text(bytes: &[u8]) -> String {
    let document = lopdf::Document::load_mem(bytes).expect("a readable PDF");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    document.extract_text(&pages).expect("extractable text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_gets_one_invoice_however_often_it_is_paid() {
    let (_database, shop, db) = shop().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = InvoiceStore::local(dir.path()).expect("the invoice folder");
    let worker = Invoices::new(
        data(&db),
        store.clone(),
        seller_lines("Test Shop Ltd|1 Commerce Way|Springfield"),
    );
    let (order, paid) = paid_order(&shop, "ada@example.com", "MUG-1").await;
    assert_eq!(order.total.amount_minor(), 5_997 + 600);

    worker.handle(&paid).await.expect("handled");
    worker.handle(&paid).await.expect("handled again");

    let year = Utc::now().year();
    let number = format!("INV-{year}-000001");
    let record = find(&db, order.id)
        .await
        .expect("read the invoices")
        .expect("an invoice");
    assert_eq!(record.invoice_number, number);
    let Db::Postgres(pool) = &db else {
        unreachable!()
    };
    let (invoices,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM invoices")
        .fetch_one(pool)
        .await
        .expect("count");
    assert_eq!(invoices, 1);

    let file = dir.path().join("invoices").join(format!("{number}.pdf"));
    let bytes = std::fs::read(&file).expect("the PDF is in the folder");
    assert!(bytes.starts_with(b"%PDF"));
    assert_eq!(record.size_bytes, i64::try_from(bytes.len()).expect("size"));
    assert_eq!(store.fetch(&record.location).await.expect("fetch"), bytes);
    assert_eq!(
        InvoiceStore::fetch_with(&record.location, None)
            .await
            .expect("fetch by location"),
        bytes
    );
    let text = pdf_text(&bytes);
    // The order's readable number is what the customer knows the order by.
    let order_number = order.number.to_string();
    assert!(order_number.starts_with("SO-"), "{order_number}");
    for expected in [
        number.as_str(),
        order_number.as_str(),
        "65.97 USD",
        "59.97 USD",
        "6.00 USD",
        "19.99 USD",
        "MUG-1",
        "Analytical Engine mug",
        "Test Shop Ltd",
        "SW1Y 4JH",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }

    let events = invoice_events(&shop).await;
    assert_eq!(events.len(), 1, "one InvoiceCreated: {events:?}");
    assert_eq!(events[0]["invoice_number"], number);
    assert_eq!(events[0]["order_id"], order.id.to_string());
    assert_eq!(events[0]["user_id"], order.user_id.to_string());
    assert_eq!(events[0]["location"], record.location);
    assert_eq!(events[0]["subject"], format!("orders/{}", order.id));

    // The next paid order takes the next number of the year.
    let (second, paid) = paid_order(&shop, "grace@example.com", "MUG-2").await;
    worker.handle(&paid).await.expect("handled");
    let record = find(&db, second.id)
        .await
        .expect("read the invoices")
        .expect("a second invoice");
    assert_eq!(record.invoice_number, format!("INV-{year}-000002"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_order_is_rejected_and_other_events_are_ignored() {
    let (_database, _shop, db) = shop().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let worker = Invoices::new(
        data(&db),
        InvoiceStore::local(dir.path()).expect("the invoice folder"),
        seller_lines("Shop"),
    );
    let mut event = CloudEvent {
        specversion: "1.0".into(),
        id: uuid::Uuid::now_v7().to_string(),
        source: "/shop-api".into(),
        event_type: "dev.shop.order.placed.v1".into(),
        subject: "orders/x".into(),
        time: Utc::now(),
        datacontenttype: "application/json".into(),
        data: serde_json::json!({}),
        traceparent: None,
        tracestate: None,
    };
    worker.handle(&event).await.expect("ignored");
    event.event_type = "dev.shop.order.paid.v1".into();
    assert!(matches!(
        worker.handle(&event).await,
        Err(shop_workers::handler::HandlerError::Reject(_))
    ));
    event.data = serde_json::json!({
        "order_id": uuid::Uuid::now_v7(), "user_id": uuid::Uuid::now_v7(),
        "payment_id": uuid::Uuid::now_v7(), "amount_minor": 1, "currency": "USD"
    });
    assert!(matches!(
        worker.handle(&event).await,
        Err(shop_workers::handler::HandlerError::Reject(_))
    ));
}

/// The embedded default's database: the same invoice, once, on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_work_on_sqlite_too() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = DatabaseUrl::parse(&format!("sqlite://{}/shop.db", dir.path().display()))
        .expect("an SQLite URL");
    let (shop, db) = shop_on(&url).await;
    let store = InvoiceStore::local(dir.path().join("files")).expect("the invoice folder");
    let worker = Invoices::new(data(&db), store.clone(), seller_lines("Shop"));
    let (order, paid) = paid_order(&shop, "ada@example.com", "MUG-1").await;
    worker.handle(&paid).await.expect("handled");
    worker.handle(&paid).await.expect("handled again");
    let record = find(&db, order.id)
        .await
        .expect("read the invoices")
        .expect("an invoice");
    assert_eq!(
        record.invoice_number,
        format!("INV-{}-000001", Utc::now().year())
    );
    let text = pdf_text(&store.fetch(&record.location).await.expect("fetch"));
    assert!(text.contains("65.97 USD"), "{text}");
    assert!(text.contains("SW1Y 4JH"), "{text}");
    assert!(text.contains(&order.number.to_string()), "{text}");
    assert_eq!(invoice_events(&shop).await.len(), 1);
}
