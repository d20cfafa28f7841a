//! Refunds the provider reports: recorded once, never for an unknown amount, retried when they
//! arrive before the payment, and not recorded twice when they race the shop's own refund.

use super::*;

fn reported(f: &Fixture, total: Option<i64>) -> ProviderRefund {
    ProviderRefund {
        provider: ProviderKind::Sandbox,
        order_id: f.order.id,
        reference: "pay-1".into(),
        refunded_total: total.map(usd),
        reason: None,
    }
}

async fn refunds_the_provider_reports_are_recorded_once(t: TestShop) {
    let f = paid_order(&t, "sandbox").await;
    let shop = &f.shop;
    let first = shop
        .apply_provider_refund(reported(&f, Some(1_000)))
        .await
        .expect("apply")
        .expect("a new refund");
    assert_eq!(
        (first.amount, first.full, first.restock),
        (usd(1_000), false, false)
    );
    assert_eq!(first.reason.as_str(), "refunded at sandbox");
    let duplicate = shop.apply_provider_refund(reported(&f, Some(1_000))).await;
    assert!(matches!(duplicate, Ok(None)), "{duplicate:?}");

    // The shop's own refund, then the provider's notification of it: nothing new.
    shop.refund_order(&admin(), f.order.id, refund(Some(500), "goodwill", false))
        .await
        .expect("refund");
    let echo = shop.apply_provider_refund(reported(&f, Some(1_500))).await;
    assert!(matches!(echo, Ok(None)), "{echo:?}");

    // Everything, from the provider's dashboard.
    let rest = shop
        .apply_provider_refund(reported(&f, Some(3_000)))
        .await
        .expect("apply")
        .expect("the rest");
    assert_eq!((rest.amount, rest.full), (usd(1_500), true));
    assert_eq!(status(shop, &f.order).await, OrderStatus::Refunded);
    let all = shop.list_refunds(&admin(), f.order.id).await.expect("list");
    assert_eq!(all.len(), 3);
    assert_eq!(
        events_of_type(shop, "dev.shop.payment.refunded.v1")
            .await
            .len(),
        3
    );
    assert_eq!(stock_of(shop, f.mug.id).await, 7);

    let wrong_currency = ProviderRefund {
        refunded_total: Some(Money::new(1, Currency::parse("EUR").expect("EUR"))),
        ..reported(&f, Some(3_000))
    };
    expect_validation(
        shop.apply_provider_refund(wrong_currency).await,
        &["refunded_total"],
    );
}

async fn a_notification_racing_the_refund_is_not_recorded_twice(t: TestShop) {
    let f = paid_order(&t, "sandbox").await;
    let (refunded, release) = f.provider.hold_next();
    let shop = f.shop.clone();
    let order_id = f.order.id;
    let staff = tokio::spawn(async move {
        shop.refund_order(&admin(), order_id, keyed("k", None, "returned", true))
            .await
    });
    refunded.await.expect("the provider refunded");
    // The provider's notification of that refund arrives before its answer to the shop.
    let notified = f
        .shop
        .apply_provider_refund(reported(&f, Some(3_000)))
        .await;
    assert!(matches!(notified, Ok(None)), "{notified:?}");
    release.send(()).expect("answer");
    let done = staff.await.expect("task").expect("the staff refund");
    assert_eq!(
        (done.amount, done.full, done.restock),
        (usd(3_000), true, true)
    );
    assert_eq!(done.provider_reference, "re_1");
    assert_eq!(
        f.shop
            .list_refunds(&admin(), f.order.id)
            .await
            .expect("list"),
        vec![done]
    );
    assert_eq!(status(&f.shop, &f.order).await, OrderStatus::Refunded);
    assert_eq!(stock_of(&f.shop, f.mug.id).await, 10, "restocked, once");
    // The notification sent again after the shop recorded it: still nothing new.
    let again = f
        .shop
        .apply_provider_refund(reported(&f, Some(3_000)))
        .await;
    assert!(matches!(again, Ok(None)), "{again:?}");
    assert_eq!(
        events_of_type(&f.shop, "dev.shop.payment.refunded.v1")
            .await
            .len(),
        1
    );
}

