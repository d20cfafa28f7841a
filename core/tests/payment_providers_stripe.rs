//! The Stripe adapter against a local fake that follows Stripe's documented API
//! (`shop_testing::fake_stripe`): the Checkout Session request, idempotency, currencies,
//! webhook signatures, event mapping, refunds and failures.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use shop_core::adapters::payments::stripe::{StripeOptions, StripeProvider};
use shop_core::domain::{Currency, Money, OrderId};
use shop_core::ports::{
    NotificationError, PaymentCustomer, PaymentItem, PaymentOutcome, PaymentProvider,
    PaymentRequest, ProviderError, ProviderEvent, RawNotification, RefundRequest,
};
use shop_testing::fake_stripe::{FakeStripe, signature};

fn money(minor: i64, code: &str) -> Money {
    Money::new(minor, Currency::parse(code).expect("a currency"))
}

fn provider_at(api_url: String, secret_key: &str) -> StripeProvider {
    StripeProvider::new(StripeOptions {
        secret_key: secret_key.to_owned().into(),
        webhook_secret: shop_testing::fake_stripe::WEBHOOK_SECRET.to_owned().into(),
        api_url,
        timeout: Duration::from_secs(5),
    })
    .expect("a provider")
}

fn provider(fake: &FakeStripe) -> StripeProvider {
    provider_at(fake.api_url(), fake.secret_key())
}

/// Two shirts at 12.50 plus 2.00 tax: 27.00 USD.
fn request(order_id: OrderId) -> PaymentRequest {
    PaymentRequest {
        order_id,
        amount: money(2_700, "USD"),
        items: vec![
            PaymentItem {
                id: "sku-shirt".into(),
                name: "Shirt".into(),
                unit_price: money(1_250, "USD"),
                quantity: 2,
            },
            PaymentItem {
                id: "tax".into(),
                name: "Tax".into(),
                unit_price: money(200, "USD"),
                quantity: 1,
            },
        ],
        customer: PaymentCustomer {
            email: "ada@example.com".into(),
            name: "Ada".into(),
        },
        expires_at: Utc::now() + TimeDelta::hours(2),
        idempotency_key: format!("pay-{order_id}-1"),
        return_url: Some(format!("https://shop.example/pay/return/{order_id}")),
    }
}

fn single(order_id: OrderId, amount: Money) -> PaymentRequest {
    let mut request = request(order_id);
    request.amount = amount;
    request.items.truncate(1);
    request.items[0].unit_price = amount;
    request.items[0].quantity = 1;
    request
}

async fn verify_at(
    provider: &StripeProvider,
    (headers, body): &(Vec<(String, String)>, Vec<u8>),
    received_at: DateTime<Utc>,
) -> Result<ProviderEvent, NotificationError> {
    provider
        .verify_notification(RawNotification {
            headers,
            body,
            received_at,
        })
        .await
}

async fn verify(
    provider: &StripeProvider,
    notification: &(Vec<(String, String)>, Vec<u8>),
) -> Result<ProviderEvent, NotificationError> {
    verify_at(provider, notification, Utc::now()).await
}

