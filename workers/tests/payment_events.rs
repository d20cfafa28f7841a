//! Payment events as the shop writes them (a failed payment, a partial and a full refund, an
//! order whose payment time ran out), taken from the outbox and handed to the email and
//! notification workers twice each: every message and notification is made once, from the
//! payload core really writes.

mod support;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use chrono::{DateTime, TimeDelta, Utc};
use mail_parser::MessageParser;
use shop_core::{
    adapters::sql::{Db, SqlStore},
    app::{
        Actor, AddToCart, Checkout, CreateProduct, RecordPayment, RefundCommand, RegisterUser,
        Shop, ShopSettings,
    },
    domain::{Order, User},
    messaging::CloudEvent,
    ports::{Clock, NotificationQuery, NotificationStore as _, SystemClock},
};
use shop_testing::smtp::SmtpSink;
use shop_workers::{
    email::{Delivery, Email, Settings},
    handler::Handler,
    notification::{Notification, Notifications, webhook::Webhooks},
};
use support::{data, database, event};

/// A clock a day and an hour ahead: every order placed now is past the default 24 h timeout.
#[derive(Debug)]
struct DayLater;

impl Clock for DayLater {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + TimeDelta::hours(25)
    }
}

async fn customer(shop: &Shop) -> User {
    shop.register_user(
        &Actor::System,
        RegisterUser {
            email: "ada@example.com".into(),
            password: "correct horse battery".into(),
            full_name: "Ada Lovelace".into(),
            role: Some("customer".into()),
        },
    )
    .await
    .expect("register")
}

async fn order(shop: &Shop, user: &User, product: &str, key: &str) -> Order {
    let actor = Actor::user(user.id, user.role);
    shop.add_to_cart(
        &actor,
        AddToCart {
            product_id: product.to_owned(),
            quantity: 3,
        },
    )
    .await
    .expect("add to cart");
    shop.checkout(
        &actor,
        Checkout {
            idempotency_key: key.into(),
            shipping_address_id: None,
            shipping_method_id: None,
        },
    )
    .await
    .expect("checkout")
    .order
}

fn payment(order: &Order, reference: &str, status: &str) -> RecordPayment {
    RecordPayment {
        order_id: order.id.to_string(),
        amount_minor: order.total.amount_minor(),
        currency: "USD".into(),
        // Offline, so the refunds need no provider.
        provider: "manual".into(),
        reference: reference.into(),
        status: status.into(),
        failure_reason: Some("card declined".into()),
    }
}

/// What the shop wrote: `paid` failed once, then paid and was refunded in two parts; `expired`
/// ran out of payment time. The outbox's events, oldest first.
async fn shop_events(db: &Db) -> (User, Order, Order, Vec<CloudEvent>) {
    let shop = Shop::new(Arc::new(SqlStore::new(db.clone())), ShopSettings::default());
    let ada = customer(&shop).await;
    let product = shop
        .create_product(
            &Actor::System,
            CreateProduct {
                sku: "MUG-1".into(),
                name: "Mug".into(),
                price_minor: 1_000,
                currency: "USD".into(),
                stock: Some(10),
                ..CreateProduct::default()
            },
        )
        .await
        .expect("product");
    let paid = order(&shop, &ada, &product.id.to_string(), "first").await;
    let staff = Actor::System;
    for (reference, status) in [("try-1", "failed"), ("try-2", "succeeded")] {
        shop.record_payment(&staff, payment(&paid, reference, status))
            .await
            .expect("payment");
    }
    for (amount_minor, restock) in [(Some(1_000), false), (None, true)] {
        let command = RefundCommand {
            amount_minor,
            reason: "returned".into(),
            restock,
            idempotency_key: format!("refund-{restock}"),
        };
        shop.refund_order(&staff, paid.id, command)
            .await
            .expect("refund");
    }
    let expired = order(&shop, &ada, &product.id.to_string(), "second").await;
    let later = shop.clone().with_clock(Arc::new(DayLater));
    assert_eq!(later.expire_unpaid_orders(10).await.expect("sweep"), 1);
    let events = shop
        .store()
        .pending_events(1_000)
        .await
        .expect("the outbox")
        .iter()
        .map(CloudEvent::from_outbox)
        .collect();
    (ada, paid, expired, events)
}

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

/// Subject → plain-text bodies of the messages the sink received.
fn mail_by_subject(sink: &SmtpSink) -> HashMap<String, Vec<String>> {
    let mut by_subject: HashMap<String, Vec<String>> = HashMap::new();
    for mail in sink.received() {
        let message = MessageParser::default()
            .parse(&mail.data)
            .expect("an RFC 5322 message");
        let text = message
            .body_text(0)
            .expect("a plain-text body")
            .replace("\r\n", "\n");
        by_subject
            .entry(message.subject().expect("a subject").to_owned())
            .or_default()
            .push(text);
    }
    by_subject
}

