//! Recording payments from a provider (or by staff), and what they do to orders.

use shop_core::{
    app::{Actor, AppError, RecordPayment},
    domain::{Order, OrderId, OrderStatus, PaymentStatus},
};

use crate::support::{
    TestShop, admin, create_product, events_of_type, expect_validation, place_order,
    register_customer, snapshot,
};

fn payment(order: &Order, reference: &str, status: &str) -> RecordPayment {
    RecordPayment {
        order_id: order.id.to_string(),
        amount_minor: order.total.amount_minor(),
        currency: order.total.currency().code().into(),
        provider: "midtrans".into(),
        reference: reference.into(),
        status: status.into(),
        failure_reason: None,
    }
}

async fn a_full_payment_marks_the_order_paid(t: TestShop) {
    let taxed = t.with_tax(1_100);
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_999, 10).await;
    let order = place_order(&taxed, &ada, mug.id, 3).await;
    assert_eq!(order.total.amount_minor(), 5_997 + 660);

    let recorded = t
        .record_payment(
            &admin(),
            RecordPayment {
                failure_reason: Some("a reason is only kept for failures".into()),
                ..payment(&order, "txn-1", "succeeded")
            },
        )
        .await
        .expect("record");
    assert_eq!(recorded.order_id, order.id);
    assert_eq!(recorded.amount, order.total);
    assert_eq!(recorded.status, PaymentStatus::Succeeded);
    assert_eq!(recorded.failure_reason, None);
    assert_eq!(
        t.list_payments(&ada, order.id).await.expect("payments"),
        vec![recorded.clone()],
        "stored as returned, visible to the owner"
    );
    assert_eq!(
        t.get_order(&ada, order.id).await.expect("order").status,
        OrderStatus::Paid
    );

    let paid = events_of_type(&t, "dev.shop.order.paid.v1").await;
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].subject, format!("orders/{}", order.id));
    assert_eq!(paid[0].payload["order_id"], order.id.to_string());
    assert_eq!(paid[0].payload["user_id"], ada_user.id.to_string());
    assert_eq!(paid[0].payload["payment_id"], recorded.id.to_string());
    assert_eq!(paid[0].payload["amount_minor"], order.total.amount_minor());
    assert_eq!(paid[0].payload["currency"], "USD");
    let history = t.order_history(&ada, order.id).await.expect("history");
    assert_eq!(
        history.last().map(|change| (change.from, change.to)),
        Some((Some(OrderStatus::PendingPayment), OrderStatus::Paid))
    );
}

async fn a_payment_of_the_wrong_amount_is_refused(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let order = place_order(&t, &ada, mug.id, 2).await;
    let before = snapshot(&t).await;
    for wrong in [
        RecordPayment {
            amount_minor: 1_999,
            ..payment(&order, "txn-1", "succeeded")
        },
        RecordPayment {
            amount_minor: 2_001,
            ..payment(&order, "txn-2", "succeeded")
        },
        RecordPayment {
            currency: "EUR".into(),
            ..payment(&order, "txn-3", "succeeded")
        },
    ] {
        let refused = t.record_payment(&admin(), wrong.clone()).await;
        expect_validation(refused, &["amount_minor"]);
    }
    assert_eq!(
        snapshot(&t).await,
        before,
        "the order is still pending, no events"
    );
    assert!(
        t.list_payments(&admin(), order.id)
            .await
            .expect("payments")
            .is_empty()
    );
}

