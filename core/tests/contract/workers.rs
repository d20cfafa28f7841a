//! What the workers record, through the ports they use: an event's handling commits its changes
//! with the processed record (or neither), notifications page and are marked read by their
//! owner only, webhook deliveries, invoices and their numbering, the analytics aggregates.

use chrono::{NaiveDate, TimeZone as _, Utc};
use serde_json::json;
use shop_core::{
    app::{Actor, AnalyticsRange, AppError, ListNotifications, WorkerData},
    domain::DomainEvent,
    ports::{AnalyticsEffect, AnalyticsEvent, NewInvoice, Notification, ProductSales},
};

use crate::support::{
    TestShop, add_address, admin, create_product, events_of_type, place_order, register_customer,
};

fn workers(t: &TestShop) -> WorkerData {
    WorkerData::new(t.store().clone())
}

fn notification(user_id: &str, id: &str, title: &str) -> Notification {
    Notification {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        kind: "order_placed".to_owned(),
        title: title.to_owned(),
        body: format!("{title}, in full"),
        data: json!({ "order_id": "o-1", "total_minor": 1250 }),
        created_at: Utc
            .with_ymd_and_hms(2026, 11, 20, 12, 0, 0)
            .single()
            .expect("a time"),
        read_at: None,
    }
}

/// Stores `notification` as the notification worker does: in the handling of `event_id`.
async fn notify(workers: &WorkerData, event_id: &str, notification: &Notification) {
    let mut work = workers
        .claim("notification", event_id)
        .await
        .expect("claim")
        .expect("a first claim");
    work.insert_notification(event_id, notification)
        .await
        .expect("insert");
    work.commit().await.expect("commit");
}

async fn an_event_is_handled_once_with_its_changes(t: TestShop) {
    let workers = workers(&t);
    let ada = notification(
        "user-1",
        "01900000-0000-7000-8000-000000000001",
        "Order placed",
    );

    // Dropped without committing: neither the record nor the change stays.
    let mut abandoned = workers
        .claim("notification", "event-1")
        .await
        .expect("claim")
        .expect("a first claim");
    abandoned
        .insert_notification("event-1", &ada)
        .await
        .expect("insert");
    drop(abandoned);
    assert!(
        !workers
            .is_processed("notification", "event-1")
            .await
            .expect("read")
    );
    assert_eq!(
        workers
            .notification_of_event("event-1")
            .await
            .expect("read"),
        None
    );

    notify(&workers, "event-1", &ada).await;
    assert!(
        workers
            .is_processed("notification", "event-1")
            .await
            .expect("read")
    );
    assert_eq!(
        workers
            .notification_of_event("event-1")
            .await
            .expect("read"),
        Some(ada)
    );
    assert!(
        workers
            .claim("notification", "event-1")
            .await
            .expect("claim")
            .is_none(),
        "a second claim of the same event"
    );
    // Another worker handles the same event on its own account.
    assert!(
        !workers
            .is_processed("email", "event-1")
            .await
            .expect("read")
    );
    let other = workers.claim("email", "event-1").await.expect("claim");
    assert!(other.is_some());
}

async fn customers_page_through_and_read_their_own_notifications(t: TestShop) {
    let workers = workers(&t);
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let (_, eve) = register_customer(&t, "eve@example.com").await;
    let owner = ada_user.id.to_string();
    let ids = [
        "01900000-0000-7000-8000-000000000001",
        "01900000-0000-7000-8000-000000000002",
        "01900000-0000-7000-8000-000000000003",
    ];
    for (index, id) in ids.iter().enumerate() {
        let event = format!("event-{index}");
        notify(
            &workers,
            &event,
            &notification(&owner, id, &format!("n{index}")),
        )
        .await;
    }

    let list = |unread_only, limit, cursor: Option<String>| ListNotifications {
        unread_only,
        limit,
        cursor,
    };
    let first = t
        .notifications(&ada, list(false, 2, None))
        .await
        .expect("a page");
    let titles: Vec<&str> = first.items.iter().map(|n| n.title.as_str()).collect();
    assert_eq!(titles, ["n2", "n1"], "newest first");
    assert_eq!(first.next_cursor.as_deref(), Some(ids[1]));
    let rest = t
        .notifications(&ada, list(false, 2, first.next_cursor))
        .await
        .expect("the next page");
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].title, "n0");
    assert_eq!(rest.next_cursor, None);

    let eves = t
        .notifications(&eve, list(false, 10, None))
        .await
        .expect("a page");
    assert!(eves.items.is_empty());
    let refused = t.mark_notification_read(&eve, ids[0]).await;
    assert!(
        matches!(refused, Err(AppError::NotFound("notification"))),
        "{refused:?}"
    );
    let unknown = t.mark_notification_read(&ada, "no-such-notification").await;
    assert!(
        matches!(unknown, Err(AppError::NotFound("notification"))),
        "{unknown:?}"
    );

    let read = t.mark_notification_read(&ada, ids[0]).await.expect("read");
    let read_at = read.read_at.expect("marked read");
    let again = t
        .mark_notification_read(&ada, ids[0])
        .await
        .expect("read again");
    assert_eq!(again.read_at, Some(read_at), "the first time is kept");
    let unread = t
        .notifications(&ada, list(true, 10, None))
        .await
        .expect("a page");
    let titles: Vec<&str> = unread.items.iter().map(|n| n.title.as_str()).collect();
    assert_eq!(titles, ["n2", "n1"]);

    let staff = t.notifications(&admin(), list(false, 10, None)).await;
    assert!(matches!(staff, Err(AppError::Unauthenticated)), "{staff:?}");
}