#[tokio::test]
async fn a_checkout_session_is_form_encoded_with_the_idempotency_key() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    let order_id = OrderId::new();
    let request = request(order_id);

    let session = provider.create_payment(&request).await.expect("a session");

    let stored = fake.session(&session.reference).expect("the fake has it");
    assert_eq!(session.redirect_url, stored["url"]);
    assert_eq!(session.token, None);
    assert_eq!(
        Some(session.expires_at.timestamp()),
        stored["expires_at"].as_i64()
    );
    assert_eq!(stored["amount_total"], 2_700);
    let sent = fake.requests().pop().expect("a request");
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/checkout/sessions")
    );
    assert_eq!(sent.header("authorization"), Some("Bearer sk_test_fake"));
    assert_eq!(
        sent.header("idempotency-key"),
        Some(request.idempotency_key.as_str())
    );
    assert_eq!(
        sent.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let order = order_id.to_string();
    let return_url = request.return_url.clone().expect("a return url");
    for (key, value) in [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[0][price_data][unit_amount]", "1250"),
        ("line_items[0][price_data][product_data][name]", "Shirt"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price_data][unit_amount]", "200"),
        ("client_reference_id", order.as_str()),
        ("metadata[order_id]", order.as_str()),
        ("payment_intent_data[metadata][order_id]", order.as_str()),
        ("customer_email", "ada@example.com"),
        ("success_url", return_url.as_str()),
        ("cancel_url", return_url.as_str()),
    ] {
        assert_eq!(sent.form_value(key).as_deref(), Some(value), "{key}");
    }
    assert_eq!(
        sent.form_value("expires_at"),
        Some(request.expires_at.timestamp().to_string())
    );
}

#[tokio::test]
async fn a_retry_with_the_same_key_is_the_same_session_and_other_params_are_refused() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    let request = request(OrderId::new());

    let first = provider.create_payment(&request).await.expect("a session");
    let retried = provider
        .create_payment(&request)
        .await
        .expect("the same session");
    assert_eq!(retried.reference, first.reference);
    assert_eq!(fake.sessions().len(), 1, "one session for one key");

    let mut changed = request.clone();
    changed.items[1].unit_price = money(300, "USD");
    changed.amount = money(2_800, "USD");
    let result = provider.create_payment(&changed).await;
    assert!(
        matches!(&result, Err(ProviderError::Refused { message, .. }) if message.contains("same parameters")),
        "{result:?}"
    );
}

#[tokio::test]
async fn amounts_follow_stripe_decimals_exactly() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    for (amount, expected) in [
        (money(1_500, "JPY"), "1500"),
        (money(5, "ISK"), "500"),
        (money(12_340, "KWD"), "12340"),
        (money(2_414_500, "IDR"), "2414500"),
    ] {
        let session = provider
            .create_payment(&single(OrderId::new(), amount))
            .await
            .unwrap_or_else(|error| panic!("{amount}: {error}"));
        let sent = fake.requests().pop().expect("a request");
        assert_eq!(
            sent.form_value("line_items[0][price_data][unit_amount]")
                .as_deref(),
            Some(expected),
            "{amount}"
        );
        let stored = fake.session(&session.reference).expect("stored");
        assert_eq!(
            stored["currency"],
            amount.currency().code().to_ascii_lowercase()
        );
    }
}

#[tokio::test]
async fn what_stripe_cannot_charge_exactly_is_refused_before_any_request() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    assert!(!provider.accepts_currency(Currency::parse("IRR").expect("IRR")));
    let result = provider
        .create_payment(&single(OrderId::new(), money(10_000, "IRR")))
        .await;
    assert!(
        matches!(result, Err(ProviderError::UnsupportedCurrency { .. })),
        "{result:?}"
    );
    // KWD amounts must end in 0 at Stripe; rounding would charge another amount.
    let result = provider
        .create_payment(&single(OrderId::new(), money(12_345, "KWD")))
        .await;
    assert!(
        matches!(result, Err(ProviderError::Refused { .. })),
        "{result:?}"
    );
    let mut not_adding_up = request(OrderId::new());
    not_adding_up.items.pop();
    let result = provider.create_payment(&not_adding_up).await;
    assert!(
        matches!(result, Err(ProviderError::Refused { .. })),
        "{result:?}"
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn session_expiry_is_sent_as_asked_never_raised() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    // Raising it would let a session outlive its order; Checkout refuses it instead.
    let mut soon = request(OrderId::new());
    soon.expires_at = Utc::now() + TimeDelta::minutes(5);
    let refused = provider.create_payment(&soon).await;
    assert!(
        matches!(refused, Err(ProviderError::Refused { .. })),
        "{refused:?}"
    );

    let mut fine = request(OrderId::new());
    fine.expires_at = Utc::now() + TimeDelta::hours(2);
    let session = provider.create_payment(&fine).await.expect("a session");
    assert_eq!(session.expires_at.timestamp(), fine.expires_at.timestamp());
    let sent = fake
        .requests()
        .last()
        .expect("sent")
        .form_value("expires_at");
    assert_eq!(sent, Some(fine.expires_at.timestamp().to_string()));
}

