//! Shipping, on Postgres and SQLite: staff define methods (refused input changes nothing),
//! checkout requires one once offered, prices it on the cart (flat, free above a threshold, by
//! weight), adds it to the total and taxes it; shipping an order records carrier and tracking.

#[allow(dead_code)]
#[macro_use]
#[path = "../contract/support.rs"]
mod support;

use shop_core::{
    app::{
        Actor, AppError, ChangeOrderStatus, Checkout, CouponInput, CreateProduct, RecordPayment,
        ShipOrder, ShippingMethodInput, UpdateProduct,
    },
    domain::{
        Order, OrderStatus, ShippingMethod, ShippingRule, TransitionError, checkout::CheckoutError,
        shipping::ShippingRejection,
    },
};

use support::{
    TestShop, add_to_cart, admin, all_orders, create_product, create_product_with, events_of_type,
    expect_validation, product_command, register_customer, stock_of,
};

contract_tests!(
    staff_define_methods_and_bad_input_changes_nothing,
    checkout_charges_the_method_and_taxes_it,
    a_method_is_required_once_offered_and_must_fit_the_cart,
    shipping_records_carrier_and_tracking,
);

fn method(name: &str, kind: &str, rate: i64) -> ShippingMethodInput {
    ShippingMethodInput {
        name: name.to_owned(),
        kind: kind.to_owned(),
        currency: "USD".to_owned(),
        rate_minor: rate,
        ..ShippingMethodInput::default()
    }
}

async fn create(shop: &shop_core::app::Shop, input: ShippingMethodInput) -> ShippingMethod {
    shop.create_shipping_method(&admin(), input)
        .await
        .expect("create the method")
}

async fn all_methods(t: &TestShop) -> Vec<ShippingMethod> {
    t.list_shipping_methods(&admin(), true)
        .await
        .expect("list methods")
}

fn checkout_with(key: &str, method: Option<&ShippingMethod>) -> Checkout {
    Checkout {
        idempotency_key: key.to_owned(),
        shipping_method_id: method.map(|m| m.id.to_string()),
        ..Checkout::default()
    }
}

async fn staff_define_methods_and_bad_input_changes_nothing(t: TestShop) {
    let flat = create(&t, method("Standard", "flat", 495)).await;
    let (_, customer) = register_customer(&t, "shopper@example.com").await;
    assert!(matches!(
        t.create_shipping_method(&customer, method("Mine", "flat", 0))
            .await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        t.list_shipping_methods(&customer, true).await,
        Err(AppError::Forbidden)
    ));
    expect_validation(
        t.create_shipping_method(&admin(), method("", "teleport", -1))
            .await,
        &["name", "kind", "rate_minor"],
    );
    expect_validation(
        t.create_shipping_method(&admin(), method("Free", "free_above", 500))
            .await,
        &["free_above_minor"],
    );
    expect_validation(
        t.create_shipping_method(
            &admin(),
            ShippingMethodInput {
                per_kg_minor: Some(100),
                currency: "XYZ".to_owned(),
                ..method("Flat", "flat", 500)
            },
        )
        .await,
        &["currency"],
    );
    // An amount the kind does not use is still checked: a negative one is a mistake either way.
    expect_validation(
        t.create_shipping_method(
            &admin(),
            ShippingMethodInput {
                per_kg_minor: Some(-1),
                free_above_minor: Some(1_000_000_000_001),
                ..method("Flat", "flat", 500)
            },
        )
        .await,
        &["free_above_minor", "per_kg_minor"],
    );
    assert_eq!(
        all_methods(&t).await,
        vec![flat.clone()],
        "refusals stored nothing"
    );

    let hidden = t
        .update_shipping_method(
            &admin(),
            flat.id,
            ShippingMethodInput {
                active: Some(false),
                free_above_minor: Some(5_000),
                ..method("Standard (free over 50)", "free_above", 495)
            },
        )
        .await
        .expect("update");
    assert_eq!(
        hidden.rule,
        ShippingRule::FreeAbove(shop_core::domain::Money::new(5_000, flat.rate.currency()))
    );
    assert_eq!(hidden.created_at, flat.created_at);
    assert!(
        t.list_shipping_methods(&customer, false)
            .await
            .expect("public list")
            .is_empty(),
        "inactive methods are not offered"
    );
    assert_eq!(all_methods(&t).await, vec![hidden.clone()]);

    t.delete_shipping_method(&admin(), flat.id)
        .await
        .expect("delete");
    assert!(all_methods(&t).await.is_empty());
    assert!(matches!(
        t.delete_shipping_method(&admin(), flat.id).await,
        Err(AppError::NotFound("shipping method"))
    ));
}

