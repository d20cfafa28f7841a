//! Carts, checkouts and orders refuse bad values.

use shop_core::app::{
    AddToCart, ChangeOrderStatus, Checkout, ListOrders, RecordPayment, UpdateCartItem,
};

use crate::support::{
    TestShop, add_to_cart, admin, create_product, expect_validation, place_order,
    register_customer, snapshot,
};

pub(super) async fn carts_checkouts_and_orders_refuse_bad_values(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 5_000).await;
    let order = place_order(&t, &ada, mug.id, 1).await;
    add_to_cart(&t, &ada, mug.id, 2).await;
    let cart = t.get_cart(&ada).await.expect("cart");
    let line = cart.lines[0].item.id;
    let before = snapshot(&t).await;

    for (product_id, quantity, fields) in [
        (mug.id.to_string(), 0, vec!["quantity"]),
        (mug.id.to_string(), -1, vec!["quantity"]),
        (mug.id.to_string(), 1_001, vec!["quantity"]),
        ("not-a-uuid".to_owned(), 1, vec!["product_id"]),
        (String::new(), 1, vec!["product_id"]),
        ("' OR 1=1 --".to_owned(), 0, vec!["product_id", "quantity"]),
    ] {
        let refused = t
            .add_to_cart(
                &ada,
                AddToCart {
                    product_id,
                    quantity,
                },
            )
            .await;
        expect_validation(refused, &fields);
    }
    for quantity in [0, -1, 1_001] {
        expect_validation(
            t.update_cart_item(&ada, line, UpdateCartItem { quantity })
                .await,
            &["quantity"],
        );
    }

    for (key, address, fields) in [
        ("", None, vec!["idempotency_key"]),
        ("has space", None, vec!["idempotency_key"]),
        ("ключ", None, vec!["idempotency_key"]),
        (&*"k".repeat(256), None, vec!["idempotency_key"]),
        ("good-key", Some("home"), vec!["shipping_address_id"]),
        ("", Some(""), vec!["idempotency_key", "shipping_address_id"]),
    ] {
        let refused = t
            .checkout(
                &ada,
                Checkout {
                    idempotency_key: key.to_owned(),
                    shipping_address_id: address.map(str::to_owned),
                    shipping_method_id: None,
                },
            )
            .await;
        expect_validation(refused, &fields);
    }

    for (query, fields) in [
        (
            ListOrders {
                status: Some("lost".into()),
                ..ListOrders::default()
            },
            vec!["status"],
        ),
        (
            ListOrders {
                limit: Some(0),
                ..ListOrders::default()
            },
            vec!["limit"],
        ),
        (
            ListOrders {
                limit: Some(101),
                ..ListOrders::default()
            },
            vec!["limit"],
        ),
        (
            ListOrders {
                cursor: Some("????".into()),
                ..ListOrders::default()
            },
            vec!["cursor"],
        ),
    ] {
        expect_validation(t.list_orders(&ada, query).await, &fields);
    }
    for status in ["teleported", "PAID", ""] {
        expect_validation(
            t.change_order_status(
                &admin(),
                order.id,
                ChangeOrderStatus {
                    status: status.into(),
                },
            )
            .await,
            &["status"],
        );
    }

    let valid = RecordPayment {
        order_id: order.id.to_string(),
        amount_minor: order.total.amount_minor(),
        currency: "USD".into(),
        provider: "midtrans".into(),
        reference: "txn-1".into(),
        status: "succeeded".into(),
        failure_reason: None,
    };
    for (command, fields) in [
        (
            RecordPayment {
                order_id: "order-1".into(),
                ..valid.clone()
            },
            vec!["order_id"],
        ),
        (
            RecordPayment {
                currency: "ZZZ".into(),
                ..valid.clone()
            },
            vec!["currency"],
        ),
        (
            RecordPayment {
                amount_minor: -1,
                ..valid.clone()
            },
            vec!["amount_minor"],
        ),
        (
            RecordPayment {
                status: "pending".into(),
                ..valid.clone()
            },
            vec!["status"],
        ),
        (
            RecordPayment {
                provider: String::new(),
                reference: " ".into(),
                ..valid.clone()
            },
            vec!["provider", "reference"],
        ),
    ] {
        expect_validation(t.record_payment(&admin(), command).await, &fields);
    }

    assert_eq!(snapshot(&t).await, before, "nothing was stored or changed");
    assert_eq!(t.get_cart(&ada).await.expect("cart"), cart);
    assert!(
        t.list_payments(&admin(), order.id)
            .await
            .expect("payments")
            .is_empty()
    );
}
