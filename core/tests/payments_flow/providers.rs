//! The money path through the real Midtrans and Stripe adapters, against the local fakes of
//! their APIs: the states and retries those providers produce that the sandbox does not.

use std::time::Duration as StdDuration;

use shop_core::adapters::payments::{
    midtrans::{MidtransOptions, MidtransProvider},
    stripe::{StripeOptions, StripeProvider},
};
use shop_testing::{fake_midtrans::FakeMidtrans, fake_stripe::FakeStripe};

use super::*;

const HOUR: StdDuration = StdDuration::from_secs(3600);

fn midtrans_shop(t: &TestShop, fake: &FakeMidtrans) -> Shop {
    let provider = MidtransProvider::new(MidtransOptions {
        server_key: SecretString::from(fake.server_key()),
        snap_url: fake.snap_url(),
        api_url: fake.api_url(),
        timeout: StdDuration::from_secs(5),
    })
    .expect("a provider");
    let settings = PaymentSettings {
        provider: ProviderKind::Midtrans,
        ..settings()
    };
    t.shop.clone().with_payments(Arc::new(provider), settings)
}

/// Stripe through the fake; `timeout` for each call, `pay_within` the order's payment timeout.
fn stripe_shop(
    t: &TestShop,
    fake: &FakeStripe,
    timeout: StdDuration,
    pay_within: StdDuration,
) -> Shop {
    let provider = StripeProvider::new(StripeOptions {
        secret_key: SecretString::from(fake.secret_key().to_owned()),
        webhook_secret: SecretString::from(fake.webhook_secret().to_owned()),
        api_url: fake.api_url(),
        timeout,
    })
    .expect("a provider");
    let settings = PaymentSettings {
        provider: ProviderKind::Stripe,
        timeout: pay_within,
        ..settings()
    };
    t.shop.clone().with_payments(Arc::new(provider), settings)
}

/// A customer's pending order of 15 000 rupiah.
async fn rupiah_order(shop: &Shop) -> (Actor, Order) {
    let (_, budi) = register_customer(shop, "budi@example.com").await;
    let batik = create_product_with(
        shop,
        shop_core::app::CreateProduct {
            currency: "IDR".to_owned(),
            ..product_command("BATIK-1", 1_500_000, 5)
        },
    )
    .await;
    let order = place_order(shop, &budi, batik.id, 1).await;
    (budi, order)
}

async fn midtrans_notify(
    shop: &Shop,
    (headers, body): &(Vec<(String, String)>, Vec<u8>),
) -> Result<NotificationOutcome, AppError> {
    shop.handle_payment_notification(ProviderKind::Midtrans, headers, body)
        .await
}

/// Card payments Midtrans' fraud detection holds: `capture`/`challenge` waits, and the
/// merchant's approval (`capture`/`accept`, same transaction) pays the order.
async fn a_challenged_card_payment_pays_once_accepted(t: TestShop) {
    let fake = FakeMidtrans::start().await;
    let shop = midtrans_shop(&t, &fake);
    let (budi, order) = rupiah_order(&shop).await;
    shop.start_payment(&budi, order.id)
        .await
        .expect("a Snap session");
    let id = order.id.to_string();

    let challenged = fake.notification(&id, "capture", Some("challenge"));
    assert_eq!(
        midtrans_notify(&shop, &challenged).await.expect("pending"),
        NotificationOutcome::Pending
    );
    // Delivered again while still challenged: still only pending.
    assert_eq!(
        midtrans_notify(&shop, &challenged).await.expect("pending"),
        NotificationOutcome::Pending
    );
    assert_eq!(status_of(&shop, &order).await, OrderStatus::PendingPayment);

    let accepted = fake.notification(&id, "capture", Some("accept"));
    assert_eq!(
        midtrans_notify(&shop, &accepted).await.expect("paid"),
        NotificationOutcome::Applied
    );
    assert_eq!(status_of(&shop, &order).await, OrderStatus::Paid);
    // Midtrans delivers the same notification again: known by its body, no status query.
    let status_queries = || {
        fake.requests()
            .iter()
            .filter(|sent| sent.method == "GET" && sent.path.ends_with("/status"))
            .count()
    };
    let queries = status_queries();
    assert_eq!(
        midtrans_notify(&shop, &accepted).await.expect("again"),
        NotificationOutcome::Duplicate
    );
    assert_eq!(status_queries(), queries, "a replay costs no status query");
    // Settlement of the same transaction follows: the payment is recorded once.
    let settled = fake.notification(&id, "settlement", None);
    assert_eq!(
        midtrans_notify(&shop, &settled).await.expect("handled"),
        NotificationOutcome::Ignored
    );
    let payments = shop.list_payments(&budi, order.id).await.expect("payments");
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, PaymentStatus::Succeeded);
    assert_eq!(events_of_type(&shop, PAID).await.len(), 1);
}