async fn webhook_deliveries_are_recorded_once_per_url(t: TestShop) {
    let workers = workers(&t);
    let at = Utc::now();
    assert!(
        workers
            .delivered_webhooks("event-1")
            .await
            .expect("read")
            .is_empty()
    );
    for url in [
        "https://a.example/hook",
        "https://b.example/hook",
        "https://a.example/hook",
    ] {
        workers
            .record_webhook_delivery("event-1", url, at)
            .await
            .expect("record");
    }
    let mut delivered = workers.delivered_webhooks("event-1").await.expect("read");
    delivered.sort();
    assert_eq!(
        delivered,
        ["https://a.example/hook", "https://b.example/hook"]
    );
    assert!(
        workers
            .delivered_webhooks("event-2")
            .await
            .expect("read")
            .is_empty()
    );
}

async fn invoices_are_numbered_per_year_and_shown_to_the_orders_owner(t: TestShop) {
    let workers = workers(&t);
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let (_, eve) = register_customer(&t, "eve@example.com").await;
    add_address(&t, &ada, "Ada Lovelace").await;
    let mug = create_product(&t, "MUG-1", 1_250, 10).await;
    let order = place_order(&t, &ada, mug.id, 2).await;

    let mut work = workers
        .claim("invoice", "paid-1")
        .await
        .expect("claim")
        .expect("a first claim");
    assert_eq!(work.invoice_number(order.id).await.expect("read"), None);
    let facts = work
        .invoice_order(order.id)
        .await
        .expect("read")
        .expect("the order");
    assert_eq!(facts.email, "ada@example.com");
    assert_eq!(facts.full_name, ada_user.full_name.as_str());
    assert_eq!(facts.currency, "USD");
    assert_eq!(facts.total_minor, order.total.amount_minor());
    assert_eq!(facts.shipping_address, order.shipping_address);
    assert_eq!(facts.lines.len(), 1);
    assert_eq!(facts.lines[0].sku, "MUG-1");
    assert_eq!(
        (facts.lines[0].quantity, facts.lines[0].line_total_minor),
        (2, 2_500)
    );
    let unknown = shop_core::domain::OrderId::new();
    assert_eq!(work.invoice_order(unknown).await.expect("read"), None);

    assert_eq!(work.next_invoice_number(2026).await.expect("number"), 1);
    assert_eq!(work.next_invoice_number(2026).await.expect("number"), 2);
    assert_eq!(work.next_invoice_number(2027).await.expect("number"), 1);
    let created = DomainEvent::InvoiceCreated {
        order_id: order.id,
        user_id: order.user_id,
        invoice_number: "INV-2026-000002".into(),
        location: "file:///invoices/INV-2026-000002.pdf".into(),
    }
    .into_outbox(Utc::now());
    work.insert_invoice(&NewInvoice {
        order_id: order.id,
        invoice_number: "INV-2026-000002".into(),
        location: "file:///invoices/INV-2026-000002.pdf".into(),
        size_bytes: 1_234,
        created_at: Utc::now(),
        event: created.clone(),
    })
    .await
    .expect("record the invoice");
    assert_eq!(
        work.invoice_number(order.id)
            .await
            .expect("read")
            .as_deref(),
        Some("INV-2026-000002")
    );
    work.commit().await.expect("commit");

    let invoice = t
        .order_invoice(&ada, order.id)
        .await
        .expect("the owner's invoice");
    assert_eq!(invoice.invoice_number, "INV-2026-000002");
    assert_eq!(invoice.size_bytes, 1_234);
    assert!(t.order_invoice(&admin(), order.id).await.is_ok());
    let other = t.order_invoice(&eve, order.id).await;
    assert!(
        matches!(other, Err(AppError::NotFound("order"))),
        "{other:?}"
    );
    let announced = events_of_type(&t, "dev.shop.invoice.created.v1").await;
    assert_eq!(
        announced.iter().map(|e| e.id).collect::<Vec<_>>(),
        [created.id]
    );

    // The sequence counts on in a later transaction; an order without an invoice has none.
    let mut later = workers
        .claim("invoice", "paid-2")
        .await
        .expect("claim")
        .expect("claimed");
    assert_eq!(later.next_invoice_number(2026).await.expect("number"), 3);
    drop(later);
    let second = place_order(&t, &ada, mug.id, 1).await;
    let missing = t.order_invoice(&ada, second.id).await;
    assert!(
        matches!(missing, Err(AppError::NotFound("invoice"))),
        "{missing:?}"
    );
}