async fn a_failed_payment_leaves_the_order_pending(t: TestShop) {
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let order = place_order(&t, &ada, mug.id, 2).await;
    let failed = t
        .record_payment(
            &admin(),
            RecordPayment {
                failure_reason: Some("card declined".into()),
                ..payment(&order, "txn-1", "failed")
            },
        )
        .await
        .expect("record the failure");
    assert_eq!(failed.status, PaymentStatus::Failed);
    assert_eq!(failed.failure_reason.as_deref(), Some("card declined"));
    assert_eq!(
        t.get_order(&ada, order.id).await.expect("order").status,
        OrderStatus::PendingPayment
    );
    assert_eq!(
        t.list_payments(&ada, order.id).await.expect("payments"),
        vec![failed.clone()]
    );
    let events = events_of_type(&t, "dev.shop.payment.failed.v1").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload["order_id"], order.id.to_string());
    assert_eq!(events[0].payload["user_id"], ada_user.id.to_string());
    assert_eq!(events[0].payload["payment_id"], failed.id.to_string());
    assert_eq!(events[0].payload["reason"], "card declined");
    assert!(
        events_of_type(&t, "dev.shop.order.paid.v1")
            .await
            .is_empty()
    );
    assert_eq!(
        t.order_history(&ada, order.id)
            .await
            .expect("history")
            .len(),
        1
    );

    // A later successful attempt still pays the order.
    t.record_payment(&admin(), payment(&order, "txn-2", "succeeded"))
        .await
        .expect("the retry succeeds");
    assert_eq!(
        t.get_order(&ada, order.id).await.expect("order").status,
        OrderStatus::Paid
    );
    assert_eq!(
        t.list_payments(&ada, order.id)
            .await
            .expect("payments")
            .len(),
        2
    );
}

async fn recording_a_reference_twice_changes_nothing(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let order = place_order(&t, &ada, mug.id, 1).await;
    let first = t
        .record_payment(&admin(), payment(&order, "txn-1", "succeeded"))
        .await
        .expect("record");
    let before = snapshot(&t).await;
    let second = t
        .record_payment(&admin(), payment(&order, "txn-1", "succeeded"))
        .await
        .expect("the same notification again");
    assert_eq!(second, first);
    assert_eq!(
        snapshot(&t).await,
        before,
        "no second record, transition or event"
    );
    assert_eq!(
        t.list_payments(&admin(), order.id).await.expect("payments"),
        vec![first]
    );
    assert_eq!(events_of_type(&t, "dev.shop.order.paid.v1").await.len(), 1);

    // The reference is unique per provider only.
    let other_provider = t
        .record_payment(
            &admin(),
            RecordPayment {
                provider: "stripe".into(),
                ..payment(&order, "txn-1", "failed")
            },
        )
        .await
        .expect("another provider's reference");
    assert_eq!(other_provider.status, PaymentStatus::Failed);
    assert_eq!(
        t.list_payments(&admin(), order.id)
            .await
            .expect("payments")
            .len(),
        2
    );
}

async fn only_staff_record_payments_for_payable_orders(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let order = place_order(&t, &ada, mug.id, 1).await;
    let before = snapshot(&t).await;
    let forbidden = t
        .record_payment(&ada, payment(&order, "txn-1", "succeeded"))
        .await;
    assert!(
        matches!(forbidden, Err(AppError::Forbidden)),
        "{forbidden:?}"
    );
    let anonymous = t
        .record_payment(&Actor::Anonymous, payment(&order, "txn-1", "succeeded"))
        .await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
    let unknown = t
        .record_payment(
            &admin(),
            RecordPayment {
                order_id: OrderId::new().to_string(),
                ..payment(&order, "txn-1", "succeeded")
            },
        )
        .await;
    assert!(matches!(unknown, Err(AppError::NotFound(_))), "{unknown:?}");
    assert_eq!(snapshot(&t).await, before);

    t.cancel_order(&ada, order.id).await.expect("cancel");
    let before = snapshot(&t).await;
    let too_late = t
        .record_payment(&admin(), payment(&order, "txn-2", "succeeded"))
        .await;
    assert!(
        matches!(too_late, Err(AppError::InvalidTransition(_))),
        "{too_late:?}"
    );
    assert_eq!(snapshot(&t).await, before);
    assert!(
        t.list_payments(&admin(), order.id)
            .await
            .expect("payments")
            .is_empty()
    );
}

contract_tests! {
    a_full_payment_marks_the_order_paid,
    a_payment_of_the_wrong_amount_is_refused,
    a_failed_payment_leaves_the_order_pending,
    recording_a_reference_twice_changes_nothing,
    only_staff_record_payments_for_payable_orders,
}