#[tokio::test]
async fn a_signed_completed_session_is_a_succeeded_payment() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    let order_id = OrderId::new();
    let session = provider
        .create_payment(&request(order_id))
        .await
        .expect("a session");
    let event = fake.complete_session(&session.reference);

    let parsed = verify(&provider, &fake.signed_event(&event))
        .await
        .expect("verified");

    assert_eq!(parsed.outcome, PaymentOutcome::Succeeded);
    assert_eq!(parsed.order_id, order_id);
    assert_eq!(parsed.amount, money(2_700, "USD"));
    assert_eq!(parsed.event_id, event["id"]);
    assert_eq!(parsed.reference, event["data"]["object"]["payment_intent"]);
    assert!(parsed.reference.starts_with("pi_"));
    assert_eq!(
        provider.payment_status(order_id).await.ok(),
        Some(PaymentOutcome::Succeeded)
    );

    let mut unpaid = event.clone();
    unpaid["data"]["object"]["payment_status"] = "unpaid".into();
    let parsed = verify(&provider, &fake.signed_event(&unpaid))
        .await
        .expect("verified");
    assert_eq!(parsed.outcome, PaymentOutcome::Pending);
}

#[tokio::test]
async fn forged_missing_stale_and_tampered_signatures_are_refused() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    let session = provider
        .create_payment(&request(OrderId::new()))
        .await
        .expect("a session");
    let event = fake.complete_session(&session.reference);
    let now = Utc::now();
    let problem = |result: Result<ProviderEvent, NotificationError>| match result {
        Err(NotificationError::MissingSignature) => "missing",
        Err(NotificationError::BadSignature) => "bad",
        Err(NotificationError::Stale) => "stale",
        other => panic!("unexpected {other:?}"),
    };

    assert_eq!(
        problem(verify(&provider, &fake.forged_event(&event)).await),
        "bad"
    );
    let (headers, body) = fake.signed_event(&event);
    let tampered = String::from_utf8(body.clone())
        .expect("UTF-8")
        .replace("2700", "1");
    assert_eq!(
        problem(verify(&provider, &(headers.clone(), tampered.into_bytes())).await),
        "bad"
    );
    let no_header = vec![("content-type".to_owned(), "application/json".to_owned())];
    assert_eq!(
        problem(verify(&provider, &(no_header, body.clone())).await),
        "missing"
    );
    let only_t = vec![(
        "stripe-signature".to_owned(),
        format!("t={}", now.timestamp()),
    )];
    assert_eq!(
        problem(verify(&provider, &(only_t, body.clone())).await),
        "missing"
    );

    let old = now.timestamp() - 301;
    assert_eq!(
        problem(verify(&provider, &fake.signed_event_at(&event, old)).await),
        "stale"
    );
    let ahead = now.timestamp() + 400;
    assert_eq!(
        problem(verify(&provider, &fake.signed_event_at(&event, ahead)).await),
        "stale"
    );
    // The tolerance is measured from when the notification was received.
    let signed_then = fake.signed_event_at(&event, now.timestamp());
    let received = now + TimeDelta::seconds(299);
    assert!(verify_at(&provider, &signed_then, received).await.is_ok());
    let received = now + TimeDelta::seconds(301);
    assert_eq!(
        problem(verify_at(&provider, &signed_then, received).await),
        "stale"
    );
}

