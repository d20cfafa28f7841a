//! The sweeper `serve` runs (`shop_api::payment_expiry`): orders left unpaid past
//! `SHOP_PAYMENT_TIMEOUT` are cancelled and their stock released exactly once, even with two
//! sweepers at the same moment (two replicas), and counted in `shop_orders_expired_total`.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use shop_api::payment_expiry::PaymentExpiry;
use shop_core::ports::Clock;

use crate::{
    steps::{metric, order_status},
    support::{Backend, TestApp},
};

on_both_backends!(unpaid_orders_expire_once_with_two_sweepers);

/// The wall clock, `ahead` in the future: the shop as it will be once the timeout has passed.
#[derive(Debug)]
struct Ahead(Duration);

impl Clock for Ahead {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.0
    }
}

async fn unpaid_orders_expire_once_with_two_sweepers(backend: Backend) {
    let app = TestApp::builder(backend)
        .var("SHOP_PAYMENT_TIMEOUT", "1h")
        .spawn()
        .await;
    let admin = app.admin_token().await;
    let product = app.create_product(&admin, "Songket", 5_000, 10, None).await;
    let product = product["id"].as_str().expect("a product id").to_owned();
    let ana = app.register_and_login("ana@example.com").await;
    let budi = app.register_and_login("budi@example.com").await;
    let first = app.place_order(&ana, &product, 2).await;
    let second = app.place_order(&budi, &product, 3).await;
    assert_eq!(app.stock_of(&product).await, 5);

    // Within the hour nothing expires.
    let now = PaymentExpiry::new(app.shop.clone(), Arc::clone(&app.state.metrics));
    assert_eq!(now.sweep().await, 0);

    let later = app
        .shop
        .clone()
        .with_clock(Arc::new(Ahead(Duration::from_secs(2 * 3600))));
    let one = PaymentExpiry::new(later.clone(), Arc::clone(&app.state.metrics));
    let other = PaymentExpiry::new(later, Arc::clone(&app.state.metrics));
    let (a, b) = tokio::join!(one.sweep(), other.sweep());
    assert_eq!(a + b, 2, "each order cancelled by one sweeper ({a} + {b})");
    for (token, order) in [(&ana, &first), (&budi, &second)] {
        let id = order["id"].as_str().expect("an order id");
        assert_eq!(order_status(&app, token, id).await, "cancelled");
    }
    assert_eq!(app.stock_of(&product).await, 10, "the stock is back, once");
    assert_eq!(metric(&app, "shop_orders_expired_total").await, 2.0);
}