async fn checkout_charges_the_method_and_taxes_it(t: TestShop) {
    let shop = t.with_tax(1_000);
    let mug = create_product_with(
        &shop,
        CreateProduct {
            weight_grams: Some(1_500),
            ..product_command("MUG-1", 2_000, 100)
        },
    )
    .await;
    let flat = create(&shop, method("Standard", "flat", 500)).await;
    let free = create(
        &shop,
        ShippingMethodInput {
            free_above_minor: Some(4_000),
            ..method("Free over 40", "free_above", 700)
        },
    )
    .await;
    let heavy = create(
        &shop,
        ShippingMethodInput {
            per_kg_minor: Some(200),
            ..method("Freight", "by_weight", 300)
        },
    )
    .await;
    let (_, buyer) = register_customer(&shop, "buyer@example.com").await;
    let buy = |units: i64, method: ShippingMethod, key: &'static str| {
        let shop = shop.clone();
        async move {
            add_to_cart(&shop, &buyer, mug.id, units).await;
            shop.checkout(&buyer, checkout_with(key, Some(&method)))
                .await
                .expect("checkout")
                .order
        }
    };

    let order: Order = buy(1, flat.clone(), "flat").await;
    assert_eq!(order.shipping.amount_minor(), 500);
    assert_eq!(order.shipping_method.as_deref(), Some("Standard"));
    // Tax on goods and shipping: 10 % of 25.00.
    assert_eq!(order.tax.amount_minor(), 250);
    assert_eq!(order.total.amount_minor(), 2_750);
    let stored = shop.get_order(&buyer, order.id).await.expect("read");
    assert_eq!(
        (
            stored.shipping,
            stored.shipping_method.clone(),
            stored.total
        ),
        (order.shipping, order.shipping_method.clone(), order.total)
    );

    assert_eq!(
        buy(2, free.clone(), "free").await.shipping.amount_minor(),
        0
    );
    assert_eq!(
        buy(1, free.clone(), "not-free")
            .await
            .shipping
            .amount_minor(),
        700
    );
    // 2 × 1.5 kg = 3 kg: 3.00 + 3 × 2.00.
    assert_eq!(
        buy(2, heavy.clone(), "heavy").await.shipping.amount_minor(),
        900
    );
    // 3.001 kg counts as 4 started kilograms.
    shop.update_product(
        &admin(),
        mug.id,
        UpdateProduct {
            weight_grams: Some(3_001),
            ..UpdateProduct::default()
        },
    )
    .await
    .expect("weigh the mug");
    assert_eq!(
        buy(1, heavy, "heavier").await.shipping.amount_minor(),
        1_100
    );

    // The threshold applies to the goods after the coupon's discount.
    shop.create_coupon(
        &admin(),
        CouponInput {
            code: "HALF".to_owned(),
            kind: "percentage".to_owned(),
            amount: 5_000,
            ..CouponInput::default()
        },
    )
    .await
    .expect("coupon");
    add_to_cart(&shop, &buyer, mug.id, 2).await;
    shop.apply_coupon(&buyer, "HALF").await.expect("apply");
    let discounted = shop
        .checkout(&buyer, checkout_with("half", Some(&free)))
        .await
        .expect("checkout")
        .order;
    assert_eq!(discounted.discount.amount_minor(), 2_000);
    assert_eq!(discounted.shipping.amount_minor(), 700);
    assert_eq!(discounted.tax.amount_minor(), 270);
    assert_eq!(discounted.total.amount_minor(), 2_000 + 700 + 270);
}

async fn a_method_is_required_once_offered_and_must_fit_the_cart(t: TestShop) {
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let (_, buyer) = register_customer(&t, "buyer@example.com").await;
    add_to_cart(&t, &buyer, mug.id, 1).await;
    let euros = create(
        &t,
        ShippingMethodInput {
            currency: "EUR".to_owned(),
            ..method("Euro post", "flat", 500)
        },
    )
    .await;
    let paused = create(
        &t,
        ShippingMethodInput {
            active: Some(false),
            ..method("Paused", "flat", 500)
        },
    )
    .await;

    expect_validation(
        t.checkout(&buyer, checkout_with("none", None)).await,
        &["shipping_method_id"],
    );
    expect_validation(
        t.checkout(&buyer, checkout_with("paused", Some(&paused)))
            .await,
        &["shipping_method_id"],
    );
    expect_validation(
        t.checkout(
            &buyer,
            Checkout {
                shipping_method_id: Some("not-an-id".to_owned()),
                ..checkout_with("bad", None)
            },
        )
        .await,
        &["shipping_method_id"],
    );
    match t
        .checkout(&buyer, checkout_with("euros", Some(&euros)))
        .await
    {
        Err(AppError::Checkout(CheckoutError::Shipping(ShippingRejection::WrongCurrency(
            currency,
        )))) => assert_eq!(currency.code(), "EUR"),
        other => panic!("expected the method to be refused, got {other:?}"),
    }
    assert!(all_orders(&t).await.is_empty(), "nothing was ordered");
    assert_eq!(stock_of(&t, mug.id).await, 10);
    assert_eq!(t.get_cart(&buyer).await.expect("cart").lines.len(), 1);

    let usd = create(&t, method("Post", "flat", 300)).await;
    let order = t
        .checkout(&buyer, checkout_with("usd", Some(&usd)))
        .await
        .expect("checkout")
        .order;
    assert_eq!(order.total.amount_minor(), 1_300);
}

