//! What operators and the admin dashboard read: readiness and sales figures.

use std::collections::BTreeMap;

use shop_core::{
    app::{Actor, AppError, ChangeOrderStatus, CreateProduct, RecordPayment},
    domain::Order,
    ports::{DaySales, TopProduct},
};

use crate::support::{
    TestShop, admin, create_product, create_product_with, expect_validation, place_order,
    product_command, register_customer,
};

async fn pay(t: &TestShop, order: &Order) {
    t.record_payment(
        &admin(),
        RecordPayment {
            order_id: order.id.to_string(),
            amount_minor: order.total.amount_minor(),
            currency: order.total.currency().code().into(),
            provider: "midtrans".into(),
            reference: format!("txn-{}", order.id),
            status: "succeeded".into(),
            failure_reason: None,
        },
    )
    .await
    .expect("pay");
}

async fn move_to(t: &TestShop, order: &Order, statuses: &[&str]) {
    for status in statuses {
        t.change_order_status(
            &admin(),
            order.id,
            ChangeOrderStatus {
                status: (*status).into(),
            },
        )
        .await
        .unwrap_or_else(|error| panic!("to {status}: {error:?}"));
    }
}

async fn the_database_answers(t: TestShop) {
    t.ping().await.expect("ping");
}

async fn sales_stats_count_orders_and_paid_revenue_per_day(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let (_, bob) = register_customer(&t, "bob@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 100).await;
    let pot = create_product(&t, "POT-1", 2_500, 100).await;
    let euro = create_product_with(
        &t,
        CreateProduct {
            currency: "EUR".into(),
            ..product_command("MUG-EU", 900, 100)
        },
    )
    .await;

    let empty = t.sales_stats(&admin(), None).await.expect("no sales yet");
    assert!(
        empty.days.is_empty() && empty.top_products.is_empty(),
        "{empty:?}"
    );

    let paid = place_order(&t, &ada, mug.id, 2).await;
    pay(&t, &paid).await;
    let pending = place_order(&t, &ada, pot.id, 1).await;
    let cancelled = place_order(&t, &bob, mug.id, 3).await;
    t.cancel_order(&bob, cancelled.id).await.expect("cancel");
    crate::support::add_to_cart(&t, &bob, pot.id, 1).await;
    let delivered = place_order(&t, &bob, mug.id, 1).await;
    pay(&t, &delivered).await;
    move_to(&t, &delivered, &["fulfilling", "shipped", "delivered"]).await;
    let refunded = place_order(&t, &ada, euro.id, 1).await;
    pay(&t, &refunded).await;
    move_to(&t, &refunded, &["refunded"]).await;

    // What the figures must be, from the orders themselves: every order counts on the (UTC) day
    // it was placed; revenue only once paid and while neither cancelled nor refunded.
    let mut expected_days: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for (order, earns) in [
        (&paid, true),
        (&pending, false),
        (&cancelled, false),
        (&delivered, true),
        (&refunded, false),
    ] {
        let key = (
            order.placed_at.format("%Y-%m-%d").to_string(),
            order.total.currency().code().to_owned(),
        );
        let entry = expected_days.entry(key).or_default();
        entry.0 += 1;
        if earns {
            entry.1 += order.total.amount_minor();
        }
    }
    let expected_days: Vec<DaySales> = expected_days
        .into_iter()
        .map(|((day, currency), (orders, revenue_minor))| DaySales {
            day,
            currency,
            orders,
            revenue_minor,
        })
        .collect();

    let stats = t.sales_stats(&admin(), None).await.expect("stats");
    assert_eq!(stats.days, expected_days);
    assert_eq!(
        stats.top_products,
        vec![
            TopProduct {
                product_id: mug.id.as_uuid(),
                sku: "MUG-1".into(),
                name: "Product MUG-1".into(),
                currency: "USD".into(),
                // The paid order's 2 and the delivered one's 1; the cancelled 3 do not count.
                units: 3,
                revenue_minor: 3_000,
            },
            TopProduct {
                product_id: pot.id.as_uuid(),
                sku: "POT-1".into(),
                name: "Product POT-1".into(),
                currency: "USD".into(),
                // The pending order's and the delivered one's.
                units: 2,
                revenue_minor: 5_000,
            },
        ],
        "best sellers by units, refunded and cancelled orders left out"
    );

    let forbidden = t.sales_stats(&ada, None).await;
    assert!(
        matches!(forbidden, Err(AppError::Forbidden)),
        "{forbidden:?}"
    );
    let anonymous = t.sales_stats(&Actor::Anonymous, None).await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
    for days in [0, 367] {
        expect_validation(t.sales_stats(&admin(), Some(days)).await, &["days"]);
    }
    t.sales_stats(&admin(), Some(366)).await.expect("a year");
}

contract_tests! {
    the_database_answers,
    sales_stats_count_orders_and_paid_revenue_per_day,
}