async fn a_reported_refund_of_unknown_amount_records_nothing(t: TestShop) {
    let f = paid_order(&t, "sandbox").await;
    let shop = &f.shop;
    let before = snapshot(shop).await;
    let unknown = shop.apply_provider_refund(reported(&f, None)).await;
    assert!(matches!(unknown, Err(AppError::Rule(_))), "{unknown:?}");
    assert_eq!(
        snapshot(shop).await,
        before,
        "never taken for a full refund"
    );
    assert_eq!(status(shop, &f.order).await, OrderStatus::Paid);
    assert!(
        shop.list_refunds(&admin(), f.order.id)
            .await
            .expect("list")
            .is_empty()
    );
}

async fn a_refund_reported_before_the_payment_is_retried_later(t: TestShop) {
    let provider = Provider::new();
    let shop = t
        .shop
        .clone()
        .with_payments(Arc::new(provider), PaymentSettings::default());
    let (_, customer) = register_customer(&shop, "ada@example.com").await;
    let mug = create_product(&shop, "MUG-1", 1_000, 10).await;
    let order = place_order(&shop, &customer, mug.id, 3).await;
    let report = ProviderRefund {
        provider: ProviderKind::Sandbox,
        order_id: order.id,
        reference: "pay-1".into(),
        refunded_total: Some(usd(1_000)),
        reason: None,
    };
    let before = snapshot(&shop).await;
    let early = shop.apply_provider_refund(report.clone()).await;
    // Unavailable is answered 503: the provider sends the notification again later.
    assert!(
        matches!(
            early,
            Err(AppError::PaymentProvider(ProviderError::Unavailable { .. }))
        ),
        "{early:?}"
    );
    assert_eq!(snapshot(&shop).await, before, "nothing recorded");

    shop.record_payment(
        &admin(),
        RecordPayment {
            order_id: order.id.to_string(),
            amount_minor: order.total.amount_minor(),
            currency: "USD".into(),
            provider: "sandbox".into(),
            reference: "pay-1".into(),
            status: "succeeded".into(),
            failure_reason: None,
        },
    )
    .await
    .expect("the payment arrives");
    let retried = shop
        .apply_provider_refund(report)
        .await
        .expect("the retry")
        .expect("recorded now");
    assert_eq!((retried.amount, retried.full), (usd(1_000), false));
}

