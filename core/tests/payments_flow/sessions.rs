//! Starting a payment: who may, for which orders, and how long a session lasts.

use super::*;

async fn the_owner_gets_one_session_however_often_they_ask(t: TestShop) {
    let (shop, provider) = paying(&t);
    let (ada, order, session) = started(&shop).await;
    assert_eq!(session.provider, ProviderKind::Sandbox);
    let token = token_of(&session);
    assert_eq!(
        session.redirect_url,
        format!("https://shop.test/pay/{token}")
    );
    assert_eq!(
        session.expires_at,
        whole_seconds(order.placed_at + Duration::hours(24))
    );
    let again = shop.start_payment(&ada, order.id).await.expect("again");
    assert_eq!(again, session);
    assert_eq!(
        provider.sessions.load(Ordering::SeqCst),
        1,
        "no second call"
    );

    // Concurrent first requests for another order all answer the one session stored.
    let mug = create_product(&shop, "MUG-2", 500, 10).await;
    let second = place_order(&shop, &ada, mug.id, 1).await;
    let answers =
        futures::future::join_all((0..6).map(|_| shop.start_payment(&ada, second.id))).await;
    let first = answers[0].as_ref().expect("started").clone();
    for answer in &answers {
        assert_eq!(answer.as_ref().expect("started"), &first);
    }
    let page = shop
        .sandbox_payment(&token_of(&first))
        .await
        .expect("the page");
    assert_eq!((page.order_id, page.total), (second.id, second.total));
    assert_eq!(page.status, OrderStatus::PendingPayment);
}

async fn only_the_owner_of_a_payable_order_may_pay(t: TestShop) {
    let (shop, provider) = paying(&t);
    let (_, ada) = register_customer(&shop, "ada@example.com").await;
    let (_, bob) = register_customer(&shop, "bob@example.com").await;
    let (_, root) = register_admin(&shop, "root@example.com").await;
    let mug = create_product(&shop, "MUG-1", 1_000, 10).await;
    let order = place_order(&shop, &ada, mug.id, 1).await;
    for other in [&bob, &root] {
        let refused = shop.start_payment(other, order.id).await;
        assert!(matches!(refused, Err(AppError::NotFound(_))), "{refused:?}");
    }
    let anonymous = shop.start_payment(&Actor::Anonymous, order.id).await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );

    shop.cancel_order(&ada, order.id).await.expect("cancel");
    let cancelled = shop.start_payment(&ada, order.id).await;
    assert!(
        matches!(cancelled, Err(AppError::InvalidTransition(_))),
        "{cancelled:?}"
    );

    let paid = place_order(&shop, &ada, mug.id, 1).await;
    shop.record_payment(
        &admin(),
        RecordPayment {
            order_id: paid.id.to_string(),
            amount_minor: paid.total.amount_minor(),
            currency: "USD".into(),
            provider: "cash".into(),
            reference: "till-1".into(),
            status: "succeeded".into(),
            failure_reason: None,
        },
    )
    .await
    .expect("paid at the till");
    let already = shop.start_payment(&ada, paid.id).await;
    assert!(
        matches!(already, Err(AppError::InvalidTransition(_))),
        "{already:?}"
    );
    // Staff payments announce the payment too, with the order paid event.
    let succeeded = events_of_type(&shop, SUCCEEDED).await;
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0].payload["provider"], "cash");

    let euro = create_product_with(
        &shop,
        shop_core::app::CreateProduct {
            currency: "EUR".into(),
            ..product_command("EURO-1", 900, 5)
        },
    )
    .await;
    let in_euro = place_order(&shop, &ada, euro.id, 1).await;
    support::expect_validation(shop.start_payment(&ada, in_euro.id).await, &["currency"]);
    assert_eq!(
        provider.sessions.load(Ordering::SeqCst),
        0,
        "nothing was asked of the provider"
    );
}

