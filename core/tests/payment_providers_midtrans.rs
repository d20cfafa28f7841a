//! The Midtrans adapter against a local fake that follows Midtrans' documented API
//! (`shop_testing::fake_midtrans`): what is sent, how notifications are verified and confirmed,
//! how every transaction status maps, refunds, and how failures are reported.

use std::time::Duration;

use base64::Engine as _;
use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use shop_core::adapters::payments::midtrans::{MidtransOptions, MidtransProvider};
use shop_core::domain::{Currency, Money, OrderId};
use shop_core::ports::{
    NotificationError, PaymentCustomer, PaymentItem, PaymentOutcome, PaymentProvider,
    PaymentRequest, ProviderError, ProviderEvent, RawNotification, RefundRequest,
};
use shop_testing::fake_midtrans::{FakeMidtrans, signature};

fn idr(rupiah: i64) -> Money {
    Money::new(rupiah * 100, Currency::parse("IDR").expect("IDR"))
}

fn provider_for(snap_url: String, api_url: String, key: &str) -> MidtransProvider {
    MidtransProvider::new(MidtransOptions {
        server_key: key.to_owned().into(),
        snap_url,
        api_url,
        timeout: Duration::from_secs(5),
    })
    .expect("a provider")
}

fn provider(fake: &FakeMidtrans) -> MidtransProvider {
    provider_for(fake.snap_url(), fake.api_url(), &fake.server_key())
}

/// Two units at 10 000 rupiah plus 4 145 rupiah tax: 24 145 rupiah.
fn request(order_id: OrderId) -> PaymentRequest {
    PaymentRequest {
        order_id,
        amount: idr(24_145),
        items: vec![
            PaymentItem {
                id: "sku-batik".into(),
                name: "Batik shirt".into(),
                unit_price: idr(10_000),
                quantity: 2,
            },
            PaymentItem {
                id: "tax".into(),
                name: "Tax".into(),
                unit_price: idr(4_145),
                quantity: 1,
            },
        ],
        customer: PaymentCustomer {
            email: "budi@example.com".into(),
            name: "Budi Susanto".into(),
        },
        expires_at: Utc::now() + TimeDelta::hours(24),
        idempotency_key: format!("pay-{order_id}"),
        return_url: Some(format!("https://shop.example/pay/return/{order_id}")),
    }
}

async fn verify(
    provider: &MidtransProvider,
    (headers, body): &(Vec<(String, String)>, Vec<u8>),
) -> Result<ProviderEvent, NotificationError> {
    provider
        .verify_notification(RawNotification {
            headers,
            body,
            received_at: Utc::now(),
        })
        .await
}

/// A created transaction, ready for notifications.
async fn created(provider: &MidtransProvider) -> OrderId {
    let order_id = OrderId::new();
    provider
        .create_payment(&request(order_id))
        .await
        .expect("a Snap transaction");
    order_id
}

