//! The provider's notifications: verified, applied once, stored, never moving an order back.

use super::*;

async fn paying_on_the_sandbox_page_pays_the_order_once(t: TestShop) {
    let (shop, _) = paying(&t);
    let (ada, order, session) = started(&shop).await;
    let token = token_of(&session);
    let pay = shop
        .sandbox_notification(&token, true)
        .await
        .expect("the Pay button");
    assert_eq!(
        notify(&shop, &pay).await.expect("applied"),
        NotificationOutcome::Applied
    );
    assert_eq!(status_of(&shop, &order).await, OrderStatus::Paid);
    let payments = shop.list_payments(&ada, order.id).await.expect("payments");
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, PaymentStatus::Succeeded);
    assert_eq!(
        (payments[0].amount, payments[0].reference.as_str()),
        (order.total, token.as_str())
    );
    let paid = events_of_type(&shop, PAID).await;
    let succeeded = events_of_type(&shop, SUCCEEDED).await;
    assert_eq!((paid.len(), succeeded.len()), (1, 1));
    assert_eq!(succeeded[0].subject, format!("orders/{}", order.id));
    assert_eq!(succeeded[0].payload["provider"], "sandbox");
    assert_eq!(succeeded[0].payload["reference"], token);
    assert_eq!(
        succeeded[0].payload["payment_id"],
        payments[0].id.to_string()
    );
    assert_eq!(succeeded[0].payload["amount_minor"], 2_500);

    // The provider delivers again, once later and several times at once: nothing more happens.
    let before = snapshot(&shop).await;
    assert_eq!(
        notify(&shop, &pay).await.expect("again"),
        NotificationOutcome::Duplicate
    );
    let burst = futures::future::join_all((0..4).map(|_| notify(&shop, &pay))).await;
    for outcome in burst {
        assert_eq!(outcome.expect("handled"), NotificationOutcome::Duplicate);
    }
    assert_eq!(snapshot(&shop).await, before);
    assert_eq!(
        shop.list_payments(&ada, order.id)
            .await
            .expect("payments")
            .len(),
        1
    );
    let stored = stored_outcomes(&shop).await;
    assert_eq!(stored[0], NotificationStatus::Applied);
    assert_eq!(stored.len(), 6);
    assert!(
        stored[1..]
            .iter()
            .all(|status| *status == NotificationStatus::Duplicate)
    );
    let audit = shop
        .store()
        .recent_notifications(100)
        .await
        .expect("stored");
    let first = audit.last().expect("the first delivery");
    assert_eq!(
        first.body.as_bytes(),
        pay.1.as_slice(),
        "stored as received"
    );
    assert_eq!(first.order_id, Some(order.id));
    assert!(
        first
            .headers
            .iter()
            .any(|(name, _)| name == "sandbox-signature")
    );
}

async fn concurrent_first_deliveries_pay_once(t: TestShop) {
    let (shop, _) = paying(&t);
    let (ada, order, session) = started(&shop).await;
    let pay = shop
        .sandbox_notification(&token_of(&session), true)
        .await
        .expect("pay");
    let outcomes = futures::future::join_all((0..5).map(|_| notify(&shop, &pay))).await;
    let applied = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(NotificationOutcome::Applied)))
        .count();
    assert_eq!(applied, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|outcome| matches!(
        outcome,
        Ok(NotificationOutcome::Applied | NotificationOutcome::Duplicate)
    )));
    assert_eq!(
        shop.list_payments(&ada, order.id)
            .await
            .expect("payments")
            .len(),
        1
    );
    assert_eq!(events_of_type(&shop, PAID).await.len(), 1);
}