fn analytics_event(id: &str, day: NaiveDate, effect: AnalyticsEffect) -> AnalyticsEvent {
    AnalyticsEvent {
        event_id: id.to_owned(),
        event_type: "dev.shop.test.v1".to_owned(),
        subject: "test".to_owned(),
        occurred_at: day.and_hms_opt(12, 0, 0).expect("a time").and_utc(),
        data: json!({ "id": id }),
        day,
        effect,
    }
}

async fn analytics_add_up_per_day_and_only_staff_read_them(t: TestShop) {
    let workers = workers(&t);
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).expect("a day");
    let order = |user: &str, units, currency: &str| AnalyticsEffect::Order {
        user_id: user.to_owned(),
        currency: currency.to_owned(),
        total_minor: units * 1_000,
        lines: vec![ProductSales {
            product_id: "p-1".into(),
            sku: "MUG-1".into(),
            currency: currency.to_owned(),
            units,
            revenue_minor: units * 1_000,
        }],
    };
    let events = [
        analytics_event(
            "e1",
            day(20),
            AnalyticsEffect::View {
                user_id: Some("u1".into()),
            },
        ),
        analytics_event(
            "e2",
            day(20),
            AnalyticsEffect::View {
                user_id: Some("u1".into()),
            },
        ),
        analytics_event("e3", day(20), AnalyticsEffect::View { user_id: None }),
        analytics_event(
            "e4",
            day(20),
            AnalyticsEffect::Cart {
                user_id: "u1".into(),
            },
        ),
        analytics_event("e5", day(20), order("u1", 3, "USD")),
        analytics_event("e6", day(21), order("u2", 1, "USD")),
        analytics_event("e7", day(21), order("u2", 2, "EUR")),
        analytics_event("e8", day(22), AnalyticsEffect::None),
    ];
    for event in &events {
        let mut work = workers
            .claim("analytics", &event.event_id)
            .await
            .expect("claim")
            .expect("a first claim");
        work.record_analytics(event).await.expect("record");
        work.commit().await.expect("commit");
    }

    let range = AnalyticsRange::new(day(19), day(22)).expect("a range");
    let report = t
        .analytics_report(&admin(), range)
        .await
        .expect("the report");
    let totals: Vec<(&str, i64, i64)> = report
        .totals
        .iter()
        .map(|t| (t.currency.as_str(), t.orders, t.revenue_minor))
        .collect();
    assert_eq!(totals, [("EUR", 1, 2_000), ("USD", 2, 4_000)]);
    let top: Vec<(&str, i64)> = report
        .top_products
        .iter()
        .map(|p| (p.currency.as_str(), p.units))
        .collect();
    assert_eq!(top, [("USD", 4), ("EUR", 2)]);
    assert_eq!(report.days.len(), 4, "every day of the range");
    assert!(report.days[0].sales.is_empty());
    let funnel = &report.days[1].funnel;
    assert_eq!(
        (
            funnel.product_views,
            funnel.viewers,
            funnel.cart_updates,
            funnel.cart_users
        ),
        (3, 1, 1, 1)
    );
    assert_eq!((funnel.orders, funnel.buyers), (1, 1));
    assert_eq!(report.days[2].sales.len(), 2);
    assert_eq!(
        (report.days[2].funnel.orders, report.days[2].funnel.buyers),
        (2, 1)
    );

    let narrow = AnalyticsRange::new(day(21), day(21)).expect("a range");
    let narrow = t
        .analytics_report(&admin(), narrow)
        .await
        .expect("the report");
    assert_eq!(narrow.top_products.iter().map(|p| p.units).sum::<i64>(), 3);

    let refused = t.analytics_report(&ada, range).await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
    let anonymous = t.analytics_report(&Actor::Anonymous, range).await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
}

contract_tests!(
    an_event_is_handled_once_with_its_changes,
    customers_page_through_and_read_their_own_notifications,
    webhook_deliveries_are_recorded_once_per_url,
    invoices_are_numbered_per_year_and_shown_to_the_orders_owner,
    analytics_add_up_per_day_and_only_staff_read_them,
);