#[tokio::test]
async fn any_of_several_v1_signatures_may_match() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    let session = provider
        .create_payment(&request(OrderId::new()))
        .await
        .expect("a session");
    let event = fake.complete_session(&session.reference);
    let (_, body) = fake.signed_event(&event);
    let t = Utc::now().timestamp();
    // During a secret roll Stripe signs with the old and the new secret.
    let header = format!(
        "t={t},v1={},v1={},v0=ignored",
        signature(t, &body, "whsec_previous"),
        signature(t, &body, fake.webhook_secret())
    );
    let headers = vec![("stripe-signature".to_owned(), header)];

    let parsed = verify(&provider, &(headers, body)).await.expect("verified");
    assert_eq!(parsed.outcome, PaymentOutcome::Succeeded);
}

#[tokio::test]
async fn failed_refunded_other_and_malformed_events() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    let order_id = OrderId::new();
    let session = provider
        .create_payment(&request(order_id))
        .await
        .expect("a session");

    let failed = fake.payment_failed_event(&session.reference, "Your card was declined.");
    let parsed = verify(&provider, &fake.signed_event(&failed))
        .await
        .expect("verified");
    assert_eq!(
        parsed.outcome,
        PaymentOutcome::Failed {
            reason: "Your card was declined.".into()
        }
    );
    assert_eq!(parsed.order_id, order_id);

    let completed = fake.complete_session(&session.reference);
    let intent = completed["data"]["object"]["payment_intent"]
        .as_str()
        .expect("pi")
        .to_owned();
    provider
        .refund(&refund_request(
            order_id,
            &intent,
            money(700, "USD"),
            "refund-a",
        ))
        .await
        .expect("refunded");
    let refunded = fake.charge_refunded_event(&intent);
    let parsed = verify(&provider, &fake.signed_event(&refunded))
        .await
        .expect("verified");
    assert_eq!(
        parsed.outcome,
        PaymentOutcome::Refunded {
            amount: Some(money(700, "USD"))
        }
    );
    assert_eq!(parsed.amount, money(2_700, "USD"));
    assert_eq!(parsed.reference, intent);

    let mut other = completed.clone();
    other["type"] = "customer.created".into();
    let result = verify(&provider, &fake.signed_event(&other)).await;
    assert!(
        matches!(result, Err(NotificationError::Ignored(_))),
        "{result:?}"
    );

    // Signed by Stripe but unusable: ignored (answered 200), never a 4xx Stripe retries for
    // days.
    let mut foreign = completed.clone();
    foreign["data"]["object"]["metadata"]["order_id"] = "order-42".into();
    let mut unknown_status = completed.clone();
    unknown_status["data"]["object"]["payment_status"] = "something_new".into();
    let mut no_amount = completed.clone();
    if let Some(object) = no_amount["data"]["object"].as_object_mut() {
        object.remove("amount_total");
    }
    let mut no_currency = completed.clone();
    if let Some(object) = no_currency["data"]["object"].as_object_mut() {
        object.remove("currency");
    }
    for unusable in [&foreign, &unknown_status, &no_amount, &no_currency] {
        let result = verify(&provider, &fake.signed_event(unusable)).await;
        assert!(
            matches!(result, Err(NotificationError::Ignored(_))),
            "{unusable}: {result:?}"
        );
    }
    let t = Utc::now().timestamp();
    let body = b"not json".to_vec();
    let header = format!("t={t},v1={}", signature(t, &body, fake.webhook_secret()));
    let result = verify(
        &provider,
        &(vec![("stripe-signature".to_owned(), header)], body),
    )
    .await;
    assert!(
        matches!(result, Err(NotificationError::Ignored(_))),
        "{result:?}"
    );
    // Unsigned, the same body is refused.
    let result = verify(&provider, &fake.forged_event(&no_currency)).await;
    assert!(
        matches!(result, Err(NotificationError::BadSignature)),
        "{result:?}"
    );
}

fn refund_request(order_id: OrderId, intent: &str, amount: Money, key: &str) -> RefundRequest {
    RefundRequest {
        order_id,
        payment_reference: intent.to_owned(),
        amount,
        reason: "damaged".into(),
        refund_key: key.to_owned(),
    }
}

