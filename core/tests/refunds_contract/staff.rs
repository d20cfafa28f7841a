//! Refunds staff ask for: amounts, restock, validation, provider failures, idempotency keys.

use super::*;

async fn a_partial_then_a_full_refund_refunds_the_order_and_restocks_once(t: TestShop) {
    let f = paid_order(&t, "sandbox").await;
    let shop = &f.shop;
    assert_eq!(stock_of(shop, f.mug.id).await, 7);

    let part = shop
        .refund_order(
            &admin(),
            f.order.id,
            keyed("k-1", Some(1_000), "scratched mug", false),
        )
        .await
        .expect("partial refund");
    assert_eq!(
        (part.amount, part.sequence, part.full),
        (usd(1_000), 1, false)
    );
    assert_eq!(part.provider, "sandbox");
    assert_eq!(part.provider_reference, "re_1");
    assert_eq!(part.refund_key, refund_key(f.order.id, "k-1"));
    assert_eq!(
        status(shop, &f.order).await,
        OrderStatus::Paid,
        "partly refunded stays paid"
    );
    assert_eq!(stock_of(shop, f.mug.id).await, 7, "money only");

    let rest = shop
        .refund_order(&admin(), f.order.id, keyed("k-2", None, "returned", true))
        .await
        .expect("full refund");
    assert_eq!(
        (rest.amount, rest.sequence, rest.full),
        (usd(2_000), 2, true)
    );
    assert!(rest.restock);
    assert_eq!(status(shop, &f.order).await, OrderStatus::Refunded);
    assert_eq!(stock_of(shop, f.mug.id).await, 10, "all three mugs back");

    let provider = f.provider.refunds();
    assert_eq!(provider.len(), 2);
    assert_eq!(provider[&refund_key(f.order.id, "k-1")].amount, usd(1_000));
    assert_eq!(provider[&refund_key(f.order.id, "k-2")].amount, usd(2_000));

    let listed = shop
        .list_refunds(&f.customer, f.order.id)
        .await
        .expect("the owner lists");
    assert_eq!(
        listed,
        vec![part.clone(), rest.clone()],
        "stored as returned"
    );
    let (_, bob) = register_customer(shop, "bob@example.com").await;
    assert!(matches!(
        shop.list_refunds(&bob, f.order.id).await,
        Err(AppError::NotFound("order"))
    ));

    let events = events_of_type(shop, "dev.shop.payment.refunded.v1").await;
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.payload["amount_minor"].as_i64(),
                e.payload["full"].as_bool(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![(Some(1_000), Some(false)), (Some(2_000), Some(true))]
    );
    assert_eq!(events[1].payload["refund_id"], rest.id.to_string());
    assert_eq!(events[1].payload["currency"], "USD");
    assert_eq!(events[1].payload["reason"], "returned");
    assert_eq!(events[1].subject, format!("orders/{}", f.order.id));
    let to_refunded = events_of_type(shop, "dev.shop.order.status_changed.v1")
        .await
        .into_iter()
        .filter(|e| e.payload["to"] == "refunded")
        .count();
    assert_eq!(to_refunded, 1);

    // Nothing left to refund: a refunded order refuses, and the stock stays restored once.
    let again = shop
        .refund_order(&admin(), f.order.id, refund(None, "again", true))
        .await;
    assert!(
        matches!(again, Err(AppError::InvalidTransition(_))),
        "{again:?}"
    );
    assert_eq!(stock_of(shop, f.mug.id).await, 10);
    assert_eq!(f.provider.calls(), 2);
}

