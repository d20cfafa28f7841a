//! Unpaid orders expire, on Postgres and SQLite: cancelled once with their stock back and their
//! event, however many sweepers run at once (two shops, each with its own connection pool, on
//! the same database: two API replicas), and never when the payment got in first.

#[allow(dead_code)]
#[macro_use]
#[path = "contract/support.rs"]
mod support;

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use shop_core::{
    adapters::connect_and_migrate,
    app::{AppError, RecordPayment, Shop, ShopSettings},
    config::PaymentSettings,
    domain::{Order, OrderStatus, Product},
    ports::{Clock, SystemClock},
};

use support::{
    TestShop, admin, create_product, events_of_type, place_order, register_customers, stock_of,
};

/// `SHOP_PAYMENT_TIMEOUT` in these tests.
const TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// The time `ahead` from now: a shop on it sees every order placed now as that old.
#[derive(Debug)]
struct Ahead(chrono::TimeDelta);

impl Clock for Ahead {
    fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + self.0
    }
}

fn settings() -> PaymentSettings {
    PaymentSettings {
        timeout: TIMEOUT,
        ..PaymentSettings::default()
    }
}

/// A sweeper on `shop`'s storage whose clock is `minutes` ahead.
fn sweeper(shop: &Shop, minutes: i64) -> Shop {
    let provider = shop.payment_provider().clone();
    shop.clone()
        .with_payments(provider, settings())
        .with_clock(Arc::new(Ahead(chrono::TimeDelta::minutes(minutes))))
}

/// Another replica: its own pool on the same database.
async fn replica(t: &TestShop, minutes: i64) -> Shop {
    let store = connect_and_migrate(&t.url, 10)
        .await
        .expect("a second pool on the test database");
    sweeper(&Shop::new(store, ShopSettings::default()), minutes)
}

fn pay(order: &Order) -> RecordPayment {
    RecordPayment {
        order_id: order.id.to_string(),
        amount_minor: order.total.amount_minor(),
        currency: "USD".into(),
        provider: "sandbox".into(),
        reference: format!("pay-{}", order.id),
        status: "succeeded".into(),
        failure_reason: None,
    }
}

async fn status_of(shop: &Shop, order: &Order) -> OrderStatus {
    shop.get_order(&admin(), order.id)
        .await
        .expect("order")
        .status
}

/// `per_customer` orders of one unit of `product` for each of `customers` new customers.
async fn orders(
    shop: &Shop,
    product: &Product,
    customers: usize,
    per_customer: usize,
) -> Vec<Order> {
    let buyers = register_customers(shop, "buyer", customers).await;
    let placed = futures::future::join_all(buyers.iter().map(|(_, actor)| async move {
        let mut placed = Vec::new();
        for _ in 0..per_customer {
            placed.push(place_order(shop, actor, product.id, 1).await);
        }
        placed
    }))
    .await;
    placed.into_iter().flatten().collect()
}