#[tokio::test]
async fn create_payment_sends_whole_rupiah_that_add_up_with_the_server_key() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);
    let order_id = OrderId::new();
    let mut request = request(order_id);
    // Half a minute past whole minutes: rounded down, so the page never outlives the order.
    request.expires_at = Utc::now() + TimeDelta::hours(24) + TimeDelta::seconds(30);

    let session = provider.create_payment(&request).await.expect("a session");
    assert!(session.expires_at <= request.expires_at);

    assert_eq!(session.reference, order_id.to_string());
    assert!(
        session
            .token
            .as_deref()
            .is_some_and(|token| !token.is_empty())
    );
    assert!(session.redirect_url.starts_with("https://"));
    let lifetime = session.expires_at - Utc::now();
    assert!(lifetime > TimeDelta::hours(23) && lifetime <= TimeDelta::hours(24));

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/snap/v1/transactions")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:", fake.server_key()));
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    let body = sent.json();
    assert_eq!(
        body["transaction_details"]["order_id"],
        order_id.to_string()
    );
    assert_eq!(body["transaction_details"]["gross_amount"], 24_145);
    let items = body["item_details"].as_array().expect("items");
    let sum: i64 = items
        .iter()
        .map(|item| item["price"].as_i64().unwrap_or(0) * item["quantity"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(sum, 24_145);
    assert_eq!(items[0]["price"], 10_000);
    assert_eq!(items[0]["quantity"], 2);
    assert_eq!(body["customer_details"]["email"], "budi@example.com");
    assert_eq!(body["expiry"]["unit"], "minute");
    assert_eq!(body["expiry"]["duration"], 24 * 60);
    assert_eq!(
        body["callbacks"]["finish"],
        format!("https://shop.example/pay/return/{order_id}")
    );
}

#[tokio::test]
async fn currencies_and_amounts_midtrans_cannot_take_are_refused_before_any_request() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);
    let usd = Currency::parse("USD").expect("USD");
    assert!(provider.accepts_currency(Currency::parse("IDR").expect("IDR")));
    assert!(!provider.accepts_currency(usd));

    let mut in_dollars = request(OrderId::new());
    in_dollars.amount = Money::new(2_700, usd);
    let refused = provider.create_payment(&in_dollars).await;
    assert!(
        matches!(refused, Err(ProviderError::UnsupportedCurrency { .. })),
        "{refused:?}"
    );

    // 24 145.50 rupiah: Midtrans counts whole rupiah; rounding would charge a different amount.
    let mut with_sen = request(OrderId::new());
    with_sen.amount = Money::new(2_414_550, with_sen.amount.currency());
    with_sen.items[1].unit_price = Money::new(414_550, with_sen.amount.currency());
    let refused = provider.create_payment(&with_sen).await;
    assert!(
        matches!(refused, Err(ProviderError::Refused { .. })),
        "{refused:?}"
    );

    let mut not_adding_up = request(OrderId::new());
    not_adding_up.items.pop();
    let refused = provider.create_payment(&not_adding_up).await;
    assert!(
        matches!(refused, Err(ProviderError::Refused { .. })),
        "{refused:?}"
    );

    assert!(fake.requests().is_empty(), "nothing may reach Midtrans");
}

#[tokio::test]
async fn a_verified_notification_is_confirmed_by_the_status_endpoint() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);
    let order_id = created(&provider).await;
    let notification = fake.notification(&order_id.to_string(), "settlement", None);
    let body: Value = serde_json::from_slice(&notification.1).expect("JSON");
    assert_eq!(
        body["gross_amount"], "24145.00",
        "Midtrans spells amounts with .00"
    );

    let event = verify(&provider, &notification).await.expect("verified");

    assert_eq!(event.outcome, PaymentOutcome::Succeeded);
    assert_eq!(event.order_id, order_id);
    assert_eq!(event.amount, idr(24_145));
    let transaction_id = body["transaction_id"].as_str().expect("an id");
    assert_eq!(event.reference, transaction_id);
    assert_eq!(event.event_id, format!("{transaction_id}:settlement"));
    let status_calls = fake
        .requests()
        .iter()
        .filter(|sent| sent.method == "GET" && sent.path == format!("/v2/{order_id}/status"))
        .count();
    assert_eq!(
        status_calls, 1,
        "confirmed with GET /v2/{{order_id}}/status"
    );
}

#[tokio::test]
async fn the_status_answer_decides_not_the_notification() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);
    let order_id = created(&provider).await;
    let notification = fake.notification(&order_id.to_string(), "settlement", None);
    // A replayed or early notification: Midtrans itself says the payment is still pending.
    fake.set_status(&order_id.to_string(), "pending", None);

    let event = verify(&provider, &notification).await.expect("verified");

    assert_eq!(event.outcome, PaymentOutcome::Pending);
}

