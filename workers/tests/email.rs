//! The email worker against real databases: over SMTP to a sink listening in the test, once per
//! event, to `.eml` files without an SMTP server, its settings' errors from the binary, and the
//! real `shop-workers --only email` fed through RabbitMQ.

mod support;

use std::{path::PathBuf, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::Utc;
use lettre::message::Mailbox;
use mail_parser::{MessageParser, MimeHeaders as _};
use shop_core::{
    adapters::{
        self,
        sql::{Db, Sql},
    },
    config::DatabaseUrl,
    domain::{OrderId, ProductId, UserId},
};
use shop_testing::smtp::SmtpSink;
use shop_workers::{
    email::{Delivery, Email, InvoiceFiles, Settings},
    handler::{Handler, HandlerError},
    invoice::InvoiceStore,
};
use support::{broker, data, database, event, eventually, order_placed, publish};

/// Mailer settings that deliver to `sink` over plain SMTP.
fn smtp_to(sink: &SmtpSink) -> Settings {
    Settings {
        delivery: Delivery::Smtp {
            host: sink.addr().ip().to_string(),
            port: sink.addr().port(),
            credentials: None,
            starttls: false,
        },
        from: "Shop <orders@shop.test>".parse().expect("a mailbox"),
    }
}

/// Adds a customer to `users`, either backend.
async fn user(db: &Db, email: &str, name: &str) -> UserId {
    let id = UserId::new();
    let now = Utc::now();
    Sql::new(
        "INSERT INTO users (id, email, full_name, role, password_hash, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, 'customer', 'not a hash', $4, $5, $5)",
    )
    .bind(id.as_uuid())
    .bind(email)
    .bind(name)
    .bind(false)
    .bind(now)
    .execute(db)
    .await
    .expect("insert a user");
    id
}

fn order_id(event: &shop_core::messaging::CloudEvent) -> String {
    event.data["order_id"]
        .as_str()
        .expect("an order id")
        .to_owned()
}

fn parse(bytes: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(bytes)
        .expect("an RFC 5322 message")
}

fn to_address(message: &mail_parser::Message<'_>) -> String {
    message
        .to()
        .and_then(|to| to.first())
        .and_then(|to| to.address())
        .expect("a To address")
        .to_owned()
}

#[tokio::test]
async fn the_order_confirmation_reaches_the_smtp_server_once() {
    let (_database, db) = database().await;
    let sink = SmtpSink::start().await;
    let email = Email::new(data(&db), &smtp_to(&sink)).expect("the handler");
    let customer = user(&db, "ada@example.com", "Ada Lovelace").await;
    let order = order_placed(
        customer,
        "EUR",
        &[
            (ProductId::new(), "TEA-1", 2, 450),
            (ProductId::new(), "MUG-2", 1, 334),
        ],
        Utc::now(),
    );

    email.handle(&order).await.expect("sent");
    email.handle(&order).await.expect("a duplicate is fine");

    let received = sink.received();
    assert_eq!(received.len(), 1, "one email for the same event twice");
    assert_eq!(received[0].from, "orders@shop.test");
    assert_eq!(received[0].to, ["ada@example.com"]);
    let message = parse(&received[0].data);
    let number = order_id(&order);
    assert_eq!(
        message.subject(),
        Some(format!("Order confirmation {number}").as_str())
    );
    assert_eq!(to_address(&message), "ada@example.com");
    let text = message
        .body_text(0)
        .expect("a plain-text body")
        .replace("\r\n", "\n");
    assert!(
        text.contains(&format!("Order number: {number}\n")),
        "{text}"
    );
    assert!(
        text.contains("2 x TEA-1 (TEA-1) at 4.50 EUR: 9.00 EUR\n"),
        "{text}"
    );
    assert!(
        text.contains("1 x MUG-2 (MUG-2) at 3.34 EUR: 3.34 EUR\n"),
        "{text}"
    );
    assert!(text.contains("Subtotal: 12.34 EUR\n"), "{text}");
    assert!(text.contains("Tax: 0.00 EUR\n"), "{text}");
    assert!(text.contains("Total: 12.34 EUR\n"), "{text}");
    let html = message.body_html(0).expect("an HTML body");
    assert!(html.contains("<strong>12.34 EUR</strong>"), "{html}");
    assert!(
        message
            .message_id()
            .is_some_and(|id| id.starts_with(&order.id)),
        "the Message-ID carries the event id"
    );
    assert!(
        data(&db)
            .is_processed("email", &order.id)
            .await
            .expect("read")
    );
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_retried_and_the_retry_sends() {
    let (_database, db) = database().await;
    let customer = user(&db, "grace@example.com", "Grace Hopper").await;
    let registered = event(
        "dev.shop.user.registered.v1",
        format!("users/{customer}"),
        Utc::now(),
        serde_json::json!({ "user_id": customer, "email": "grace@example.com", "full_name": "Grace Hopper" }),
    );
    // A port nobody listens on: bind one, then free it.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        listener.local_addr().expect("address")
    };
    let mut settings = smtp_to(&SmtpSink::start().await);
    settings.delivery = Delivery::Smtp {
        host: closed.ip().to_string(),
        port: closed.port(),
        credentials: None,
        starttls: false,
    };
    let down = Email::new(data(&db), &settings).expect("the handler");
    let error = down.handle(&registered).await.expect_err("no server");
    assert!(matches!(error, HandlerError::Retry(_)), "{error}");
    assert!(
        !data(&db)
            .is_processed("email", &registered.id)
            .await
            .expect("read")
    );

    let sink = SmtpSink::start().await;
    let up = Email::new(data(&db), &smtp_to(&sink)).expect("the handler");
    up.handle(&registered).await.expect("sent on retry");
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(parse(&received[0].data).subject(), Some("Welcome to Shop"));
}

#[tokio::test]
async fn an_unknown_user_is_rejected_and_other_status_changes_send_nothing() {
    let (_database, db) = database().await;
    let sink = SmtpSink::start().await;
    let email = Email::new(data(&db), &smtp_to(&sink)).expect("the handler");
    let stranger = UserId::new();
    let order = OrderId::new();
    let paid = event(
        "dev.shop.order.paid.v1",
        format!("orders/{order}"),
        Utc::now(),
        serde_json::json!({
            "order_id": order, "user_id": stranger, "payment_id": uuid::Uuid::now_v7(),
            "amount_minor": 1_000, "currency": "USD"
        }),
    );
    let error = email.handle(&paid).await.expect_err("nobody to write to");
    assert!(
        matches!(&error, HandlerError::Reject(error) if error.to_string().contains("does not exist")),
        "{error}"
    );

    let customer = user(&db, "alan@example.com", "Alan Turing").await;
    let changed = |to: &str| {
        event(
            "dev.shop.order.status_changed.v1",
            format!("orders/{order}"),
            Utc::now(),
            serde_json::json!({ "order_id": order, "user_id": customer, "from": "paid", "to": to }),
        )
    };
    email
        .handle(&changed("fulfilling"))
        .await
        .expect("nothing to send");
    assert!(sink.received().is_empty());
    email.handle(&changed("shipped")).await.expect("sent");
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        parse(&received[0].data).subject(),
        Some(format!("Shipped: order {order}").as_str())
    );
}