/// Order id → how many `order.cancelled` events it has, and the reasons they give.
async fn cancellations(shop: &Shop) -> HashMap<String, Vec<String>> {
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for event in events_of_type(shop, "dev.shop.order.cancelled.v1").await {
        seen.entry(
            event.payload["order_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
        .or_default()
        .push(
            event.payload["reason"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    seen
}

async fn only_orders_past_the_timeout_and_unpaid_expire(t: TestShop) {
    let tea = create_product(&t, "TEA-1", 500, 10).await;
    let placed = orders(&t, &tea, 1, 3).await;
    let (waiting, paid) = (&placed[..2], &placed[2]);
    t.record_payment(&admin(), pay(paid))
        .await
        .expect("paid just before the sweep");
    assert_eq!(stock_of(&t, tea.id).await, 7);

    // Not yet: 59 minutes is inside the timeout.
    assert_eq!(
        sweeper(&t, 59)
            .expire_unpaid_orders(100)
            .await
            .expect("sweep"),
        0
    );
    assert_eq!(
        status_of(&t, &waiting[0]).await,
        OrderStatus::PendingPayment
    );

    let late = sweeper(&t, 61);
    assert_eq!(
        late.expire_unpaid_orders(1).await.expect("sweep"),
        1,
        "limit honoured"
    );
    assert_eq!(late.expire_unpaid_orders(100).await.expect("sweep"), 1);
    assert_eq!(
        late.expire_unpaid_orders(100).await.expect("sweep"),
        0,
        "nothing left"
    );
    for order in waiting {
        assert_eq!(status_of(&t, order).await, OrderStatus::Cancelled);
        let history = t.order_history(&admin(), order.id).await.expect("history");
        let last = history.last().expect("a change");
        assert_eq!(
            (last.from, last.to, last.actor),
            (
                Some(OrderStatus::PendingPayment),
                OrderStatus::Cancelled,
                None
            )
        );
    }
    assert_eq!(
        status_of(&t, paid).await,
        OrderStatus::Paid,
        "the paid order stays paid"
    );
    assert_eq!(
        stock_of(&t, tea.id).await,
        9,
        "two units back, the paid one stays sold"
    );

    let cancelled = cancellations(&t).await;
    assert_eq!(cancelled.len(), 2);
    for order in waiting {
        assert_eq!(cancelled[&order.id.to_string()], vec!["payment_expired"]);
    }
    let to_cancelled = events_of_type(&t, "dev.shop.order.status_changed.v1")
        .await
        .into_iter()
        .filter(|event| event.payload["to"] == "cancelled")
        .count();
    assert_eq!(to_cancelled, 2);

    // A payment arriving after its order expired is refused and recorded nowhere.
    let too_late = t.record_payment(&admin(), pay(&waiting[0])).await;
    assert!(
        matches!(too_late, Err(AppError::InvalidTransition(_))),
        "{too_late:?}"
    );
    assert!(
        t.list_payments(&admin(), waiting[0].id)
            .await
            .expect("payments")
            .is_empty()
    );
}

async fn two_sweepers_at_once_cancel_each_order_once(t: TestShop) {
    const ORDERS: usize = 48;
    let tea = create_product(&t, "TEA-1", 500, 1_000).await;
    let placed = orders(&t, &tea, 4, ORDERS / 4).await;
    assert_eq!(stock_of(&t, tea.id).await, 1_000 - ORDERS as i64);

    let (one, two) = (replica(&t, 61).await, replica(&t, 61).await);
    let sweep = |shop: Shop| async move {
        let mut total = 0;
        loop {
            // Small batches, so the two sweepers interleave many times.
            let expired = shop.expire_unpaid_orders(5).await.expect("sweep");
            total += expired;
            if expired < 5 {
                return total;
            }
        }
    };
    let (by_one, by_two) = tokio::join!(sweep(one.clone()), sweep(two.clone()));
    assert_eq!(by_one + by_two, ORDERS as u32, "{by_one} + {by_two}");
    assert_eq!(one.expire_unpaid_orders(100).await.expect("sweep"), 0);

    assert_eq!(
        stock_of(&t, tea.id).await,
        1_000,
        "every unit back exactly once"
    );
    let cancelled = cancellations(&t).await;
    assert_eq!(cancelled.len(), ORDERS);
    for order in &placed {
        assert_eq!(status_of(&t, order).await, OrderStatus::Cancelled);
        assert_eq!(
            cancelled[&order.id.to_string()].len(),
            1,
            "one event for {}",
            order.id
        );
    }
}

async fn a_payment_racing_the_sweep_either_wins_or_loses_never_both(t: TestShop) {
    const ORDERS: usize = 24;
    let tea = create_product(&t, "TEA-1", 500, 100).await;
    let placed = orders(&t, &tea, 2, ORDERS / 2).await;
    let late = replica(&t, 61).await;
    let staff = admin();
    let payments = futures::future::join_all(
        placed
            .iter()
            .map(|order| t.record_payment(&staff, pay(order))),
    );
    let sweeps = async {
        let mut total = 0;
        loop {
            match late.expire_unpaid_orders(3).await.expect("sweep") {
                0 => return total,
                expired => total += expired,
            }
        }
    };
    let (payments, expired) = tokio::join!(payments, sweeps);

    let mut paid = 0;
    for (order, payment) in placed.iter().zip(payments) {
        let recorded = t.list_payments(&admin(), order.id).await.expect("payments");
        match status_of(&t, order).await {
            OrderStatus::Paid => {
                assert!(payment.is_ok(), "{payment:?}");
                assert_eq!(recorded.len(), 1);
                paid += 1;
            }
            OrderStatus::Cancelled => {
                assert!(payment.is_err(), "paid and cancelled: {payment:?}");
                assert!(
                    recorded.is_empty(),
                    "a payment recorded on a cancelled order"
                );
            }
            other => panic!("order {} ended {other:?}", order.id),
        }
    }
    assert_eq!(paid + expired as usize, ORDERS);
    assert_eq!(stock_of(&t, tea.id).await, 100 - paid as i64);
    assert_eq!(cancellations(&t).await.len(), expired as usize);
}

contract_tests!(
    only_orders_past_the_timeout_and_unpaid_expire,
    two_sweepers_at_once_cancel_each_order_once,
    a_payment_racing_the_sweep_either_wins_or_loses_never_both,
);