/// Stripe tells of a refund before the payment's own event reached the shop (events arrive in
/// any order): the webhook answers 503, nothing is stored as handled, and Stripe's retry after
/// the payment records the refund.
async fn a_stripe_refund_event_before_the_payment_is_retried_not_dropped(t: TestShop) {
    use secrecy::SecretString;
    use shop_core::{
        adapters::payments::stripe::{StripeOptions, StripeProvider},
        app::NotificationOutcome,
    };
    use shop_testing::fake_stripe::FakeStripe;

    let fake = FakeStripe::start().await;
    let stripe = Arc::new(
        StripeProvider::new(StripeOptions {
            secret_key: SecretString::from(fake.secret_key().to_owned()),
            webhook_secret: SecretString::from(fake.webhook_secret().to_owned()),
            api_url: fake.api_url(),
            timeout: std::time::Duration::from_secs(5),
        })
        .expect("a provider"),
    );
    let settings = PaymentSettings {
        provider: ProviderKind::Stripe,
        ..PaymentSettings::default()
    };
    let shop = t.shop.clone().with_payments(stripe.clone(), settings);
    let (_, ada) = register_customer(&shop, "ada@example.com").await;
    let mug = create_product(&shop, "MUG-1", 1_000, 10).await;
    let order = place_order(&shop, &ada, mug.id, 3).await;
    shop.start_payment(&ada, order.id).await.expect("a session");
    let session = fake.sessions().pop().expect("a session");
    let paid = fake.complete_session(session["id"].as_str().expect("an id"));
    let intent = paid["data"]["object"]["payment_intent"]
        .as_str()
        .expect("a payment intent")
        .to_owned();
    // 10.00 given back at Stripe's dashboard.
    stripe
        .refund(&RefundRequest {
            order_id: order.id,
            payment_reference: intent.clone(),
            amount: usd(1_000),
            reason: "dashboard".into(),
            refund_key: "dashboard-1".into(),
        })
        .await
        .expect("refunded at Stripe");
    let refunded = fake.charge_refunded_event(&intent);
    let deliver = |event: &serde_json::Value| {
        let (headers, body) = fake.signed_event(event);
        let shop = shop.clone();
        async move {
            shop.handle_payment_notification(ProviderKind::Stripe, &headers, &body)
                .await
        }
    };

    let early = deliver(&refunded).await;
    assert!(
        matches!(
            early,
            Err(AppError::PaymentProvider(ProviderError::Unavailable { .. }))
        ),
        "answered 503 so Stripe retries: {early:?}"
    );
    assert_eq!(status(&shop, &order).await, OrderStatus::PendingPayment);
    assert_eq!(
        deliver(&paid).await.expect("paid"),
        NotificationOutcome::Applied
    );
    assert_eq!(
        deliver(&refunded).await.expect("the retry"),
        NotificationOutcome::Applied,
        "not a duplicate of the early delivery"
    );
    let refunds = shop.list_refunds(&admin(), order.id).await.expect("list");
    assert_eq!(refunds.len(), 1);
    assert_eq!((refunds[0].amount, refunds[0].full), (usd(1_000), false));
    assert_eq!(status(&shop, &order).await, OrderStatus::Paid);
}

/// Item 8's adapter half: a Midtrans status answer without its `refunds` list says how much a
/// full `refund` returned (the gross amount), but not how much a `partial_refund` did.
#[tokio::test]
async fn midtrans_partial_refunds_without_their_list_have_no_amount() {
    use shop_core::adapters::payments::midtrans::{MidtransOptions, MidtransProvider};
    use shop_testing::fake_midtrans::FakeMidtrans;

    let fake = FakeMidtrans::start().await;
    let provider = MidtransProvider::new(MidtransOptions {
        server_key: fake.server_key().into(),
        snap_url: fake.snap_url(),
        api_url: fake.api_url(),
        timeout: std::time::Duration::from_secs(5),
    })
    .expect("a provider");
    let order_id = OrderId::new();
    let idr = |rupiah: i64| Money::new(rupiah * 100, Currency::parse("IDR").expect("IDR"));
    provider
        .create_payment(&PaymentRequest {
            order_id,
            amount: idr(24_000),
            items: vec![shop_core::ports::PaymentItem {
                id: "sku".into(),
                name: "Batik shirt".into(),
                unit_price: idr(24_000),
                quantity: 1,
            }],
            customer: shop_core::ports::PaymentCustomer {
                email: "budi@example.com".into(),
                name: "Budi".into(),
            },
            expires_at: chrono::Utc::now() + chrono::TimeDelta::hours(1),
            idempotency_key: format!("pay-{order_id}"),
            return_url: None,
        })
        .await
        .expect("a Snap transaction");
    for (status, expected) in [("partial_refund", None), ("refund", Some(idr(24_000)))] {
        let (headers, body) = fake.notification(&order_id.to_string(), status, None);
        let event = provider
            .verify_notification(RawNotification {
                headers: &headers,
                body: &body,
                received_at: chrono::Utc::now(),
            })
            .await
            .unwrap_or_else(|error| panic!("{status}: {error}"));
        assert_eq!(
            event.outcome,
            PaymentOutcome::Refunded { amount: expected },
            "{status}"
        );
    }
}

contract_tests!(
    refunds_the_provider_reports_are_recorded_once,
    a_notification_racing_the_refund_is_not_recorded_twice,
    a_reported_refund_of_unknown_amount_records_nothing,
    a_refund_reported_before_the_payment_is_retried_later,
    a_stripe_refund_event_before_the_payment_is_retried_not_dropped,
);