/// Invoice PDFs from memory, standing in for the blob store.
#[derive(Debug)]
struct FakeInvoices;

#[async_trait]
impl InvoiceFiles for FakeInvoices {
    async fn fetch(
        &self,
        location: &str,
    ) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        if location != "file:///invoices/INV-7.pdf" {
            return Err(format!("no file at {location}").into());
        }
        Ok(b"%PDF-1.4 fake".to_vec())
    }
}

#[tokio::test]
async fn the_invoice_carries_its_pdf() {
    let (_database, db) = database().await;
    let sink = SmtpSink::start().await;
    let email = Email::new(data(&db), &smtp_to(&sink))
        .expect("the handler")
        .with_invoice_files(Arc::new(FakeInvoices));
    let customer = user(&db, "ada@example.com", "Ada Lovelace").await;
    let order = OrderId::new();
    let invoice = |location: &str| {
        event(
            "dev.shop.invoice.created.v1",
            format!("orders/{order}"),
            Utc::now(),
            serde_json::json!({
                "order_id": order, "user_id": customer, "invoice_number": "INV-7",
                "location": location
            }),
        )
    };
    let missing = email
        .handle(&invoice("file:///invoices/elsewhere.pdf"))
        .await
        .expect_err("no PDF there");
    assert!(matches!(missing, HandlerError::Retry(_)), "{missing}");
    assert!(sink.received().is_empty());

    email
        .handle(&invoice("file:///invoices/INV-7.pdf"))
        .await
        .expect("sent");
    let received = sink.received();
    assert_eq!(received.len(), 1);
    let message = parse(&received[0].data);
    assert_eq!(
        message.subject(),
        Some(format!("Invoice INV-7 for order {order}").as_str())
    );
    let attachment = message.attachment(0).expect("an attachment");
    assert_eq!(attachment.attachment_name(), Some("invoice-INV-7.pdf"));
    assert_eq!(attachment.contents(), b"%PDF-1.4 fake");
    let text = message
        .body_text(0)
        .expect("a plain-text body")
        .replace("\r\n", "\n");
    assert!(text.contains("The PDF is attached."), "{text}");
}

