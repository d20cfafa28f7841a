//! Many requests at once: stock is never oversold and a retried request never buys twice.

use std::collections::HashSet;

use shop_core::{
    app::{Actor, AdjustStock, AppError, RecordPayment, RegisterUser},
    domain::{OrderStatus, TransitionError},
};

use crate::support::{
    PASSWORD, TestShop, add_to_cart, admin, all_orders, all_users, checkout_command,
    create_product, events_of_type, place_order, register_customer, register_customers, stock_of,
};

async fn concurrent_checkouts_never_oversell(t: TestShop) {
    const BUYERS: usize = 50;
    const UNITS: i64 = 10;
    let mug = create_product(&t, "MUG-1", 1_000, UNITS).await;
    let buyers = register_customers(&t, "buyer", BUYERS).await;
    for (_, buyer) in &buyers {
        add_to_cart(&t, buyer, mug.id, 1).await;
    }

    let attempts: Vec<_> = buyers
        .iter()
        .map(|(_, buyer)| {
            let shop = t.shop.clone();
            let buyer = *buyer;
            tokio::spawn(async move { shop.checkout(&buyer, checkout_command("buy-one")).await })
        })
        .collect();
    let mut placed = Vec::new();
    let mut sold_out = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.expect("the checkout task ran to completion") {
            Ok(result) => {
                assert!(!result.replayed);
                placed.push(result.order);
            }
            Err(AppError::InsufficientStock {
                product_id: Some(id),
                requested: 1,
                available: 0,
            }) if id == mug.id => sold_out += 1,
            Err(other) => panic!("a checkout failed for another reason: {other:?}"),
        }
    }
    assert_eq!(placed.len(), 10, "exactly the stock was sold");
    assert_eq!(sold_out, BUYERS - 10);
    assert_eq!(stock_of(&t, mug.id).await, 0);

    let stored = all_orders(&t).await;
    assert_eq!(stored.len(), 10);
    let units: i64 = stored
        .iter()
        .flat_map(|order| &order.items)
        .map(|item| item.quantity.units())
        .sum();
    assert_eq!(units, UNITS);
    let buyers_served: HashSet<_> = stored.iter().map(|order| order.user_id).collect();
    assert_eq!(buyers_served.len(), 10, "one order per successful buyer");
    assert_eq!(
        events_of_type(&t, "dev.shop.order.placed.v1").await.len(),
        10
    );

    // Those who missed out still have the mug in their cart; those served do not.
    for (user, buyer) in &buyers {
        let cart = t.get_cart(buyer).await.expect("cart");
        assert_eq!(
            cart.lines.is_empty(),
            buyers_served.contains(&user.id),
            "{}",
            user.email
        );
    }
}

async fn concurrent_retries_with_one_key_create_one_order(t: TestShop) {
    const RETRIES: usize = 20;
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    add_to_cart(&t, &ada, mug.id, 2).await;

    let attempts: Vec<_> = (0..RETRIES)
        .map(|_| {
            let shop = t.shop.clone();
            tokio::spawn(async move { shop.checkout(&ada, checkout_command("double-click")).await })
        })
        .collect();
    let results: Vec<_> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|attempt| {
            attempt
                .expect("the checkout task ran to completion")
                .expect("every retry succeeds")
        })
        .collect();
    let order_ids: HashSet<_> = results.iter().map(|result| result.order.id).collect();
    assert_eq!(order_ids.len(), 1, "all retries answer with the same order");
    assert_eq!(
        results.iter().filter(|result| !result.replayed).count(),
        1,
        "exactly one of them placed it"
    );
    let stored = all_orders(&t).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].user_id, ada_user.id);
    assert!(order_ids.contains(&stored[0].id));
    assert_eq!(stock_of(&t, mug.id).await, 8, "stock was taken once");
    assert_eq!(
        events_of_type(&t, "dev.shop.order.placed.v1").await.len(),
        1
    );
}

async fn concurrent_payment_notifications_record_one_payment(t: TestShop) {
    const DELIVERIES: usize = 10;
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let order = place_order(&t, &ada, mug.id, 1).await;

    let deliveries: Vec<_> = (0..DELIVERIES)
        .map(|_| {
            let shop = t.shop.clone();
            let command = RecordPayment {
                order_id: order.id.to_string(),
                amount_minor: order.total.amount_minor(),
                currency: "USD".into(),
                provider: "midtrans".into(),
                reference: "txn-1".into(),
                status: "succeeded".into(),
                failure_reason: None,
            };
            tokio::spawn(async move { shop.record_payment(&admin(), command).await })
        })
        .collect();
    let payments: Vec<_> = futures::future::join_all(deliveries)
        .await
        .into_iter()
        .map(|delivery| {
            delivery
                .expect("the payment task ran to completion")
                .expect("every delivery is answered with the payment")
        })
        .collect();
    let ids: HashSet<_> = payments.iter().map(|payment| payment.id).collect();
    assert_eq!(ids.len(), 1, "{payments:?}");
    let stored = t.list_payments(&admin(), order.id).await.expect("payments");
    assert_eq!(stored.len(), 1);
    assert!(ids.contains(&stored[0].id));
    assert_eq!(
        t.get_order(&admin(), order.id).await.expect("order").status,
        OrderStatus::Paid
    );
    assert_eq!(events_of_type(&t, "dev.shop.order.paid.v1").await.len(), 1);
}