async fn forged_missing_stale_and_malformed_notifications_change_nothing(t: TestShop) {
    let (shop, _) = paying(&t);
    let (_, order, session) = started(&shop).await;
    let token = token_of(&session);
    let now = Utc::now();
    let before = snapshot(&shop).await;
    let (headers, body) = notification(&order, &token, order.total, true, now);
    let mut forged_body = body.clone();
    forged_body.extend_from_slice(b" ");
    let no_signature: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case(SIGNATURE_HEADER))
        .cloned()
        .collect();
    let other_key = SandboxProvider::new(SecretString::from("another key".to_owned()), "x")
        .signed_notification(
            &SandboxNotice {
                order_id: order.id,
                token: token.clone(),
                amount: order.total,
                paid: true,
            },
            now,
        );
    let stale = notification(
        &order,
        &token,
        order.total,
        true,
        now - Duration::minutes(6),
    );
    let signer = SandboxProvider::new(SecretString::from(SECRET.to_owned()), "x");
    let garbage = b"{\"id\": 1}".to_vec();
    let signed_garbage = vec![(
        SIGNATURE_HEADER.to_owned(),
        format!(
            "t={},v1={}",
            now.timestamp(),
            signer.sign(now.timestamp(), &garbage)
        ),
    )];
    let cases = [
        (
            (headers.clone(), forged_body),
            Some(SignatureProblem::Invalid),
        ),
        (
            (no_signature, body.clone()),
            Some(SignatureProblem::Missing),
        ),
        (other_key, Some(SignatureProblem::Invalid)),
        (stale, Some(SignatureProblem::Stale)),
        ((signed_garbage, garbage), None),
    ];
    for (case, problem) in &cases {
        match (notify(&shop, case).await, problem) {
            (Err(AppError::SignatureRefused(got)), Some(expected)) => assert_eq!(&got, expected),
            (Err(AppError::MalformedNotification(_)), None) => {}
            (other, _) => panic!("expected {problem:?}, got {other:?}"),
        }
    }
    // Another provider's webhook is not this shop's.
    let elsewhere = shop
        .handle_payment_notification(ProviderKind::Stripe, &headers, &body)
        .await;
    assert!(
        matches!(elsewhere, Err(AppError::NotFound(_))),
        "{elsewhere:?}"
    );

    assert_eq!(snapshot(&shop).await, before, "nothing changed");
    assert_eq!(status_of(&shop, &order).await, OrderStatus::PendingPayment);
    assert_eq!(
        stored_outcomes(&shop).await,
        vec![NotificationStatus::Rejected; 5]
    );
    // The genuine notification still works afterwards.
    assert_eq!(
        notify(&shop, &(headers, body)).await.expect("genuine"),
        NotificationOutcome::Applied
    );
}

async fn a_payment_of_another_amount_is_recorded_as_failed(t: TestShop) {
    let (shop, _) = paying(&t);
    let (ada, order, session) = started(&shop).await;
    let token = token_of(&session);
    let usd = order.total.currency();
    let eur = Currency::parse("EUR").expect("EUR");
    for (index, wrong) in [
        Money::new(order.total.amount_minor() - 1, usd),
        Money::new(order.total.amount_minor(), eur),
    ]
    .into_iter()
    .enumerate()
    {
        let outcome = notify(
            &shop,
            &notification(&order, &token, wrong, true, Utc::now()),
        )
        .await
        .expect("handled");
        let NotificationOutcome::Mismatch { reason } = outcome else {
            panic!("expected a mismatch, got {outcome:?}");
        };
        assert!(reason.contains(&wrong.to_string()), "{reason}");
        let payments = shop.list_payments(&ada, order.id).await.expect("payments");
        assert_eq!(payments.len(), index + 1);
        let failed = payments.last().expect("recorded");
        assert_eq!(
            (failed.status, failed.amount),
            (PaymentStatus::Failed, wrong)
        );
        assert_eq!(failed.failure_reason.as_deref(), Some(reason.as_str()));
    }
    assert_eq!(status_of(&shop, &order).await, OrderStatus::PendingPayment);
    assert!(events_of_type(&shop, PAID).await.is_empty());
    assert_eq!(events_of_type(&shop, FAILED).await.len(), 2);
    assert_eq!(
        stored_outcomes(&shop).await,
        vec![NotificationStatus::Mismatch; 2]
    );
}