#[tokio::test]
async fn payment_failed_refund_issued_and_expiry_emails_are_sent_once() {
    let (_database, db) = database().await;
    let (_, paid, expired, events) = shop_events(&db).await;
    let sink = SmtpSink::start().await;
    let email = Email::new(data(&db), &smtp_to(&sink)).expect("the handler");
    for event in events.iter().chain(&events) {
        email.handle(event).await.expect("handled");
    }
    let mail = mail_by_subject(&sink);

    let failed = &mail[&format!("Payment failed for order {}", paid.id)];
    assert_eq!(failed.len(), 1, "{mail:?}");
    assert!(
        failed[0].contains("did not go through: card declined."),
        "{}",
        failed[0]
    );

    let mut refunds = mail[&format!("Refund issued for order {}", paid.id)].clone();
    refunds.sort();
    assert_eq!(refunds.len(), 2, "{mail:?}");
    assert!(
        refunds[0].contains("We refunded 10.00 USD for order")
            && refunds[0].contains("part of what you paid"),
        "{}",
        refunds[0]
    );
    assert!(
        refunds[1].contains("We refunded 20.00 USD for order")
            && refunds[1].contains("refunded in full"),
        "{}",
        refunds[1]
    );
    assert!(refunds.iter().all(|text| text.contains("Reason: returned")));

    let ran_out = &mail[&format!("Cancelled, payment time ran out: order {}", expired.id)];
    assert_eq!(ran_out.len(), 1, "{mail:?}");
    assert!(
        ran_out[0].contains("did not receive the payment"),
        "{}",
        ran_out[0]
    );
    assert!(
        !mail.contains_key(&format!("Cancelled: order {}", expired.id)),
        "not the plain cancellation as well"
    );
    assert_eq!(
        mail[&format!("Payment received for order {}", paid.number)].len(),
        1
    );
}

/// A webhook endpoint that keeps the bodies it receives.
async fn receiver() -> (Arc<Mutex<Vec<Bytes>>>, String) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State(received): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes| async move {
                    received
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(body);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (received, format!("http://{address}/hook"))
}

#[tokio::test]
async fn payment_events_make_one_notification_and_one_webhook_each() {
    let (_database, db) = database().await;
    let (ada, paid, expired, events) = shop_events(&db).await;
    let (received, url) = receiver().await;
    let webhooks = Webhooks::parse(&url, "a webhook secret".to_owned()).expect("webhooks");
    let handler = Notifications::new(data(&db), webhooks);
    for event in events.iter().chain(&events) {
        handler.handle(event).await.expect("handled");
    }
    let page = SqlStore::new(db.clone())
        .list_notifications(&NotificationQuery {
            user_id: ada.id.to_string(),
            unread_only: false,
            before: None,
            limit: 100,
        })
        .await
        .expect("list");
    let of_kind = |kind: &str| -> Vec<&Notification> {
        page.items.iter().filter(|n| n.kind == kind).collect()
    };

    let failed = of_kind("payment_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].data["order_id"], paid.id.to_string());
    assert_eq!(failed[0].data["reason"], "card declined");

    let mut refunded = of_kind("payment_refunded");
    refunded.sort_by_key(|n| n.data["amount_minor"].as_i64());
    let summary: Vec<_> = refunded
        .iter()
        .map(|n| {
            (
                n.title.as_str(),
                n.data["amount_minor"].as_i64(),
                n.data["full"].as_bool(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Partial refund", Some(1_000), Some(false)),
            ("Order refunded", Some(2_000), Some(true)),
        ]
    );
    assert!(
        refunded[1].body.contains("USD 20.00"),
        "{}",
        refunded[1].body
    );

    let cancelled = of_kind("order_cancelled");
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].title, "Order cancelled: payment time ran out");
    assert_eq!(cancelled[0].data["order_id"], expired.id.to_string());
    assert_eq!(cancelled[0].data["reason"], "payment_expired");

    // The succeeded payment is told once, whether or not `payment.succeeded` is written too.
    assert_eq!(of_kind("order_paid").len(), 1);

    let bodies = received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(
        bodies.len(),
        page.items.len(),
        "one webhook per notification"
    );
    let refund_hooks = bodies
        .iter()
        .filter_map(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
        .filter(|body| body.to_string().contains("payment_refunded"))
        .count();
    assert_eq!(refund_hooks, 2);
}

#[tokio::test]
async fn a_cancellation_written_before_reasons_existed_is_an_ordinary_one() {
    let (_database, db) = database().await;
    let shop = Shop::new(Arc::new(SqlStore::new(db.clone())), ShopSettings::default());
    let ada = customer(&shop).await;
    let order = uuid::Uuid::now_v7();
    let old = event(
        "dev.shop.order.cancelled.v1",
        format!("orders/{order}"),
        Utc::now(),
        serde_json::json!({ "order_id": order, "user_id": ada.id, "previous_status": "paid" }),
    );
    let sink = SmtpSink::start().await;
    let email = Email::new(data(&db), &smtp_to(&sink)).expect("the handler");
    email.handle(&old).await.expect("sent");
    let mail = mail_by_subject(&sink);
    let cancelled = &mail[&format!("Cancelled: order {order}")];
    assert!(
        cancelled[0].contains("Your payment will be refunded."),
        "{}",
        cancelled[0]
    );

    let handler = Notifications::new(data(&db), Webhooks::none());
    handler.handle(&old).await.expect("handled");
    let notification = data(&db)
        .notification_of_event(&old.id)
        .await
        .expect("read")
        .expect("made");
    assert_eq!(notification.title, "Order cancelled");
    assert_eq!(notification.data["reason"], "requested");
}