/// The dashboard's "send test notification" is signed with the server key but names no order
/// of ours: stored as ignored and answered 200, so that Midtrans does not retry it.
async fn midtrans_test_notifications_are_ignored_not_refused(t: TestShop) {
    let fake = FakeMidtrans::start().await;
    let shop = midtrans_shop(&t, &fake);
    let before = snapshot(&shop).await;
    let test = fake.signed_notification(serde_json::json!({
        "order_id": "payment_notif_test_G123456789_abc", "status_code": "200",
        "gross_amount": "10000.00", "transaction_status": "settlement",
        "transaction_id": "a1b2c3",
    }));
    assert_eq!(
        midtrans_notify(&shop, &test).await.expect("ignored"),
        NotificationOutcome::Ignored
    );
    assert_eq!(snapshot(&shop).await, before);
    assert_eq!(
        stored_outcomes(&shop).await,
        vec![NotificationStatus::Ignored]
    );
}

/// Stripe events signed by Stripe but unusable (another system's order, a payment status
/// this shop does not know, no amount): stored as ignored, answered 200.
async fn unusable_stripe_events_are_ignored_not_refused(t: TestShop) {
    let fake = FakeStripe::start().await;
    let shop = stripe_shop(&t, &fake, StdDuration::from_secs(5), 24 * HOUR);
    let (ada, order, _) = started(&shop).await;
    let session = fake.sessions().pop().expect("a session");
    let session_id = session["id"].as_str().expect("an id").to_owned();
    let completed = fake.complete_session(&session_id);
    let before = snapshot(&shop).await;
    let mut foreign = completed.clone();
    foreign["data"]["object"]["metadata"]["order_id"] = "order-42".into();
    foreign["data"]["object"]["client_reference_id"] = "order-42".into();
    let mut unknown_status = completed.clone();
    unknown_status["data"]["object"]["payment_status"] = "something_new".into();
    let mut no_amount = completed.clone();
    if let Some(object) = no_amount["data"]["object"].as_object_mut() {
        object.remove("amount_total");
    }
    for (index, event) in [foreign, unknown_status, no_amount].iter().enumerate() {
        let mut event = event.clone();
        event["id"] = format!("evt_unusable_{index}").into();
        let (headers, body) = fake.signed_event(&event);
        assert_eq!(
            shop.handle_payment_notification(ProviderKind::Stripe, &headers, &body)
                .await
                .expect("answered 200"),
            NotificationOutcome::Ignored,
            "{event}"
        );
    }
    assert_eq!(snapshot(&shop).await, before);
    assert_eq!(
        stored_outcomes(&shop).await,
        vec![NotificationStatus::Ignored; 3]
    );
    // The genuine event still pays.
    let (headers, body) = fake.signed_event(&completed);
    assert_eq!(
        shop.handle_payment_notification(ProviderKind::Stripe, &headers, &body)
            .await
            .expect("paid"),
        NotificationOutcome::Applied
    );
    assert_eq!(status_of(&shop, &order).await, OrderStatus::Paid);
    assert_eq!(
        shop.list_payments(&ada, order.id)
            .await
            .expect("payments")
            .len(),
        1
    );
}

/// Stripe made the Checkout Session but its answer was lost to our timeout; the customer asks
/// again a little later: the retry carries the same Idempotency-Key with the same parameters,
/// so Stripe answers the session it made (never `idempotency_error`, never a second session).
async fn a_stripe_session_whose_answer_was_lost_is_found_again_by_the_retry(t: TestShop) {
    let fake = FakeStripe::start().await;
    // 48 hours to pay: longer than a Checkout Session may last, so the expiry is not simply
    // the order's deadline.
    let shop = stripe_shop(
        &t,
        &fake,
        StdDuration::from_millis(300),
        StdDuration::from_secs(48 * 3600),
    );
    let (_, ada) = register_customer(&shop, "ada@example.com").await;
    let mug = create_product(&shop, "MUG-1", 1_250, 10).await;
    let order = place_order(&shop, &ada, mug.id, 2).await;
    let at = |now: DateTime<Utc>| shop.clone().with_clock(Arc::new(StoppedAt(now)));

    fake.delay_next(StdDuration::from_secs(2));
    let lost = at(order.placed_at + Duration::minutes(1))
        .start_payment(&ada, order.id)
        .await;
    assert!(
        matches!(
            lost,
            Err(AppError::PaymentProvider(ProviderError::Unavailable { .. }))
        ),
        "{lost:?}"
    );
    assert_eq!(fake.sessions().len(), 1, "Stripe made it nonetheless");

    let retried = at(order.placed_at + Duration::minutes(3))
        .start_payment(&ada, order.id)
        .await
        .expect("the retry finds the session");
    assert_eq!(fake.sessions().len(), 1, "no second session");
    let made = &fake.sessions()[0];
    assert_eq!(Some(retried.redirect_url.as_str()), made["url"].as_str());
    assert_eq!(
        Some(retried.expires_at.timestamp()),
        made["expires_at"].as_i64()
    );
    let keys: Vec<Option<String>> = fake
        .requests()
        .iter()
        .filter(|sent| sent.method == "POST" && sent.path == "/v1/checkout/sessions")
        .map(|sent| sent.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
}

contract_tests! {
    a_challenged_card_payment_pays_once_accepted,
    midtrans_test_notifications_are_ignored_not_refused,
    unusable_stripe_events_are_ignored_not_refused,
    a_stripe_session_whose_answer_was_lost_is_found_again_by_the_retry,
}