async fn a_decline_then_a_payment_pays_and_late_news_never_moves_back(t: TestShop) {
    let (shop, _) = paying(&t);
    let (ada, order, session) = started(&shop).await;
    let token = token_of(&session);
    let decline = shop
        .sandbox_notification(&token, false)
        .await
        .expect("decline");
    assert_eq!(
        notify(&shop, &decline).await.expect("declined"),
        NotificationOutcome::Applied
    );
    assert_eq!(status_of(&shop, &order).await, OrderStatus::PendingPayment);
    let failed = events_of_type(&shop, FAILED).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].payload["reason"], "declined on the sandbox page");

    let pay = shop.sandbox_notification(&token, true).await.expect("pay");
    assert_eq!(
        notify(&shop, &pay).await.expect("paid"),
        NotificationOutcome::Applied
    );
    assert_eq!(status_of(&shop, &order).await, OrderStatus::Paid);

    // A failure delivered after the payment, and a second success: recorded, ignored.
    let before = snapshot(&shop).await;
    let late_failure = notification(&order, &token, order.total, false, Utc::now());
    assert_eq!(
        notify(&shop, &late_failure).await.expect("late"),
        NotificationOutcome::Ignored
    );
    let second_pay = shop
        .sandbox_notification(&token, true)
        .await
        .expect("pay again");
    assert_eq!(
        notify(&shop, &second_pay).await.expect("again"),
        NotificationOutcome::Ignored
    );
    assert_eq!(
        snapshot(&shop).await,
        before,
        "the order stays paid, no events"
    );
    let payments = shop.list_payments(&ada, order.id).await.expect("payments");
    let statuses: Vec<PaymentStatus> = payments.iter().map(|p| p.status).collect();
    assert_eq!(statuses, [PaymentStatus::Failed, PaymentStatus::Succeeded]);
}

/// Money taken for an order the shop gave up on (cancelled by the customer, or expired unpaid
/// while they were paying) is recorded as a succeeded payment, the order unchanged, with an
/// event, so that staff see it in the order's payments and refund it.
async fn money_taken_for_a_cancelled_or_expired_order_is_recorded_for_a_refund(t: TestShop) {
    let (shop, _) = paying(&t);
    let (ada, cancelled, session) = started(&shop).await;
    let pay = shop
        .sandbox_notification(&token_of(&session), true)
        .await
        .expect("pay");
    shop.cancel_order(&ada, cancelled.id).await.expect("cancel");

    let mug = create_product(&shop, "MUG-9", 700, 5).await;
    let expiring = place_order(&shop, &ada, mug.id, 1).await;
    let token = token_of(&shop.start_payment(&ada, expiring.id).await.expect("start"));
    // The sweeper runs once the payment timeout (24 h) has passed; the provider's success
    // arrives after that.
    let late_at = expiring.placed_at + Duration::hours(24) + Duration::minutes(1);
    let later = shop.clone().with_clock(Arc::new(StoppedAt(late_at)));
    assert!(later.expire_unpaid_orders(10).await.expect("swept") >= 1);
    let late_pay = notification(&expiring, &token, expiring.total, true, late_at);

    for (order, delivery, shop) in [(&cancelled, &pay, &shop), (&expiring, &late_pay, &later)] {
        assert_eq!(status_of(shop, order).await, OrderStatus::Cancelled);
        let paid_before = events_of_type(shop, PAID).await.len();
        assert_eq!(
            notify(shop, delivery).await.expect("recorded"),
            NotificationOutcome::Applied
        );
        assert_eq!(status_of(shop, order).await, OrderStatus::Cancelled);
        let payments = shop.list_payments(&ada, order.id).await.expect("payments");
        assert_eq!(payments.len(), 1);
        assert_eq!(
            (payments[0].status, payments[0].amount),
            (PaymentStatus::Succeeded, order.total)
        );
        let succeeded: Vec<_> = events_of_type(shop, SUCCEEDED)
            .await
            .into_iter()
            .filter(|event| event.payload["order_id"] == order.id.to_string())
            .collect();
        assert_eq!(succeeded.len(), 1);
        assert_eq!(succeeded[0].payload["late"], true);
        assert_eq!(
            succeeded[0].payload["payment_id"],
            payments[0].id.to_string()
        );
        assert_eq!(
            events_of_type(shop, PAID).await.len(),
            paid_before,
            "not paid"
        );
        // Delivered again: still one payment.
        assert_eq!(
            notify(shop, delivery).await.expect("again"),
            NotificationOutcome::Duplicate
        );
        assert_eq!(
            shop.list_payments(&ada, order.id)
                .await
                .expect("payments")
                .len(),
            1
        );
    }
}