#[tokio::test]
async fn forged_tampered_missing_and_malformed_notifications_are_refused_unconfirmed() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);
    let order_id = created(&provider).await;
    let (headers, body) = fake.notification(&order_id.to_string(), "settlement", None);
    let genuine: Value = serde_json::from_slice(&body).expect("JSON");
    let requests_before = fake.requests().len();

    let mut tampered = genuine.clone();
    tampered["gross_amount"] = "1.00".into();
    let result = verify(
        &provider,
        &(headers.clone(), tampered.to_string().into_bytes()),
    )
    .await;
    assert!(
        matches!(result, Err(NotificationError::BadSignature)),
        "{result:?}"
    );

    // Signed over "24145" while the body says "24145.00": the exact spelling is what is signed.
    let mut respelled = genuine.clone();
    respelled["signature_key"] = signature(
        &order_id.to_string(),
        genuine["status_code"].as_str().expect("a code"),
        "24145",
        &fake.server_key(),
    )
    .into();
    let result = verify(
        &provider,
        &(headers.clone(), respelled.to_string().into_bytes()),
    )
    .await;
    assert!(
        matches!(result, Err(NotificationError::BadSignature)),
        "{result:?}"
    );

    let mut other_key = genuine.clone();
    other_key["signature_key"] = signature(
        &order_id.to_string(),
        genuine["status_code"].as_str().expect("a code"),
        "24145.00",
        "SB-Mid-server-someone-else",
    )
    .into();
    let result = verify(
        &provider,
        &(headers.clone(), other_key.to_string().into_bytes()),
    )
    .await;
    assert!(
        matches!(result, Err(NotificationError::BadSignature)),
        "{result:?}"
    );

    let mut unsigned = genuine.clone();
    unsigned
        .as_object_mut()
        .expect("an object")
        .remove("signature_key");
    let result = verify(
        &provider,
        &(headers.clone(), unsigned.to_string().into_bytes()),
    )
    .await;
    assert!(
        matches!(result, Err(NotificationError::MissingSignature)),
        "{result:?}"
    );

    let result = verify(&provider, &(headers.clone(), b"order_id=1".to_vec())).await;
    assert!(
        matches!(result, Err(NotificationError::Malformed(_))),
        "{result:?}"
    );

    // Correctly signed, but not one of our order ids (another system's order, the dashboard's
    // test notification): ignored, answered 200, so that Midtrans stops retrying.
    for foreign_id in ["ORDER-101", "payment_notif_test_G123456789_abcdef"] {
        let foreign = fake.signed_notification(json!({
            "order_id": foreign_id, "status_code": "200", "gross_amount": "10000.00",
            "transaction_status": "settlement", "transaction_id": "t-1",
        }));
        let result = verify(&provider, &foreign).await;
        assert!(
            matches!(result, Err(NotificationError::Ignored(_))),
            "{foreign_id}: {result:?}"
        );
    }

    assert_eq!(
        fake.requests().len(),
        requests_before,
        "no status query for refused notifications"
    );
}

