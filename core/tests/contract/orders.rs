//! Reading orders, cancelling them and moving them through their statuses.

use shop_core::{
    app::{Actor, AppError, ChangeOrderStatus, ListOrders, RecordPayment},
    domain::{Order, OrderId, OrderStatus, TransitionError},
};

use crate::support::{
    TestShop, admin, all_events, create_product, events_of_type, place_order, register_admin,
    register_customer, snapshot, stock_of,
};

fn status(to: &str) -> ChangeOrderStatus {
    ChangeOrderStatus { status: to.into() }
}

async fn pay(t: &TestShop, order: &Order, reference: &str) {
    t.record_payment(
        &admin(),
        RecordPayment {
            order_id: order.id.to_string(),
            amount_minor: order.total.amount_minor(),
            currency: order.total.currency().code().into(),
            provider: "midtrans".into(),
            reference: reference.into(),
            status: "succeeded".into(),
            failure_reason: None,
        },
    )
    .await
    .expect("record the payment");
}

async fn order_ids(t: &TestShop, actor: &Actor, query: ListOrders) -> Vec<OrderId> {
    let limit = query.limit.unwrap_or(20) as usize;
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = t
            .list_orders(
                actor,
                ListOrders {
                    cursor: cursor.take(),
                    ..query.clone()
                },
            )
            .await
            .expect("a page of orders");
        assert!(page.items.len() <= limit);
        ids.extend(page.items.iter().map(|order| order.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
}

async fn orders_are_visible_to_their_owner_and_staff(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let (_, bob) = register_customer(&t, "bob@example.com").await;
    let (_, root) = register_admin(&t, "root@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let order = place_order(&t, &ada, mug.id, 1).await;

    assert_eq!(t.get_order(&ada, order.id).await.expect("own"), order);
    for staff in [root, admin()] {
        assert_eq!(t.get_order(&staff, order.id).await.expect("staff"), order);
        assert_eq!(
            t.order_history(&staff, order.id)
                .await
                .expect("history")
                .len(),
            1
        );
        t.list_payments(&staff, order.id).await.expect("payments");
    }
    let hidden = t.get_order(&bob, order.id).await;
    assert!(matches!(hidden, Err(AppError::NotFound(_))), "{hidden:?}");
    let hidden = t.order_history(&bob, order.id).await;
    assert!(matches!(hidden, Err(AppError::NotFound(_))), "{hidden:?}");
    let hidden = t.list_payments(&bob, order.id).await;
    assert!(matches!(hidden, Err(AppError::NotFound(_))), "{hidden:?}");
    let unknown = t.get_order(&ada, OrderId::new()).await;
    assert!(matches!(unknown, Err(AppError::NotFound(_))), "{unknown:?}");
    let anonymous = t.get_order(&Actor::Anonymous, order.id).await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
}

async fn listing_orders_pages_and_filters(t: TestShop) {
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let (_, bob) = register_customer(&t, "bob@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 100).await;
    let mut adas = Vec::new();
    for _ in 0..3 {
        adas.push(place_order(&t, &ada, mug.id, 1).await.id);
    }
    let bobs = place_order(&t, &bob, mug.id, 1).await.id;
    adas.reverse();

    assert_eq!(
        order_ids(&t, &ada, ListOrders::default()).await,
        adas,
        "newest first"
    );
    let paged = order_ids(
        &t,
        &ada,
        ListOrders {
            limit: Some(2),
            ..ListOrders::default()
        },
    )
    .await;
    assert_eq!(paged, adas, "two pages, no repeats");
    let first_page = t
        .list_orders(
            &ada,
            ListOrders {
                limit: Some(2),
                ..ListOrders::default()
            },
        )
        .await
        .expect("first page");
    assert_eq!(first_page.items.len(), 2);
    assert!(
        first_page
            .items
            .iter()
            .all(|order| order.user_id == ada_user.id)
    );
    assert!(first_page.next_cursor.is_some());
    assert_eq!(order_ids(&t, &bob, ListOrders::default()).await, vec![bobs]);

    let mut everyone = vec![bobs];
    everyone.extend(&adas);
    let all_users = ListOrders {
        all_users: true,
        ..ListOrders::default()
    };
    assert_eq!(order_ids(&t, &admin(), all_users.clone()).await, everyone);
    assert_eq!(
        order_ids(
            &t,
            &admin(),
            ListOrders {
                limit: Some(1),
                ..all_users.clone()
            }
        )
        .await,
        everyone
    );
    let forbidden = t.list_orders(&ada, all_users.clone()).await;
    assert!(
        matches!(forbidden, Err(AppError::Forbidden)),
        "{forbidden:?}"
    );
    let anonymous = t
        .list_orders(&Actor::Anonymous, ListOrders::default())
        .await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );

    t.cancel_order(&ada, adas[1]).await.expect("cancel");
    let cancelled = ListOrders {
        status: Some("cancelled".into()),
        ..ListOrders::default()
    };
    assert_eq!(order_ids(&t, &ada, cancelled.clone()).await, vec![adas[1]]);
    assert_eq!(order_ids(&t, &bob, cancelled).await, vec![]);
    assert_eq!(
        order_ids(
            &t,
            &admin(),
            ListOrders {
                status: Some("pending_payment".into()),
                ..all_users
            }
        )
        .await,
        vec![bobs, adas[0], adas[2]]
    );
}

async fn customers_cancel_until_fulfilment_and_get_the_stock_back(t: TestShop) {
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let (_, bob) = register_customer(&t, "bob@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;

    let pending = place_order(&t, &ada, mug.id, 3).await;
    assert_eq!(stock_of(&t, mug.id).await, 7);
    let not_bobs = t.cancel_order(&bob, pending.id).await;
    assert!(
        matches!(not_bobs, Err(AppError::NotFound(_))),
        "{not_bobs:?}"
    );
    let cancelled = t
        .cancel_order(&ada, pending.id)
        .await
        .expect("cancel a pending order");
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(
        t.get_order(&ada, pending.id).await.expect("order"),
        cancelled
    );
    assert_eq!(
        stock_of(&t, mug.id).await,
        10,
        "the units are back on the shelf"
    );

    let cancel_events = events_of_type(&t, "dev.shop.order.cancelled.v1").await;
    assert_eq!(cancel_events.len(), 1);
    assert_eq!(cancel_events[0].payload["order_id"], pending.id.to_string());
    assert_eq!(
        cancel_events[0].payload["previous_status"],
        "pending_payment"
    );
    let changes = events_of_type(&t, "dev.shop.order.status_changed.v1").await;
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (&changes[0].payload["from"], &changes[0].payload["to"]),
        (&"pending_payment".into(), &"cancelled".into())
    );

    // Once cancelled, it stays cancelled, and stock is not returned twice.
    let before = snapshot(&t).await;
    let again = t.cancel_order(&admin(), pending.id).await;
    assert!(
        matches!(
            again,
            Err(AppError::InvalidTransition(TransitionError {
                from: OrderStatus::Cancelled,
                to: OrderStatus::Cancelled
            }))
        ),
        "{again:?}"
    );
    let again = t.cancel_order(&ada, pending.id).await;
    assert!(
        matches!(
            again,
            Err(AppError::InvalidTransition(TransitionError {
                from: OrderStatus::Cancelled,
                to: OrderStatus::Cancelled
            }))
        ),
        "{again:?}"
    );
    assert_eq!(snapshot(&t).await, before);

    let paid = place_order(&t, &ada, mug.id, 2).await;
    pay(&t, &paid, "txn-paid").await;
    let cancelled = t
        .cancel_order(&ada, paid.id)
        .await
        .expect("cancel a paid order");
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(stock_of(&t, mug.id).await, 10);

    let fulfilling = place_order(&t, &ada, mug.id, 4).await;
    pay(&t, &fulfilling, "txn-fulfilling").await;
    t.change_order_status(&admin(), fulfilling.id, status("fulfilling"))
        .await
        .expect("start fulfilment");
    let before = snapshot(&t).await;
    let too_late = t.cancel_order(&ada, fulfilling.id).await;
    assert!(
        matches!(
            too_late,
            Err(AppError::NotCancellable(OrderStatus::Fulfilling))
        ),
        "{too_late:?}"
    );
    assert_eq!(snapshot(&t).await, before);
    assert_eq!(stock_of(&t, mug.id).await, 6);
    let by_staff = t
        .cancel_order(&admin(), fulfilling.id)
        .await
        .expect("staff may still cancel");
    assert_eq!(by_staff.status, OrderStatus::Cancelled);
    assert_eq!(stock_of(&t, mug.id).await, 10);

    let history = t.order_history(&ada, fulfilling.id).await.expect("history");
    let path: Vec<_> = history
        .iter()
        .map(|change| (change.from, change.to))
        .collect();
    assert_eq!(
        path,
        vec![
            (None, OrderStatus::PendingPayment),
            (Some(OrderStatus::PendingPayment), OrderStatus::Paid),
            (Some(OrderStatus::Paid), OrderStatus::Fulfilling),
            (Some(OrderStatus::Fulfilling), OrderStatus::Cancelled),
        ]
    );
    assert_eq!(history[0].actor, Some(ada_user.id));
    assert_eq!(history[3].actor, None, "the system did it");
    assert_eq!(
        events_of_type(&t, "dev.shop.order.cancelled.v1")
            .await
            .len(),
        3
    );
}

async fn staff_move_orders_along_the_legal_path_only(t: TestShop) {
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let (root_user, root) = register_admin(&t, "root@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let order = place_order(&t, &ada, mug.id, 1).await;

    for (to, from) in [
        ("shipped", OrderStatus::PendingPayment),
        ("refunded", OrderStatus::PendingPayment),
        ("pending_payment", OrderStatus::PendingPayment),
    ] {
        let illegal = t.change_order_status(&root, order.id, status(to)).await;
        assert!(
            matches!(illegal, Err(AppError::InvalidTransition(TransitionError { from: f, .. })) if f == from),
            "{to}: {illegal:?}"
        );
    }
    let forbidden = t.change_order_status(&ada, order.id, status("paid")).await;
    assert!(
        matches!(forbidden, Err(AppError::Forbidden)),
        "{forbidden:?}"
    );
    let anonymous = t
        .change_order_status(&Actor::Anonymous, order.id, status("paid"))
        .await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
    let unknown = t
        .change_order_status(&root, OrderId::new(), status("paid"))
        .await;
    assert!(matches!(unknown, Err(AppError::NotFound(_))), "{unknown:?}");

    pay(&t, &order, "txn-1").await;
    let mut path = vec![OrderStatus::PendingPayment, OrderStatus::Paid];
    for to in [
        OrderStatus::Fulfilling,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Refunded,
    ] {
        let changed = t
            .change_order_status(&root, order.id, status(to.as_str()))
            .await
            .unwrap_or_else(|error| panic!("to {to:?}: {error:?}"));
        assert_eq!(changed.status, to);
        assert_eq!(t.get_order(&ada, order.id).await.expect("order").status, to);
        path.push(to);
        if to == OrderStatus::Shipped {
            let too_late = t
                .change_order_status(&root, order.id, status("cancelled"))
                .await;
            assert!(
                matches!(too_late, Err(AppError::InvalidTransition(_))),
                "{too_late:?}"
            );
            let back = t
                .change_order_status(&root, order.id, status("fulfilling"))
                .await;
            assert!(
                matches!(back, Err(AppError::InvalidTransition(_))),
                "{back:?}"
            );
        }
    }
    for to in OrderStatus::ALL {
        let after_refund = t
            .change_order_status(&root, order.id, status(to.as_str()))
            .await;
        assert!(
            matches!(after_refund, Err(AppError::InvalidTransition(_))),
            "refunded -> {to:?}: {after_refund:?}"
        );
    }

    let history = t.order_history(&ada, order.id).await.expect("history");
    let mut expected: Vec<_> = path
        .windows(2)
        .map(|pair| (Some(pair[0]), pair[1]))
        .collect();
    expected.insert(0, (None, OrderStatus::PendingPayment));
    assert_eq!(
        history
            .iter()
            .map(|change| (change.from, change.to))
            .collect::<Vec<_>>(),
        expected,
        "every change, in order"
    );
    assert_eq!(history[0].actor, Some(ada_user.id));
    assert_eq!(
        history[1].actor, None,
        "the payment was recorded by the system"
    );
    assert!(
        history[2..]
            .iter()
            .all(|change| change.actor == Some(root_user.id))
    );
    assert!(history.windows(2).all(|pair| pair[0].at <= pair[1].at));

    let changes: Vec<_> = all_events(&t)
        .await
        .into_iter()
        .filter(|event| event.event_type == "dev.shop.order.status_changed.v1")
        .map(|event| {
            assert_eq!(event.subject, format!("orders/{}", order.id));
            (
                event.payload["from"].as_str().map(str::to_owned),
                event.payload["to"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let expected: Vec<_> = path
        .windows(2)
        .map(|pair| {
            (
                Some(pair[0].as_str().to_owned()),
                Some(pair[1].as_str().to_owned()),
            )
        })
        .collect();
    assert_eq!(changes, expected, "one event per change, oldest first");
}

contract_tests! {
    orders_are_visible_to_their_owner_and_staff,
    listing_orders_pages_and_filters,
    customers_cancel_until_fulfilment_and_get_the_stock_back,
    staff_move_orders_along_the_legal_path_only,
}