async fn shipping_records_carrier_and_tracking(t: TestShop) {
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let (_, buyer) = register_customer(&t, "buyer@example.com").await;
    add_to_cart(&t, &buyer, mug.id, 1).await;
    let order = t
        .checkout(&buyer, checkout_with("k", None))
        .await
        .expect("checkout")
        .order;
    let ship = |carrier: &str, tracking: &str, url: Option<&str>| ShipOrder {
        carrier: carrier.to_owned(),
        tracking_number: tracking.to_owned(),
        tracking_url: url.map(str::to_owned),
    };
    // Not paid yet: cannot ship.
    assert!(matches!(
        t.ship_order(&admin(), order.id, ship("DHL", "JD1", None))
            .await,
        Err(AppError::InvalidTransition(TransitionError {
            from: OrderStatus::PendingPayment,
            to: OrderStatus::Shipped
        }))
    ));
    t.record_payment(
        &admin(),
        RecordPayment {
            order_id: order.id.to_string(),
            amount_minor: order.total.amount_minor(),
            currency: "USD".to_owned(),
            provider: "manual".to_owned(),
            reference: "r-1".to_owned(),
            status: "succeeded".to_owned(),
            failure_reason: None,
        },
    )
    .await
    .expect("pay");
    t.change_order_status(
        &admin(),
        order.id,
        ChangeOrderStatus {
            status: "fulfilling".to_owned(),
        },
    )
    .await
    .expect("fulfil");

    expect_validation(
        t.ship_order(&admin(), order.id, ship(" ", "JD1", None))
            .await,
        &["carrier"],
    );
    expect_validation(
        t.ship_order(
            &admin(),
            order.id,
            ship("DHL", "JD1", Some("ftp://x.example")),
        )
        .await,
        &["tracking_url"],
    );
    // Blank after trimming is refused for what it lacks (a host), control characters inside.
    for url in ["   https://", "https://dhl.example/t/\u{7}1", "http://#"] {
        expect_validation(
            t.ship_order(&admin(), order.id, ship("DHL", "JD1", Some(url)))
                .await,
            &["tracking_url"],
        );
    }
    let (_, other) = register_customer(&t, "other@example.com").await;
    assert!(matches!(
        t.ship_order(&other, order.id, ship("DHL", "JD1", None))
            .await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        t.ship_order(&Actor::Anonymous, order.id, ship("DHL", "JD1", None))
            .await,
        Err(AppError::Unauthenticated)
    ));
    let unchanged = t.get_order(&admin(), order.id).await.expect("read");
    assert_eq!(unchanged.status, OrderStatus::Fulfilling);
    assert_eq!(unchanged.shipment, None);

    let shipped = t
        .ship_order(
            &admin(),
            order.id,
            ship(
                "DHL",
                "JD014600006281",
                Some("https://dhl.example/t/JD014600006281"),
            ),
        )
        .await
        .expect("ship");
    assert_eq!(shipped.status, OrderStatus::Shipped);
    let shipment = shipped.shipment.clone().expect("a shipment");
    assert_eq!(shipment.carrier, "DHL");
    assert_eq!(shipment.tracking_number, "JD014600006281");
    assert_eq!(
        t.get_order(&buyer, order.id).await.expect("read").shipment,
        Some(shipment)
    );
    let changes = events_of_type(&t, "dev.shop.order.status_changed.v1").await;
    assert!(
        changes.iter().any(|e| e.payload["to"] == "shipped"),
        "the status change that mails and notifies the customer"
    );

    // A correction keeps the order shipped and writes no second status change.
    let corrected = t
        .ship_order(&admin(), order.id, ship("UPS", "1Z999", None))
        .await
        .expect("correct");
    assert_eq!(corrected.status, OrderStatus::Shipped);
    assert_eq!(
        corrected.shipment.map(|s| (s.carrier, s.tracking_url)),
        Some(("UPS".to_owned(), None))
    );
    assert_eq!(
        events_of_type(&t, "dev.shop.order.status_changed.v1")
            .await
            .len(),
        changes.len()
    );
}