/// Anyone may post to the webhook: a refused body is kept short (with its hash and length),
/// and a NUL byte in it is a refusal like any other, never a server error.
async fn refused_bodies_are_kept_short_and_nul_bytes_never_fail(t: TestShop) {
    let (shop, _) = paying(&t);
    let (_, order, session) = started(&shop).await;
    let before = snapshot(&shop).await;
    let mut huge = vec![b'x'; 60 * 1024];
    huge[10] = 0;
    let with_nul = b"{\"id\":\"\0evt\"}".to_vec();
    let nul_header = vec![("content-type".to_owned(), "application/json".to_owned())];
    for body in [&huge, &with_nul] {
        let refused = notify(&shop, &(nul_header.clone(), body.clone())).await;
        assert!(
            matches!(
                refused,
                Err(AppError::SignatureRefused(SignatureProblem::Missing))
            ),
            "{refused:?}"
        );
    }
    // Signed, then the body changed to carry a NUL: a bad signature, stored.
    let (headers, mut body) =
        notification(&order, &token_of(&session), order.total, true, Utc::now());
    body.insert(1, 0);
    let refused = notify(&shop, &(headers, body.clone())).await;
    assert!(
        matches!(
            refused,
            Err(AppError::SignatureRefused(SignatureProblem::Invalid))
        ),
        "{refused:?}"
    );
    assert_eq!(snapshot(&shop).await, before);

    let mut stored = shop.store().recent_notifications(10).await.expect("stored");
    stored.reverse();
    assert_eq!(stored.len(), 3);
    for (record, sent) in stored.iter().zip([&huge, &with_nul, &body]) {
        assert_eq!(record.status, NotificationStatus::Rejected);
        assert!(record.body.len() <= 1024, "{}", record.body.len());
        assert!(!record.body.contains('\0'));
        assert_eq!(
            record.body_length,
            i64::try_from(sent.len()).expect("small")
        );
        assert_eq!(
            record.body_sha256,
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(sent))
        );
    }
    assert_eq!(
        stored[0].body,
        "x".repeat(1024),
        "the NUL removed, then cut"
    );
}

/// A second payment for an order already paid (another session's, under another reference) is
/// money taken twice: recorded as a late payment for staff to refund, the order left paid.
async fn a_second_payment_for_a_paid_order_is_recorded_for_a_refund(t: TestShop) {
    let (shop, _) = paying(&t);
    let (ada, order, session) = started(&shop).await;
    let pay = shop
        .sandbox_notification(&token_of(&session), true)
        .await
        .expect("pay");
    assert_eq!(
        notify(&shop, &pay).await.expect("paid"),
        NotificationOutcome::Applied
    );
    let paid_events = events_of_type(&shop, PAID).await.len();

    let twice = notification(&order, "another-session", order.total, true, Utc::now());
    assert_eq!(
        notify(&shop, &twice).await.expect("recorded"),
        NotificationOutcome::Applied
    );
    assert_eq!(status_of(&shop, &order).await, OrderStatus::Paid);
    let payments = shop.list_payments(&ada, order.id).await.expect("payments");
    let references: Vec<(&str, PaymentStatus)> = payments
        .iter()
        .map(|payment| (payment.reference.as_str(), payment.status))
        .collect();
    assert_eq!(references.len(), 2, "{references:?}");
    assert!(references.contains(&("another-session", PaymentStatus::Succeeded)));
    let late: Vec<_> = events_of_type(&shop, SUCCEEDED)
        .await
        .into_iter()
        .filter(|event| event.payload["late"] == true)
        .collect();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].payload["reference"], "another-session");
    assert_eq!(
        events_of_type(&shop, PAID).await.len(),
        paid_events,
        "paid once"
    );
    assert_eq!(
        notify(&shop, &twice).await.expect("again"),
        NotificationOutcome::Duplicate
    );
}

contract_tests! {
    paying_on_the_sandbox_page_pays_the_order_once,
    concurrent_first_deliveries_pay_once,
    forged_missing_stale_and_malformed_notifications_change_nothing,
    a_payment_of_another_amount_is_recorded_as_failed,
    a_decline_then_a_payment_pays_and_late_news_never_moves_back,
    money_taken_for_a_cancelled_or_expired_order_is_recorded_for_a_refund,
    refused_bodies_are_kept_short_and_nul_bytes_never_fail,
    a_second_payment_for_a_paid_order_is_recorded_for_a_refund,
}
