//! The invoice of an order placed with a coupon prints the discount between the subtotal and
//! the tax (on SQLite; the stored order is read the same way on Postgres, see `invoice.rs`).

use std::sync::Arc;

use shop_core::{
    adapters::{
        self,
        sql::{Db, SqlStore},
    },
    app::{
        Actor, AddToCart, Checkout, CouponInput, CreateProduct, RecordPayment, RegisterUser, Shop,
        ShopSettings, WorkerData,
    },
    config::DatabaseUrl,
    domain::TaxRate,
    messaging::CloudEvent,
    ports::InvoiceStore as _,
};
use shop_workers::{
    handler::Handler as _,
    invoice::{InvoiceStore, Invoices, seller_lines},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invoice_shows_the_coupon_discount() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = DatabaseUrl::parse(&format!("sqlite://{}/shop.db", dir.path().display()))
        .expect("an SQLite URL");
    let store = adapters::connect_and_migrate(&url, 2)
        .await
        .expect("migrate");
    let tax_rate = TaxRate::from_basis_points(1_000).expect("a tax rate");
    let shop = Shop::new(store, ShopSettings { tax_rate });
    let db = Db::connect(&url, 2).await.expect("the workers' pool");

    let user = shop
        .register_user(
            &Actor::System,
            RegisterUser {
                email: "ada@example.com".to_owned(),
                password: "correct horse battery".to_owned(),
                full_name: "Ada Lovelace".to_owned(),
                role: None,
            },
        )
        .await
        .expect("register");
    let actor = Actor::user(user.id, user.role);
    let product = shop
        .create_product(
            &Actor::System,
            CreateProduct {
                sku: "MUG-1".to_owned(),
                name: "Mug".to_owned(),
                price_minor: 2_000,
                currency: "USD".to_owned(),
                stock: Some(10),
                ..CreateProduct::default()
            },
        )
        .await
        .expect("a product");
    shop.create_coupon(
        &Actor::System,
        CouponInput {
            code: "FIVER".to_owned(),
            kind: "fixed".to_owned(),
            amount: 500,
            currency: Some("USD".to_owned()),
            ..CouponInput::default()
        },
    )
    .await
    .expect("a coupon");
    shop.add_to_cart(
        &actor,
        AddToCart {
            product_id: product.id.to_string(),
            quantity: 2,
        },
    )
    .await
    .expect("add to the cart");
    shop.apply_coupon(&actor, "fiver").await.expect("apply");
    let order = shop
        .checkout(
            &actor,
            Checkout {
                idempotency_key: "k-1".to_owned(),
                ..Checkout::default()
            },
        )
        .await
        .expect("checkout")
        .order;
    // 40.00 - 5.00 = 35.00, 10 % tax on that: 3.50.
    assert_eq!(order.total.amount_minor(), 3_850);
    shop.record_payment(
        &Actor::System,
        RecordPayment {
            order_id: order.id.to_string(),
            amount_minor: order.total.amount_minor(),
            currency: "USD".to_owned(),
            provider: "test".to_owned(),
            reference: "txn-1".to_owned(),
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
        .find(|event| event.event_type == "dev.shop.order.paid.v1")
        .expect("an OrderPaid event");

    let files = InvoiceStore::local(dir.path().join("files")).expect("the invoice folder");
    let worker = Invoices::new(
        WorkerData::new(Arc::new(SqlStore::new(db.clone()))),
        files.clone(),
        seller_lines("Shop"),
    );
    worker
        .handle(&CloudEvent::from_outbox(&paid))
        .await
        .expect("handled");
    let record = SqlStore::new(db)
        .find_invoice(order.id)
        .await
        .expect("read the invoices")
        .expect("an invoice");
    let bytes = files.fetch(&record.location).await.expect("fetch");
    let document = lopdf::Document::load_mem(&bytes).expect("a readable PDF");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let text = document.extract_text(&pages).expect("extractable text");
    for expected in [
        "Subtotal",
        "40.00 USD",
        "Discount (FIVER)",
        "-5.00 USD",
        "3.50 USD",
        "38.50 USD",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
}