#[tokio::test]
async fn every_transaction_status_maps_to_what_it_means_for_the_order() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);
    let order_id = created(&provider).await;
    let order = order_id.to_string();
    let failed = |prefix: &'static str| move |outcome: &PaymentOutcome| matches!(outcome, PaymentOutcome::Failed { reason } if reason.starts_with(prefix));
    type Check = Box<dyn Fn(&PaymentOutcome) -> bool>;
    let table: Vec<(&str, Option<&str>, Check)> = vec![
        (
            "settlement",
            None,
            Box::new(|o| *o == PaymentOutcome::Succeeded),
        ),
        (
            "capture",
            Some("accept"),
            Box::new(|o| *o == PaymentOutcome::Succeeded),
        ),
        (
            "capture",
            Some("challenge"),
            Box::new(|o| *o == PaymentOutcome::Pending),
        ),
        ("capture", None, Box::new(|o| *o == PaymentOutcome::Pending)),
        ("capture", Some("deny"), Box::new(failed("capture"))),
        ("pending", None, Box::new(|o| *o == PaymentOutcome::Pending)),
        (
            "authorize",
            Some("accept"),
            Box::new(|o| *o == PaymentOutcome::Pending),
        ),
        ("deny", Some("deny"), Box::new(failed("deny"))),
        ("cancel", None, Box::new(failed("cancel"))),
        ("expire", None, Box::new(failed("expire"))),
        ("failure", None, Box::new(failed("failure"))),
        (
            "refund",
            None,
            Box::new(|o| matches!(o, PaymentOutcome::Refunded { .. })),
        ),
        (
            "partial_refund",
            None,
            Box::new(|o| matches!(o, PaymentOutcome::Refunded { .. })),
        ),
    ];
    let mut event_ids = std::collections::HashSet::new();
    for (status, fraud, expected) in table {
        let event = verify(&provider, &fake.notification(&order, status, fraud))
            .await
            .unwrap_or_else(|error| panic!("{status}/{fraud:?}: {error}"));
        assert!(
            expected(&event.outcome),
            "{status}/{fraud:?} → {:?}",
            event.outcome
        );
        // Each state is its own event: capture/challenge must not hide capture/accept.
        assert!(
            event
                .event_id
                .starts_with(&format!("{}:{status}", event.reference)),
            "{}",
            event.event_id
        );
        assert!(
            event_ids.insert(event.event_id.clone()),
            "{status}/{fraud:?} repeats {}",
            event.event_id
        );
        let polled = provider.payment_status(order_id).await.expect("a status");
        assert_eq!(polled, event.outcome, "payment_status agrees for {status}");
    }

    let unknown = verify(&provider, &fake.notification(&order, "on_hold", None)).await;
    assert!(
        matches!(unknown, Err(NotificationError::Ignored(_))),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn a_payment_not_yet_started_is_pending() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);
    let order_id = created(&provider).await;
    // Snap page opened, no payment method chosen: the status endpoint answers 404.
    assert_eq!(
        provider.payment_status(order_id).await.ok(),
        Some(PaymentOutcome::Pending)
    );
}

#[tokio::test]
async fn a_partial_refund_retried_with_its_key_is_one_refund() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);
    let order_id = created(&provider).await;
    let order = order_id.to_string();
    fake.set_status(&order, "settlement", None);
    let refund = |amount: Money, key: &str| RefundRequest {
        order_id,
        payment_reference: "ignored-by-midtrans".into(),
        amount,
        reason: "damaged in transit".into(),
        refund_key: key.into(),
    };

    let first = provider
        .refund(&refund(idr(5_000), "refund-1"))
        .await
        .expect("refunded");
    let retried = provider
        .refund(&refund(idr(5_000), "refund-1"))
        .await
        .expect("replayed");

    assert_eq!(first.amount, idr(5_000));
    assert_eq!(retried.reference, first.reference);
    assert_eq!(
        fake.refunds(&order).len(),
        1,
        "a retry is not a second refund"
    );
    let sent = fake.requests().pop().expect("a request").json();
    assert_eq!(
        sent,
        json!({"refund_key": "refund-1", "amount": 5_000, "reason": "damaged in transit"})
    );
    assert_eq!(
        provider.payment_status(order_id).await.ok(),
        Some(PaymentOutcome::Refunded {
            amount: Some(idr(5_000))
        })
    );

    let too_much = provider.refund(&refund(idr(20_000), "refund-2")).await;
    assert!(
        matches!(too_much, Err(ProviderError::Refused { .. })),
        "{too_much:?}"
    );
    let rest = provider
        .refund(&refund(idr(19_145), "refund-3"))
        .await
        .expect("the rest");
    assert_eq!(rest.amount, idr(19_145));
    assert_eq!(fake.refunds(&order).len(), 2);
    assert_eq!(
        provider.payment_status(order_id).await.ok(),
        Some(PaymentOutcome::Refunded {
            amount: Some(idr(24_145))
        })
    );
}