async fn sessions_never_outlive_the_order_and_stay_within_the_providers_limits(t: TestShop) {
    let day = std::time::Duration::from_secs(24 * 60 * 60);
    let (shop, provider) = paying_as(
        &t,
        ProviderKind::Stripe,
        PaymentSettings {
            timeout: 2 * day,
            ..settings()
        },
    );
    let (_, ada) = register_customer(&shop, "ada@example.com").await;
    let mug = create_product(&shop, "MUG-1", 1_000, 10).await;
    let order = place_order(&shop, &ada, mug.id, 1).await;
    let deadline = whole_seconds(order.placed_at + Duration::hours(48));
    let now = order.placed_at + Duration::hours(1);
    let at = |now: DateTime<Utc>| shop.clone().with_clock(Arc::new(StoppedAt(now)));
    // Stripe sessions last at most 24 hours, so the 48 hours the order has are cut short.
    let first = at(now).start_payment(&ada, order.id).await.expect("start");
    let requests = provider.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].expires_at, first.expires_at);
    // ... and once a session expired, asking again opens the next one, up to the order's end.
    let mut sessions = vec![first];
    let mut now = now;
    while let Some(last) = sessions.last().filter(|last| last.expires_at < deadline) {
        assert!(last.expires_at <= now + Duration::hours(24), "{last:?}");
        assert!(last.expires_at >= now + Duration::minutes(30), "{last:?}");
        now = last.expires_at;
        let next = at(now).start_payment(&ada, order.id).await.expect("again");
        assert_ne!(next.token, last.token);
        sessions.push(next);
        assert!(sessions.len() <= 3, "{sessions:?}");
    }
    let second = sessions.last().expect("the last").clone();
    assert_eq!(second.expires_at, deadline);
    // While it is live, it is the answer.
    let near_end = deadline - Duration::minutes(10);
    let third = at(near_end)
        .start_payment(&ada, order.id)
        .await
        .expect("the second session is still live");
    assert_eq!(third, second);
    // Past the order's end nothing opens, whatever the sweeper has not cancelled yet.
    let late = at(deadline + Duration::hours(1))
        .start_payment(&ada, order.id)
        .await;
    assert!(matches!(late, Err(AppError::Rule(_))), "{late:?}");

    // An order with less time left than the 30 minutes Stripe requires gets no session (one
    // would outlive the order): a clear refusal, nothing asked of Stripe, nothing stored.
    let (short, counted) = paying_as(
        &t,
        ProviderKind::Stripe,
        PaymentSettings {
            timeout: std::time::Duration::from_secs(40 * 60),
            ..settings()
        },
    );
    let quick = place_order(&short, &ada, mug.id, 1).await;
    let at_short = |now: DateTime<Utc>| short.clone().with_clock(Arc::new(StoppedAt(now)));
    let before = snapshot(&short).await;
    let refused = at_short(quick.placed_at + Duration::minutes(15))
        .start_payment(&ada, quick.id)
        .await;
    let Err(AppError::Rule(message)) = refused else {
        panic!("expected a refusal, got {refused:?}");
    };
    assert!(message.contains("run out"), "{message}");
    assert_eq!(counted.sessions.load(Ordering::SeqCst), 0);
    assert_eq!(snapshot(&short).await, before);
    assert!(
        short
            .store()
            .latest_payment_session(quick.id)
            .await
            .expect("read")
            .is_none()
    );
    // With enough time left, the session ends with the order, not 30 minutes from now.
    let session = at_short(quick.placed_at)
        .start_payment(&ada, quick.id)
        .await
        .expect("start");
    assert_eq!(
        session.expires_at,
        whole_seconds(quick.placed_at + Duration::minutes(40))
    );
}

async fn a_live_session_of_another_provider_is_not_answered(t: TestShop) {
    let (sandbox, _) = paying(&t);
    let (ada, order, first) = started(&sandbox).await;
    assert_eq!(first.provider, ProviderKind::Sandbox);
    // The shop switches provider while the sandbox session is still live.
    let (stripe, counted) = paying_as(&t, ProviderKind::Stripe, settings());
    let second = stripe.start_payment(&ada, order.id).await.expect("start");
    assert_eq!(second.provider, ProviderKind::Stripe);
    assert_ne!(second.token, first.token);
    assert_eq!(counted.sessions.load(Ordering::SeqCst), 1);
    assert_eq!(
        stripe.start_payment(&ada, order.id).await.expect("again"),
        second
    );
}

/// A shop on its own database that chose no provider takes no money online: no session, no
/// sandbox page, no notification, whatever is signed with the sandbox's key.
async fn a_shop_without_a_chosen_provider_takes_no_online_payments(t: TestShop) {
    let (shop, provider) = paying_as(
        &t,
        ProviderKind::Sandbox,
        PaymentSettings {
            enabled: false,
            ..settings()
        },
    );
    let (_, ada) = register_customer(&shop, "ada@example.com").await;
    let mug = create_product(&shop, "MUG-1", 1_000, 10).await;
    let order = place_order(&shop, &ada, mug.id, 1).await;
    let refused = shop.start_payment(&ada, order.id).await;
    assert!(matches!(refused, Err(AppError::Rule(_))), "{refused:?}");
    assert_eq!(provider.sessions.load(Ordering::SeqCst), 0);
    let forged = notification(&order, "any", order.total, true, Utc::now());
    let refused = notify(&shop, &forged).await;
    assert!(matches!(refused, Err(AppError::NotFound(_))), "{refused:?}");
    let page = shop.sandbox_payment("any").await;
    assert!(matches!(page, Err(AppError::NotFound(_))), "{page:?}");
    assert_eq!(status_of(&shop, &order).await, OrderStatus::PendingPayment);
}

contract_tests! {
    the_owner_gets_one_session_however_often_they_ask,
    only_the_owner_of_a_payable_order_may_pay,
    sessions_never_outlive_the_order_and_stay_within_the_providers_limits,
    a_live_session_of_another_provider_is_not_answered,
    a_shop_without_a_chosen_provider_takes_no_online_payments,
}