async fn concurrent_cancellations_return_the_stock_once(t: TestShop) {
    const ATTEMPTS: usize = 10;
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let order = place_order(&t, &ada, mug.id, 4).await;
    assert_eq!(stock_of(&t, mug.id).await, 6);

    let attempts: Vec<_> = (0..ATTEMPTS)
        .map(|_| {
            let shop = t.shop.clone();
            tokio::spawn(async move { shop.cancel_order(&ada, order.id).await })
        })
        .collect();
    let mut cancelled = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.expect("the cancel task ran to completion") {
            Ok(order) => {
                assert_eq!(order.status, OrderStatus::Cancelled);
                cancelled += 1;
            }
            // Lost the race: either while writing, or it read the order already cancelled.
            Err(
                AppError::Conflict
                | AppError::InvalidTransition(TransitionError {
                    from: OrderStatus::Cancelled,
                    to: OrderStatus::Cancelled,
                }),
            ) => {}
            Err(other) => panic!("a cancellation failed for another reason: {other:?}"),
        }
    }
    assert_eq!(cancelled, 1, "exactly one cancellation took effect");
    assert_eq!(stock_of(&t, mug.id).await, 10, "the units came back once");
    assert_eq!(
        events_of_type(&t, "dev.shop.order.cancelled.v1")
            .await
            .len(),
        1
    );
    assert_eq!(
        t.order_history(&ada, order.id)
            .await
            .expect("history")
            .len(),
        2
    );
}

async fn concurrent_stock_adjustments_never_go_below_zero(t: TestShop) {
    const TAKERS: usize = 25;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let attempts: Vec<_> = (0..TAKERS)
        .map(|_| {
            let shop = t.shop.clone();
            let id = mug.id;
            tokio::spawn(async move {
                shop.adjust_stock(
                    &admin(),
                    id,
                    AdjustStock {
                        delta: -1,
                        reason: "breakage".into(),
                    },
                )
                .await
            })
        })
        .collect();
    let mut taken = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.expect("the adjustment task ran to completion") {
            Ok(product) => {
                assert!(product.stock.units() < 10);
                taken += 1;
            }
            Err(AppError::InsufficientStock { available: 0, .. }) => {}
            Err(other) => panic!("an adjustment failed for another reason: {other:?}"),
        }
    }
    assert_eq!(taken, 10);
    assert_eq!(stock_of(&t, mug.id).await, 0);
}

async fn concurrent_registrations_of_one_email_create_one_user(t: TestShop) {
    const ATTEMPTS: usize = 6;
    let attempts: Vec<_> = (0..ATTEMPTS)
        .map(|n| {
            let shop = t.shop.clone();
            tokio::spawn(async move {
                shop.register_user(
                    &Actor::Anonymous,
                    RegisterUser {
                        email: if n % 2 == 0 {
                            "ada@example.com".into()
                        } else {
                            "ADA@example.com".into()
                        },
                        password: PASSWORD.into(),
                        full_name: format!("Ada {n}"),
                        role: None,
                    },
                )
                .await
            })
        })
        .collect();
    let mut registered = Vec::new();
    for attempt in futures::future::join_all(attempts).await {
        match attempt.expect("the registration task ran to completion") {
            Ok(user) => registered.push(user),
            Err(AppError::AlreadyExists { field: "email" }) => {}
            Err(other) => panic!("a registration failed for another reason: {other:?}"),
        }
    }
    assert_eq!(registered.len(), 1);
    assert_eq!(all_users(&t).await, registered);
    assert_eq!(
        events_of_type(&t, "dev.shop.user.registered.v1")
            .await
            .len(),
        1
    );
}

contract_tests! {
    concurrent_checkouts_never_oversell,
    concurrent_retries_with_one_key_create_one_order,
    concurrent_payment_notifications_record_one_payment,
    concurrent_cancellations_return_the_stock_once,
    concurrent_stock_adjustments_never_go_below_zero,
    concurrent_registrations_of_one_email_create_one_user,
}