#[tokio::test]
async fn the_invoice_pdf_is_read_from_the_invoice_store() {
    let (_database, db) = database().await;
    let folder = tempfile::tempdir().expect("a temporary folder");
    let store = InvoiceStore::local(folder.path()).expect("a local invoice store");
    let location = store
        .put("INV-2026-000009", b"%PDF-1.4 stored".to_vec())
        .await
        .expect("store the PDF");
    let sink = SmtpSink::start().await;
    let email = Email::new(data(&db), &smtp_to(&sink))
        .expect("the handler")
        .with_invoice_files(Arc::new(shop_workers::invoice::InvoiceReader::default()));
    let customer = user(&db, "ada@example.com", "Ada Lovelace").await;
    let order = OrderId::new();
    let invoice = event(
        "dev.shop.invoice.created.v1",
        format!("orders/{order}"),
        Utc::now(),
        serde_json::json!({
            "order_id": order, "user_id": customer, "invoice_number": "INV-2026-000009",
            "location": location
        }),
    );
    email.handle(&invoice).await.expect("sent");
    let received = sink.received();
    assert_eq!(received.len(), 1);
    let message = parse(&received[0].data);
    let attachment = message.attachment(0).expect("an attachment");
    assert_eq!(
        attachment.attachment_name(),
        Some("invoice-INV-2026-000009.pdf")
    );
    assert_eq!(attachment.contents(), b"%PDF-1.4 stored");
}

#[tokio::test]
async fn without_an_smtp_server_mail_is_written_to_eml_files_on_sqlite() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let url = DatabaseUrl::parse(&format!(
        "sqlite://{}",
        folder.path().join("shop.db").display()
    ))
    .expect("a database URL");
    adapters::connect_and_migrate(&url, 1)
        .await
        .expect("migrate SQLite");
    let db = Db::connect(&url, 2).await.expect("open SQLite");
    let mail = folder.path().join("mail");
    let mail_dir = mail.display().to_string();
    let settings =
        Settings::from_lookup(|name| (name == "SHOP_MAIL_DIR").then(|| mail_dir.clone()))
            .expect("settings");
    let email = Email::new(data(&db), &settings).expect("the handler");
    let customer = user(&db, "ada@example.com", "Ada Lovelace").await;
    let registered = event(
        "dev.shop.user.registered.v1",
        format!("users/{customer}"),
        Utc::now(),
        serde_json::json!({ "user_id": customer, "email": "ada@example.com", "full_name": "Ada Lovelace" }),
    );

    email.handle(&registered).await.expect("written");
    email
        .handle(&registered)
        .await
        .expect("a duplicate is fine");

    let files: Vec<PathBuf> = std::fs::read_dir(&mail)
        .expect("the mail folder")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    assert_eq!(
        files,
        [mail.join(format!("{}-welcome.eml", registered.id))],
        "one file, named after the event and the template"
    );
    let bytes = std::fs::read(&files[0]).expect("read the file");
    let message = parse(&bytes);
    assert_eq!(to_address(&message), "ada@example.com");
    assert_eq!(message.subject(), Some("Welcome to Shop"));
    let text = message
        .body_text(0)
        .expect("a plain-text body")
        .replace("\r\n", "\n");
    assert!(text.contains("Welcome, Ada Lovelace!"), "{text}");
    let from: Mailbox = shop_workers::email::DEFAULT_FROM
        .parse()
        .expect("a mailbox");
    assert_eq!(
        message
            .from()
            .and_then(|from| from.first())
            .and_then(|from| from.address()),
        Some(from.email.to_string().as_str())
    );
}