async fn bad_refunds_are_refused_and_change_nothing(t: TestShop) {
    let f = paid_order(&t, "sandbox").await;
    let shop = &f.shop;
    let before = snapshot(shop).await;
    let id = f.order.id;
    for (command, field) in [
        (refund(Some(3_001), "too much", false), "amount_minor"),
        (refund(Some(0), "nothing", false), "amount_minor"),
        (refund(Some(-5), "negative", false), "amount_minor"),
        (refund(Some(100), "", false), "reason"),
        (refund(Some(100), "   ", false), "reason"),
        (refund(None, &"r".repeat(501), false), "reason"),
        (refund(Some(100), "partial with goods", true), "restock"),
        (keyed("", Some(100), "no key", false), "idempotency_key"),
        (
            keyed(&"k".repeat(201), Some(100), "long key", false),
            "idempotency_key",
        ),
        (
            keyed("kéy", Some(100), "not ASCII", false),
            "idempotency_key",
        ),
        (keyed("k\n", Some(100), "control", false), "idempotency_key"),
    ] {
        expect_validation(shop.refund_order(&admin(), id, command).await, &[field]);
    }
    expect_validation(
        shop.refund_order(&admin(), id, refund(Some(0), "", false))
            .await,
        &["amount_minor", "reason"],
    );
    assert!(matches!(
        shop.refund_order(&f.customer, id, refund(None, "mine", false))
            .await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        shop.refund_order(&Actor::Anonymous, id, refund(None, "x", false))
            .await,
        Err(AppError::Unauthenticated)
    ));
    assert!(matches!(
        shop.refund_order(&admin(), OrderId::new(), refund(None, "x", false))
            .await,
        Err(AppError::NotFound("order"))
    ));
    assert_eq!(snapshot(shop).await, before);
    // An unpaid order has nothing to refund.
    let unpaid = place_order(shop, &f.customer, f.mug.id, 1).await;
    let before_unpaid = snapshot(shop).await;
    assert!(matches!(
        shop.refund_order(&admin(), unpaid.id, refund(None, "x", false))
            .await,
        Err(AppError::Rule(_))
    ));
    assert_eq!(snapshot(shop).await, before_unpaid);

    assert_eq!(f.provider.calls(), 0, "the provider was never asked");
    assert!(
        shop.list_refunds(&admin(), id)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(status(shop, &f.order).await, OrderStatus::Paid);
}

async fn a_provider_failure_records_nothing(t: TestShop) {
    let f = paid_order(&t, "sandbox").await;
    let shop = &f.shop;
    let before = snapshot(shop).await;
    f.provider.then(Next::Refuse);
    let refused = shop
        .refund_order(&admin(), f.order.id, refund(None, "returned", true))
        .await;
    assert!(
        matches!(
            refused,
            Err(AppError::PaymentProvider(ProviderError::Refused { .. }))
        ),
        "{refused:?}"
    );
    assert_eq!(
        snapshot(shop).await,
        before,
        "no refund, no stock, no event"
    );
    assert!(
        shop.list_refunds(&admin(), f.order.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(f.provider.refunds().is_empty());
    // Nothing stays reserved: everything can still be refunded.
    let all = shop
        .refund_order(&admin(), f.order.id, refund(None, "returned", true))
        .await
        .expect("refund");
    assert_eq!((all.amount, all.full), (usd(3_000), true));
}

async fn a_retry_after_a_timeout_is_the_same_refund(t: TestShop) {
    let f = paid_order(&t, "sandbox").await;
    let shop = &f.shop;
    let before = snapshot(shop).await;
    f.provider.then(Next::RefundThenTimeOut);
    let timed_out = shop
        .refund_order(
            &admin(),
            f.order.id,
            keyed("retry-me", Some(500), "late delivery", false),
        )
        .await;
    assert!(
        matches!(
            timed_out,
            Err(AppError::PaymentProvider(ProviderError::Unavailable { .. }))
        ),
        "{timed_out:?}"
    );
    assert_eq!(
        snapshot(shop).await,
        before,
        "nothing recorded while the answer is unknown"
    );
    assert_eq!(f.provider.refunds().len(), 1, "the provider did refund");
    assert!(
        shop.list_refunds(&admin(), f.order.id)
            .await
            .expect("list")
            .is_empty(),
        "no refund shown while the answer is unknown"
    );
    // ... but the money may be gone: it is not refunded again under another key.
    expect_validation(
        shop.refund_order(&admin(), f.order.id, refund(Some(3_000), "all", true))
            .await,
        &["amount_minor"],
    );
    assert_eq!(f.provider.calls(), 1);

    let retried = shop
        .refund_order(
            &admin(),
            f.order.id,
            keyed("retry-me", Some(500), "late delivery", false),
        )
        .await
        .expect("the retry");
    assert_eq!(f.provider.calls(), 2);
    assert_eq!(retried.amount, usd(500));
    let at_provider = f.provider.refunds();
    assert_eq!(
        at_provider.len(),
        1,
        "one refund at the provider: {at_provider:?}"
    );
    assert_eq!(
        retried.provider_reference,
        at_provider[&retried.refund_key].reference
    );
    assert_eq!(
        shop.list_refunds(&admin(), f.order.id).await.expect("list"),
        vec![retried]
    );
}

async fn the_same_idempotency_key_is_one_refund(t: TestShop) {
    let f = paid_order(&t, "sandbox").await;
    let shop = &f.shop;
    let first = shop
        .refund_order(&admin(), f.order.id, keyed("k", Some(1_000), "dent", false))
        .await
        .expect("refund");
    let again = shop
        .refund_order(&admin(), f.order.id, keyed("k", Some(1_000), "dent", false))
        .await
        .expect("the same request again");
    assert_eq!(again, first, "answered with the stored refund");
    assert_eq!(f.provider.calls(), 1, "the provider was not asked again");

    // The key names one refund: other values under it are another request, refused.
    let before = snapshot(shop).await;
    for other in [
        keyed("k", Some(999), "dent", false),
        keyed("k", None, "dent", false),
        keyed("k", Some(1_000), "dent!", false),
    ] {
        let reused = shop.refund_order(&admin(), f.order.id, other).await;
        assert!(
            matches!(reused, Err(AppError::IdempotencyKeyReused)),
            "{reused:?}"
        );
    }
    assert_eq!(snapshot(shop).await, before);
    assert_eq!(f.provider.calls(), 1);

    // Another key is another refund, even with the same values.
    let second = shop
        .refund_order(
            &admin(),
            f.order.id,
            keyed("k2", Some(1_000), "dent", false),
        )
        .await
        .expect("a second refund");
    assert_ne!(second.id, first.id);
    assert_ne!(second.refund_key, first.refund_key);
    let rest = shop
        .refund_order(&admin(), f.order.id, keyed("k3", None, "returned", true))
        .await
        .expect("the rest");
    assert!(rest.full);
    assert_eq!(f.provider.refunds().len(), 3);
    assert_eq!(
        shop.list_refunds(&admin(), f.order.id)
            .await
            .expect("list")
            .len(),
        3
    );
    // Once refunded, repeating any of its requests still answers that refund.
    let repeated = shop
        .refund_order(&admin(), f.order.id, keyed("k", Some(1_000), "dent", false))
        .await
        .expect("repeat after the order was refunded");
    assert_eq!(repeated, first);
    assert_eq!(f.provider.calls(), 3);
    assert_eq!(stock_of(shop, f.mug.id).await, 10, "restocked once");
}

async fn a_double_click_is_one_refund(t: TestShop) {
    let f = paid_order(&t, "sandbox").await;
    let shop = &f.shop;
    let staff = admin();
    let (one, two) = tokio::join!(
        shop.refund_order(&staff, f.order.id, keyed("click", None, "returned", true)),
        shop.refund_order(&staff, f.order.id, keyed("click", None, "returned", true)),
    );
    // Whoever got in first, both answer the one refund: the other request found it stored,
    // or asked the provider with the same refund key and found it recorded when writing.
    let one = one.expect("first");
    let two = two.expect("second");
    assert_eq!(one.id, two.id);
    assert_eq!(f.provider.refunds().len(), 1, "one refund at the provider");
    assert_eq!(
        shop.list_refunds(&admin(), f.order.id).await.expect("list"),
        vec![one]
    );
    assert_eq!(stock_of(shop, f.mug.id).await, 10, "restocked once");
    assert_eq!(status(shop, &f.order).await, OrderStatus::Refunded);
    assert_eq!(
        events_of_type(shop, "dev.shop.payment.refunded.v1")
            .await
            .len(),
        1
    );
}

async fn the_amount_the_provider_refunded_is_recorded(t: TestShop) {
    let f = paid_order(&t, "sandbox").await;
    let shop = &f.shop;
    // Everything, with the goods, asked; the provider gives back 25.00 of 30.00.
    f.provider.then(Next::RefundOnly(2_500));
    let capped = shop
        .refund_order(&admin(), f.order.id, refund(None, "returned", true))
        .await
        .expect("refund");
    assert_eq!(
        (capped.amount, capped.full, capped.restock),
        (usd(2_500), false, false)
    );
    assert_eq!(status(shop, &f.order).await, OrderStatus::Paid);
    assert_eq!(
        stock_of(shop, f.mug.id).await,
        7,
        "not the refund that completes"
    );
    let events = events_of_type(shop, "dev.shop.payment.refunded.v1").await;
    assert_eq!(events[0].payload["amount_minor"], 2_500);
    assert_eq!(events[0].payload["full"], false);

    // What is left is what the provider did not give back.
    let rest = shop
        .refund_order(&admin(), f.order.id, refund(None, "the rest", true))
        .await
        .expect("the rest");
    assert_eq!((rest.amount, rest.full), (usd(500), true));
    assert_eq!(status(shop, &f.order).await, OrderStatus::Refunded);
    assert_eq!(stock_of(shop, f.mug.id).await, 10);
}

async fn a_cancelled_order_that_was_paid_can_be_refunded(t: TestShop) {
    let f = paid_order(&t, "sandbox").await;
    let shop = &f.shop;
    shop.cancel_order(&f.customer, f.order.id)
        .await
        .expect("the customer cancels the paid order");
    assert_eq!(
        stock_of(shop, f.mug.id).await,
        10,
        "the cancellation restocked"
    );

    let before = snapshot(shop).await;
    expect_validation(
        shop.refund_order(&admin(), f.order.id, refund(None, "cancelled", true))
            .await,
        &["restock"],
    );
    assert_eq!(snapshot(shop).await, before);
    assert_eq!(f.provider.calls(), 0);

    let done = shop
        .refund_order(&admin(), f.order.id, refund(None, "cancelled", false))
        .await
        .expect("refund of the cancelled order");
    assert_eq!(
        (done.amount, done.full, done.restock),
        (usd(3_000), true, false)
    );
    assert_eq!(f.provider.refunds().len(), 1);
    assert_eq!(status(shop, &f.order).await, OrderStatus::Cancelled);
    assert_eq!(stock_of(shop, f.mug.id).await, 10, "not restocked twice");
    let events = events_of_type(shop, "dev.shop.payment.refunded.v1").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload["full"], true);
    // Nothing is left.
    expect_validation(
        shop.refund_order(&admin(), f.order.id, refund(Some(1), "more", false))
            .await,
        &["amount_minor"],
    );
}

async fn offline_payments_are_refunded_without_the_provider(t: TestShop) {
    let f = paid_order(&t, "manual").await;
    let shop = &f.shop;
    let done = shop
        .refund_order(
            &admin(),
            f.order.id,
            refund(None, "paid back in cash", false),
        )
        .await
        .expect("refund");
    assert_eq!(f.provider.calls(), 0);
    assert_eq!(done.provider, "manual");
    assert_eq!(done.provider_reference, done.refund_key);
    assert!(done.full);
    assert_eq!(status(shop, &f.order).await, OrderStatus::Refunded);
    assert_eq!(stock_of(shop, f.mug.id).await, 7, "no restock asked");
}

contract_tests!(
    a_partial_then_a_full_refund_refunds_the_order_and_restocks_once,
    bad_refunds_are_refused_and_change_nothing,
    a_provider_failure_records_nothing,
    a_retry_after_a_timeout_is_the_same_refund,
    the_same_idempotency_key_is_one_refund,
    a_double_click_is_one_refund,
    the_amount_the_provider_refunded_is_recorded,
    a_cancelled_order_that_was_paid_can_be_refunded,
    offline_payments_are_refunded_without_the_provider,
);