#[tokio::test]
async fn a_partial_refund_retried_with_its_key_is_one_refund() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    let order_id = OrderId::new();
    assert_eq!(
        provider.payment_status(order_id).await.ok(),
        Some(PaymentOutcome::Pending)
    );
    let session = provider
        .create_payment(&request(order_id))
        .await
        .expect("a session");
    let completed = fake.complete_session(&session.reference);
    let intent = completed["data"]["object"]["payment_intent"]
        .as_str()
        .expect("pi")
        .to_owned();

    let first = provider
        .refund(&refund_request(
            order_id,
            &intent,
            money(1_000, "USD"),
            "refund-1",
        ))
        .await
        .expect("refunded");
    let retried = provider
        .refund(&refund_request(
            order_id,
            &intent,
            money(1_000, "USD"),
            "refund-1",
        ))
        .await
        .expect("replayed");

    assert_eq!(first.amount, money(1_000, "USD"));
    assert_eq!(retried.reference, first.reference);
    assert_eq!(fake.refunds().len(), 1, "a retry is not a second refund");
    let sent = fake.requests().pop().expect("a request");
    assert_eq!(sent.path, "/v1/refunds");
    assert_eq!(sent.header("idempotency-key"), Some("refund-1"));
    assert_eq!(sent.form_value("payment_intent"), Some(intent.clone()));
    assert_eq!(sent.form_value("amount").as_deref(), Some("1000"));
    assert_eq!(
        sent.form_value("reason").as_deref(),
        Some("requested_by_customer")
    );
    assert_eq!(
        sent.form_value("metadata[order_id]"),
        Some(order_id.to_string())
    );
    assert_eq!(
        provider.payment_status(order_id).await.ok(),
        Some(PaymentOutcome::Refunded {
            amount: Some(money(1_000, "USD"))
        })
    );

    let too_much = provider
        .refund(&refund_request(
            order_id,
            &intent,
            money(1_800, "USD"),
            "refund-2",
        ))
        .await;
    assert!(
        matches!(too_much, Err(ProviderError::Refused { .. })),
        "{too_much:?}"
    );
    let rest = provider
        .refund(&refund_request(
            order_id,
            &intent,
            money(1_700, "USD"),
            "refund-3",
        ))
        .await
        .expect("the rest");
    assert_eq!(rest.amount, money(1_700, "USD"));
    assert_eq!(fake.refunds().len(), 2);
}

#[tokio::test]
async fn provider_failures_are_refused_or_unavailable() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    for (status, retryable) in [
        (500, true),
        (503, true),
        (429, true),
        (409, true),
        (400, false),
        (402, false),
    ] {
        fake.fail_next(status);
        let result = provider.create_payment(&request(OrderId::new())).await;
        let unavailable = matches!(result, Err(ProviderError::Unavailable { .. }));
        let refused = matches!(result, Err(ProviderError::Refused { .. }));
        assert!(
            if retryable { unavailable } else { refused },
            "{status}: {result:?}"
        );
    }

    let wrong_key = provider_at(fake.api_url(), "sk_test_wrong");
    let result = wrong_key.create_payment(&request(OrderId::new())).await;
    assert!(
        matches!(&result, Err(ProviderError::Refused { message, .. }) if message.starts_with("401")),
        "{result:?}"
    );

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = closed.local_addr().expect("its address");
    drop(closed);
    let unreachable = provider_at(format!("http://{addr}"), "sk_test_fake");
    let result = unreachable.payment_status(OrderId::new()).await;
    assert!(
        matches!(result, Err(ProviderError::Unavailable { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn keys_are_never_printed() {
    let fake = FakeStripe::start().await;
    let provider = provider(&fake);
    let printed = format!("{provider:?}");
    assert!(!printed.contains(fake.secret_key()) && !printed.contains(fake.webhook_secret()));
}
