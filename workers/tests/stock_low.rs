//! `stock.low` reaches the staff: a sale that leaves a product at or below the low-stock
//! threshold makes an in-app notification for every active administrator (and none for anyone
//! else) and one email to the staff address `SHOP_STAFF_EMAIL`; the event, written by the real
//! checkout and taken from the outbox, is handed to each worker twice and still makes each once.

mod support;

use std::sync::Arc;

use mail_parser::MessageParser;
use shop_core::{
    adapters::sql::{Db, SqlStore},
    app::{Actor, AddToCart, Checkout, CreateProduct, RegisterUser, Shop, ShopSettings},
    config::WorkerSettings,
    domain::User,
    messaging::{CloudEvent, WorkerKind},
    ports::{NotificationQuery, NotificationStore as _},
};
use shop_testing::smtp::SmtpSink;
use shop_workers::{
    email::{Delivery, Email, Settings, staff::staff_address},
    handler::Handler,
    notification::{Notification, Notifications, webhook::Webhooks},
};
use support::{data, database};

const STOCK_LOW: &str = "dev.shop.stock.low.v1";

async fn user(shop: &Shop, email: &str, role: &str) -> User {
    shop.register_user(
        &Actor::System,
        RegisterUser {
            email: email.into(),
            password: "correct horse battery".into(),
            full_name: "Someone".into(),
            role: Some(role.into()),
        },
    )
    .await
    .expect("register")
}

struct Staff {
    admins: Vec<User>,
    disabled_admin: User,
    customer: User,
    event: CloudEvent,
}

/// Two admins, a disabled one and a customer who buys 3 of 5 mugs with the threshold at 2.
async fn a_sale_that_leaves_stock_low(db: &Db) -> Staff {
    let shop = Shop::new(Arc::new(SqlStore::new(db.clone())), ShopSettings::default())
        .with_low_stock_threshold(2);
    let admins = vec![
        user(&shop, "grace@example.com", "admin").await,
        user(&shop, "linus@example.com", "admin").await,
    ];
    let disabled_admin = user(&shop, "gone@example.com", "admin").await;
    let Db::Postgres(pool) = db else {
        panic!("a Postgres test database")
    };
    sqlx::query("UPDATE users SET disabled = true WHERE email = 'gone@example.com'")
        .execute(pool)
        .await
        .expect("disable an admin");
    let customer = user(&shop, "ada@example.com", "customer").await;
    let product = shop
        .create_product(
            &Actor::System,
            CreateProduct {
                sku: "MUG-1".into(),
                name: "Mug".into(),
                price_minor: 1_000,
                currency: "USD".into(),
                stock: Some(5),
                ..CreateProduct::default()
            },
        )
        .await
        .expect("product");
    let actor = Actor::user(customer.id, customer.role);
    shop.add_to_cart(
        &actor,
        AddToCart {
            product_id: product.id.to_string(),
            quantity: 3,
        },
    )
    .await
    .expect("add to cart");
    shop.checkout(
        &actor,
        Checkout {
            idempotency_key: "low".into(),
            ..Checkout::default()
        },
    )
    .await
    .expect("checkout");
    let mut low: Vec<CloudEvent> = shop
        .store()
        .pending_events(1_000)
        .await
        .expect("the outbox")
        .iter()
        .map(CloudEvent::from_outbox)
        .filter(|event| event.event_type == STOCK_LOW)
        .collect();
    assert_eq!(low.len(), 1, "the sale wrote one stock.low");
    Staff {
        admins,
        disabled_admin,
        customer,
        event: low.remove(0),
    }
}

async fn notifications_of(db: &Db, user: &User) -> Vec<Notification> {
    SqlStore::new(db.clone())
        .list_notifications(&NotificationQuery {
            user_id: user.id.to_string(),
            unread_only: false,
            before: None,
            limit: 100,
        })
        .await
        .expect("list")
        .items
        .into_iter()
        .filter(|n| n.kind == "stock_low")
        .collect()
}

#[tokio::test]
async fn every_active_admin_gets_one_in_app_notification() {
    let (_database, db) = database().await;
    let staff = a_sale_that_leaves_stock_low(&db).await;
    assert!(WorkerKind::Notification.receives(STOCK_LOW));
    let handler = Notifications::new(data(&db), Webhooks::none());
    for _ in 0..2 {
        handler.handle(&staff.event).await.expect("handled");
    }
    for admin in &staff.admins {
        let found = notifications_of(&db, admin).await;
        assert_eq!(found.len(), 1, "{}: {found:?}", admin.email.as_str());
        assert_eq!(found[0].title, "Low stock: MUG-1");
        assert_eq!(
            found[0].body,
            "MUG-1 has 2 left (the low-stock threshold is 2)."
        );
        assert_eq!(found[0].data["stock"], 2);
        assert_eq!(found[0].data["sku"], "MUG-1");
    }
    assert!(
        notifications_of(&db, &staff.disabled_admin)
            .await
            .is_empty()
    );
    assert!(notifications_of(&db, &staff.customer).await.is_empty());
}

fn settings(sink: &SmtpSink) -> Settings {
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

fn staff_setting(value: &str) -> anyhow::Result<Option<lettre::message::Mailbox>> {
    let vars = [("SHOP_STAFF_EMAIL", value)];
    let settings = WorkerSettings::from_lookup(|name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .expect("settings");
    staff_address(&settings.email)
}

#[tokio::test]
async fn the_staff_address_gets_one_email() {
    let (_database, db) = database().await;
    let staff = a_sale_that_leaves_stock_low(&db).await;
    assert!(WorkerKind::Email.receives(STOCK_LOW));
    let sink = SmtpSink::start().await;
    let address = staff_setting("Shop staff <staff@shop.test>").expect("an address");
    let email = Email::new(data(&db), &settings(&sink))
        .expect("the handler")
        .with_staff_address(address);
    for _ in 0..2 {
        email.handle(&staff.event).await.expect("handled");
    }
    let received = sink.received();
    assert_eq!(
        received.len(),
        1,
        "one message, however often the event comes"
    );
    assert_eq!(received[0].to, ["staff@shop.test"]);
    let message = MessageParser::default()
        .parse(&received[0].data)
        .expect("an RFC 5322 message");
    assert_eq!(message.subject(), Some("Low stock: MUG-1 (2 left)"));
    let text = message.body_text(0).expect("a body").replace("\r\n", "\n");
    assert!(
        text.contains("MUG-1 is running low: 2 left") && text.contains("threshold is 2"),
        "{text}"
    );
}

#[tokio::test]
async fn without_a_staff_address_nothing_is_mailed_and_a_wrong_one_is_refused() {
    let (_database, db) = database().await;
    let staff = a_sale_that_leaves_stock_low(&db).await;
    let sink = SmtpSink::start().await;
    let email = Email::new(data(&db), &settings(&sink)).expect("the handler");
    email.handle(&staff.event).await.expect("handled");
    assert!(sink.received().is_empty());
    let error = staff_setting("not an address").expect_err("refused");
    assert!(
        format!("{error:#}").contains("SHOP_STAFF_EMAIL"),
        "{error:#}"
    );
}