#[tokio::test]
async fn a_wrong_smtp_port_stops_the_binary_naming_the_variable() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let database = format!("sqlite://{}", folder.path().join("shop.db").display());
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_shop-workers"))
            .env_clear()
            .env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
            .env("DATABASE_URL", &database)
            .env("SHOP_SMTP_HOST", "127.0.0.1")
            .env("SHOP_SMTP_FROM", "shop@example.com")
            .env("SHOP_SMTP_PORT", "smtp")
            .args(["--only", "email", "--metrics-addr", "127.0.0.1:0"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("shop-workers stops")
    .expect("run shop-workers");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("SHOP_SMTP_PORT"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_sends_the_confirmation_of_an_order_published_to_rabbitmq() {
    let (database, db) = database().await;
    let (vhost, _connection, channel) = broker().await;
    let sink = SmtpSink::start().await;
    let customer = user(&db, "ada@example.com", "Ada Lovelace").await;
    let order = order_placed(
        customer,
        "USD",
        &[(ProductId::new(), "TEA-1", 1, 1_234)],
        Utc::now(),
    );
    let port = sink.addr().port().to_string();
    let mut workers = tokio::process::Command::new(env!("CARGO_BIN_EXE_shop-workers"))
        .env_clear()
        .env("AMQP_URL", vhost.url())
        .env("DATABASE_URL", database.url())
        .env("SHOP_SMTP_HOST", "127.0.0.1")
        .env("SHOP_SMTP_PORT", &port)
        .env("SHOP_SMTP_STARTTLS", "false")
        .env("SHOP_SMTP_FROM", "Shop <orders@shop.test>")
        .args(["--only", "email", "--metrics-addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start shop-workers");
    publish(&channel, &order).await;
    publish(&channel, &order).await;

    let received = eventually(Duration::from_secs(30), "the confirmation", || {
        let sink = sink.clone();
        async move { (!sink.received().is_empty()).then(|| sink.received()) }
    })
    .await;
    eventually(Duration::from_secs(10), "the event recorded", || {
        let (db, id) = (db.clone(), order.id.clone());
        async move {
            data(&db)
                .is_processed("email", &id)
                .await
                .ok()?
                .then_some(())
        }
    })
    .await;
    // The second delivery follows the first on the same queue; give it time to be handled (and,
    // were the worker not idempotent, to reach the sink).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.received().len(), 1);
    let message = parse(&received[0].data);
    assert_eq!(
        message.subject(),
        Some(format!("Order confirmation {}", order_id(&order)).as_str())
    );
    let text = message
        .body_text(0)
        .expect("a plain-text body")
        .replace("\r\n", "\n");
    assert!(text.contains("Total: 12.34 USD\n"), "{text}");
    workers.start_kill().expect("stop shop-workers");
    let _ = workers.wait().await;
}

/// Stores a product per line, an order and its lines (either backend), and returns the
/// `order.placed` event of that order.
async fn stored_order(
    db: &Db,
    customer: UserId,
    lines: &[(&str, &str, i64, i64)],
) -> shop_core::messaging::CloudEvent {
    let now = Utc::now();
    let order = OrderId::new();
    let total: i64 = lines
        .iter()
        .map(|(_, _, quantity, price)| quantity * price)
        .sum();
    let mut items = Vec::new();
    for (sku, name, _, price) in lines {
        let product = ProductId::new();
        Sql::new(
            "INSERT INTO products (id, sku, name, name_key, slug, description, price_minor, \
             currency, stock, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, '', $6, 'EUR', 10, $7, $8, $8)",
        )
        .bind(product.as_uuid())
        .bind(*sku)
        .bind(*name)
        .bind(name.to_lowercase())
        .bind(sku.to_lowercase())
        .bind(*price)
        .bind(true)
        .bind(now)
        .execute(db)
        .await
        .expect("insert a product");
        items.push(product);
    }
    Sql::new(
        "INSERT INTO orders (id, user_id, status, currency, subtotal_minor, tax_minor, \
         total_minor, placed_at, updated_at) \
         VALUES ($1, $2, 'pending_payment', 'EUR', $3, 0, $3, $4, $4)",
    )
    .bind(order.as_uuid())
    .bind(customer.as_uuid())
    .bind(total)
    .bind(now)
    .execute(db)
    .await
    .expect("insert an order");
    for (line_no, ((sku, name, quantity, price), product)) in lines.iter().zip(&items).enumerate() {
        Sql::new(
            "INSERT INTO order_items (order_id, line_no, product_id, sku, name, \
             unit_price_minor, quantity, line_total_minor) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(order.as_uuid())
        .bind(i64::try_from(line_no).expect("a line number"))
        .bind(product.as_uuid())
        .bind(*sku)
        .bind(*name)
        .bind(*price)
        .bind(*quantity)
        .bind(quantity * price)
        .execute(db)
        .await
        .expect("insert an order line");
    }
    let lines: Vec<(ProductId, &str, i64, i64)> = lines
        .iter()
        .zip(&items)
        .map(|((sku, _, quantity, price), product)| (*product, *sku, *quantity, *price))
        .collect();
    let mut placed = order_placed(customer, "EUR", &lines, now);
    placed.subject = format!("orders/{order}");
    placed.data["order_id"] = serde_json::json!(order);
    placed
}

/// The confirmation names the products as the order stored them.
async fn confirmation_names_the_products(db: &Db) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let mail_dir = folder.path().display().to_string();
    let settings =
        Settings::from_lookup(|name| (name == "SHOP_MAIL_DIR").then(|| mail_dir.clone()))
            .expect("settings");
    let email = Email::new(data(db), &settings).expect("the handler");
    let customer = user(db, "ada@example.com", "Ada Lovelace").await;
    let placed = stored_order(
        db,
        customer,
        &[
            ("TEA-1", "Earl Grey", 2, 450),
            ("MUG-2", "Mug & Saucer", 1, 334),
        ],
    )
    .await;
    email.handle(&placed).await.expect("written");
    let bytes = std::fs::read(
        folder
            .path()
            .join(format!("{}-order_placed.eml", placed.id)),
    )
    .expect("the .eml file");
    let message = parse(&bytes);
    let text = message
        .body_text(0)
        .expect("a plain-text body")
        .replace("\r\n", "\n");
    assert!(
        text.contains("2 x Earl Grey (TEA-1) at 4.50 EUR: 9.00 EUR\n"),
        "{text}"
    );
    assert!(
        text.contains("1 x Mug & Saucer (MUG-2) at 3.34 EUR: 3.34 EUR\n"),
        "{text}"
    );
    assert!(text.contains("Total: 12.34 EUR\n"), "{text}");
    let html = message.body_html(0).expect("an HTML body");
    assert!(html.contains("Mug &amp; Saucer"), "{html}");
}

#[tokio::test]
async fn the_confirmation_names_the_products_on_postgres() {
    let (_database, db) = database().await;
    confirmation_names_the_products(&db).await;
}

#[tokio::test]
async fn the_confirmation_names_the_products_on_sqlite() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let url = DatabaseUrl::parse(&format!(
        "sqlite://{}",
        folder.path().join("shop.db").display()
    ))
    .expect("a database URL");
    adapters::connect_and_migrate(&url, 1)
        .await
        .expect("migrate SQLite");
    let db = Db::connect(&url, 2).await.expect("open SQLite");
    confirmation_names_the_products(&db).await;
}

/// Events that carry the readable order number name the order by it (subject and body); the
/// confirmation still finds the product names by the order's id.
async fn emails_name_the_order_by_its_number(db: &Db) {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let mail_dir = folder.path().display().to_string();
    let settings =
        Settings::from_lookup(|name| (name == "SHOP_MAIL_DIR").then(|| mail_dir.clone()))
            .expect("settings");
    let email = Email::new(data(db), &settings).expect("the handler");
    let customer = user(db, "ada@example.com", "Ada Lovelace").await;
    let mut placed = stored_order(db, customer, &[("TEA-1", "Earl Grey", 2, 450)]).await;
    placed.data["order_number"] = serde_json::json!("SO-2026-000042");
    let id = order_id(&placed);
    let shipped = event(
        "dev.shop.order.status_changed.v1",
        format!("orders/{id}"),
        Utc::now(),
        serde_json::json!({
            "order_id": id, "order_number": "SO-2026-000042", "user_id": customer,
            "from": "fulfilling", "to": "shipped"
        }),
    );
    email.handle(&placed).await.expect("confirmation written");
    email.handle(&shipped).await.expect("shipping note written");

    let read = |event: &shop_core::messaging::CloudEvent, template: &str| {
        std::fs::read(folder.path().join(format!("{}-{template}.eml", event.id)))
            .expect("the .eml file")
    };
    let bytes = read(&placed, "order_placed");
    let message = parse(&bytes);
    assert_eq!(message.subject(), Some("Order confirmation SO-2026-000042"));
    let text = message
        .body_text(0)
        .expect("a plain-text body")
        .replace("\r\n", "\n");
    assert!(text.contains("Order number: SO-2026-000042\n"), "{text}");
    assert!(!text.contains(&id), "the id is not shown: {text}");
    assert!(
        text.contains("2 x Earl Grey (TEA-1) at 4.50 EUR: 9.00 EUR\n"),
        "{text}"
    );
    let bytes = read(&shipped, "order_shipped");
    let message = parse(&bytes);
    assert_eq!(message.subject(), Some("Shipped: order SO-2026-000042"));
    let text = message
        .body_text(0)
        .expect("a plain-text body")
        .replace("\r\n", "\n");
    assert!(text.contains("Order SO-2026-000042 has shipped"), "{text}");
}

#[tokio::test]
async fn emails_name_the_order_by_its_number_on_postgres() {
    let (_database, db) = database().await;
    emails_name_the_order_by_its_number(&db).await;
}