#[tokio::test]
async fn provider_failures_are_refused_or_unavailable() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);

    fake.fail_next(500);
    let result = provider.create_payment(&request(OrderId::new())).await;
    assert!(
        matches!(result, Err(ProviderError::Unavailable { .. })),
        "{result:?}"
    );

    fake.fail_next(429);
    let result = provider.create_payment(&request(OrderId::new())).await;
    assert!(
        matches!(result, Err(ProviderError::Unavailable { .. })),
        "{result:?}"
    );

    fake.fail_next(400);
    let result = provider.create_payment(&request(OrderId::new())).await;
    assert!(
        matches!(result, Err(ProviderError::Refused { .. })),
        "{result:?}"
    );

    let wrong_key = provider_for(fake.snap_url(), fake.api_url(), "SB-Mid-server-wrong");
    let result = wrong_key.create_payment(&request(OrderId::new())).await;
    assert!(
        matches!(result, Err(ProviderError::Refused { .. })),
        "{result:?}"
    );
    let result = wrong_key.payment_status(OrderId::new()).await;
    assert!(
        matches!(result, Err(ProviderError::Refused { .. })),
        "{result:?}"
    );

    // Confirming a notification while Midtrans is down: the notification is not acted on, and
    // the error tells the webhook to answer 5xx so that Midtrans retries.
    let order_id = created(&provider).await;
    let notification = fake.notification(&order_id.to_string(), "settlement", None);
    fake.fail_next(503);
    let result = verify(&provider, &notification).await;
    assert!(
        matches!(
            result,
            Err(NotificationError::Provider(
                ProviderError::Unavailable { .. }
            ))
        ),
        "{result:?}"
    );

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = closed.local_addr().expect("its address");
    drop(closed);
    let unreachable = provider_for(
        format!("http://{addr}/snap/v1"),
        format!("http://{addr}/v2"),
        "k",
    );
    let result = unreachable.create_payment(&request(OrderId::new())).await;
    assert!(
        matches!(result, Err(ProviderError::Unavailable { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_server_key_is_never_printed() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);
    let options = MidtransOptions {
        server_key: fake.server_key().into(),
        snap_url: fake.snap_url(),
        api_url: fake.api_url(),
        timeout: Duration::from_secs(1),
    };
    for printed in [format!("{provider:?}"), format!("{options:?}")] {
        assert!(!printed.contains(&fake.server_key()), "{printed}");
    }
}

#[tokio::test]
async fn each_partial_refund_is_its_own_event() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);
    let order_id = created(&provider).await;
    let order = order_id.to_string();
    fake.set_status(&order, "settlement", None);
    let mut event_ids = Vec::new();
    for (key, rupiah) in [("refund-1", 5_000), ("refund-2", 3_000)] {
        provider
            .refund(&RefundRequest {
                order_id,
                payment_reference: "ignored-by-midtrans".into(),
                amount: idr(rupiah),
                reason: "damaged".into(),
                refund_key: key.into(),
            })
            .await
            .expect("refunded");
        let event = verify(
            &provider,
            &fake.notification(&order, "partial_refund", None),
        )
        .await
        .expect("verified");
        event_ids.push(event.event_id);
    }
    assert_ne!(
        event_ids[0], event_ids[1],
        "a second partial refund is news"
    );
}

#[tokio::test]
async fn a_status_answer_about_another_order_is_ignored_not_retried() {
    let fake = FakeMidtrans::start().await;
    let provider = provider(&fake);
    let asked = created(&provider).await.to_string();
    let other = created(&provider).await.to_string();
    fake.set_status(&other, "settlement", None);
    let notification = fake.notification(&asked, "settlement", None);
    fake.answer_status_of_other(&asked, &other);
    // Retrying would get the same answer: not an outage (5xx), nothing applied either.
    let result = verify(&provider, &notification).await;
    assert!(
        matches!(result, Err(NotificationError::Ignored(_))),
        "{result:?}"
    );
}
