//! Turning a cart into an order, and retrying that safely with an idempotency key.

use shop_core::{
    app::{AddressInput, AppError, Checkout, UpdateProduct},
    domain::{AddressId, AddressSnapshot, OrderStatus, checkout::CheckoutError},
};

use crate::support::{
    TestShop, add_address, add_to_cart, address_input, admin, all_orders, checkout,
    checkout_command, create_product, events_of_type, expect_validation, orders_where, place_order,
    register_customer, snapshot, stock_of,
};

const PLACED: &str = "dev.shop.order.placed.v1";

async fn checkout_turns_the_cart_into_an_order(t: TestShop) {
    let taxed = t.with_tax(1_000);
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let home = add_address(&t, &ada, "Ada Lovelace").await;
    let mug = create_product(&t, "MUG-1", 1_250, 10).await;
    let lime = create_product(&t, "LIME", 99, 1).await;
    add_to_cart(&t, &ada, mug.id, 2).await;
    add_to_cart(&t, &ada, lime.id, 1).await;

    let placed = checkout(&taxed, &ada, "first-try").await;
    assert!(!placed.replayed);
    let order = placed.order;
    assert_eq!(order.user_id, ada_user.id);
    assert_eq!(order.status, OrderStatus::PendingPayment);
    let items: Vec<_> = order
        .items
        .iter()
        .map(|item| {
            (
                item.product_id,
                item.sku.as_str(),
                item.name.as_str(),
                item.unit_price.amount_minor(),
                item.quantity.units(),
                item.line_total.amount_minor(),
            )
        })
        .collect();
    assert_eq!(
        items,
        vec![
            (mug.id, "MUG-1", "Product MUG-1", 1_250, 2, 2_500),
            (lime.id, "LIME", "Product LIME", 99, 1, 99),
        ]
    );
    assert_eq!(order.subtotal.amount_minor(), 2_599);
    assert_eq!(order.tax.amount_minor(), 260, "10% rounded half up");
    assert_eq!(order.total.amount_minor(), 2_859);
    assert_eq!(order.total.currency().code(), "USD");
    assert_eq!(
        order.shipping_address,
        Some(AddressSnapshot::from(&home.fields)),
        "the default address"
    );
    assert_eq!(t.get_order(&ada, order.id).await.expect("stored"), order);

    assert!(
        t.get_cart(&ada).await.expect("cart").lines.is_empty(),
        "the cart is emptied"
    );
    assert_eq!(stock_of(&t, mug.id).await, 8);
    assert_eq!(stock_of(&t, lime.id).await, 0);

    let events = events_of_type(&t, PLACED).await;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.subject, format!("orders/{}", order.id));
    assert_eq!(event.payload["order_id"], order.id.to_string());
    assert_eq!(event.payload["user_id"], ada_user.id.to_string());
    assert_eq!(event.payload["total_minor"], 2_859);
    assert_eq!(event.payload["items"].as_array().map(Vec::len), Some(2));

    let history = t.order_history(&ada, order.id).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].from, history[0].to),
        (None, OrderStatus::PendingPayment)
    );
    assert_eq!(history[0].actor, Some(ada_user.id));
}

async fn orders_keep_the_prices_they_were_placed_at(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_250, 10).await;
    let order = place_order(&t, &ada, mug.id, 3).await;
    t.update_product(
        &admin(),
        mug.id,
        UpdateProduct {
            name: Some("Renamed Mug".into()),
            price_minor: Some(9_999),
            ..UpdateProduct::default()
        },
    )
    .await
    .expect("reprice");
    let stored = t.get_order(&ada, order.id).await.expect("order");
    assert_eq!(stored, order);
    assert_eq!(stored.items[0].name, "Product MUG-1");
    assert_eq!(stored.items[0].unit_price.amount_minor(), 1_250);
    assert_eq!(stored.total.amount_minor(), 3_750);
}

async fn an_empty_cart_cannot_be_checked_out(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    create_product(&t, "MUG-1", 1_250, 10).await;
    let before = snapshot(&t).await;
    let empty = t.checkout(&ada, checkout_command("key-1")).await;
    assert!(
        matches!(empty, Err(AppError::Checkout(CheckoutError::EmptyCart))),
        "{empty:?}"
    );
    assert_eq!(snapshot(&t).await, before);
    let anonymous = t
        .checkout(&shop_core::app::Actor::Anonymous, checkout_command("key-1"))
        .await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
}

async fn checkout_without_enough_stock_changes_nothing(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_250, 5).await;
    let lime = create_product(&t, "LIME", 99, 1).await;
    add_to_cart(&t, &ada, mug.id, 2).await;
    add_to_cart(&t, &ada, lime.id, 1).await;
    // Someone else bought the last lime meanwhile.
    t.adjust_stock(
        &admin(),
        lime.id,
        shop_core::app::AdjustStock {
            delta: -1,
            reason: "sold in the shop".into(),
        },
    )
    .await
    .expect("sell the lime");
    let cart = t.get_cart(&ada).await.expect("cart");
    let before = snapshot(&t).await;

    let refused = t.checkout(&ada, checkout_command("key-1")).await;
    assert!(
        matches!(
            refused,
            Err(AppError::InsufficientStock {
                product_id: Some(id),
                requested: 1,
                available: 0
            }) if id == lime.id
        ),
        "{refused:?}"
    );
    assert_eq!(
        snapshot(&t).await,
        before,
        "no stock taken, no order, no event"
    );
    assert_eq!(stock_of(&t, mug.id).await, 5);
    assert_eq!(
        t.get_cart(&ada).await.expect("cart"),
        cart,
        "the cart is kept"
    );

    // The failed attempt did not use up the key.
    t.adjust_stock(
        &admin(),
        lime.id,
        shop_core::app::AdjustStock {
            delta: 1,
            reason: "found one".into(),
        },
    )
    .await
    .expect("restock");
    let placed = checkout(&t, &ada, "key-1").await;
    assert!(!placed.replayed);
    assert_eq!(stock_of(&t, mug.id).await, 3);
    assert_eq!(stock_of(&t, lime.id).await, 0);
}

async fn deactivated_products_cannot_be_checked_out(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_250, 5).await;
    add_to_cart(&t, &ada, mug.id, 1).await;
    t.deactivate_product(&admin(), mug.id)
        .await
        .expect("deactivate");
    let before = snapshot(&t).await;
    let refused = t.checkout(&ada, checkout_command("key-1")).await;
    assert!(
        matches!(
            refused,
            Err(AppError::Checkout(CheckoutError::ProductUnavailable { product_id })) if product_id == mug.id
        ),
        "{refused:?}"
    );
    assert_eq!(snapshot(&t).await, before);
    assert_eq!(t.get_cart(&ada).await.expect("cart").lines.len(), 1);
}

async fn carts_in_several_currencies_cannot_be_checked_out(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 5).await;
    let euro_mug = crate::support::create_product_with(
        &t,
        shop_core::app::CreateProduct {
            currency: "EUR".into(),
            ..crate::support::product_command("MUG-EU", 900, 5)
        },
    )
    .await;
    add_to_cart(&t, &ada, mug.id, 1).await;
    add_to_cart(&t, &ada, euro_mug.id, 1).await;
    let cart = t.get_cart(&ada).await.expect("cart");
    assert_eq!(cart.lines.len(), 2);
    assert_eq!(cart.subtotal, None, "no subtotal across currencies");
    let before = snapshot(&t).await;
    let refused = t.checkout(&ada, checkout_command("key-1")).await;
    assert!(
        matches!(
            refused,
            Err(AppError::Checkout(CheckoutError::MixedCurrencies))
        ),
        "{refused:?}"
    );
    assert_eq!(snapshot(&t).await, before);
    assert_eq!(t.get_cart(&ada).await.expect("cart"), cart);
}

async fn checkout_snapshots_the_shipping_address(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let (_, bob) = register_customer(&t, "bob@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 100).await;

    let nowhere = place_order(&t, &ada, mug.id, 1).await;
    assert_eq!(
        nowhere.shipping_address, None,
        "no address book, no address"
    );

    let home = add_address(&t, &ada, "Ada at home").await;
    let work = add_address(&t, &ada, "Ada at work").await;
    let to_default = place_order(&t, &ada, mug.id, 1).await;
    assert_eq!(
        to_default.shipping_address,
        Some(AddressSnapshot::from(&home.fields))
    );

    add_to_cart(&t, &ada, mug.id, 1).await;
    let to_work = t
        .checkout(
            &ada,
            Checkout {
                idempotency_key: "to-work".into(),
                shipping_address_id: Some(work.id.to_string()),
                shipping_method_id: None,
            },
        )
        .await
        .expect("ship to work")
        .order;
    let snapshot_at_checkout = AddressSnapshot::from(&work.fields);
    assert_eq!(
        to_work.shipping_address.as_ref(),
        Some(&snapshot_at_checkout)
    );
    assert_eq!(snapshot_at_checkout.recipient, "Ada at work");
    assert_eq!(snapshot_at_checkout.country, "US");

    // Editing or removing the address later does not move the parcel.
    t.update_address(
        &ada,
        work.id,
        AddressInput {
            city: "Elsewhere".into(),
            ..address_input("Someone else")
        },
    )
    .await
    .expect("edit");
    t.remove_address(&ada, home.id).await.expect("remove");
    assert_eq!(
        t.get_order(&ada, to_work.id)
            .await
            .expect("order")
            .shipping_address,
        Some(snapshot_at_checkout)
    );
    assert_eq!(
        t.get_order(&ada, to_default.id)
            .await
            .expect("order")
            .shipping_address,
        Some(AddressSnapshot::from(&home.fields))
    );

    // Only one's own addresses.
    let bobs = add_address(&t, &bob, "Bob").await;
    add_to_cart(&t, &ada, mug.id, 1).await;
    let before = snapshot(&t).await;
    for address in [bobs.id, AddressId::new()] {
        let refused = t
            .checkout(
                &ada,
                Checkout {
                    idempotency_key: format!("to-{address}"),
                    shipping_address_id: Some(address.to_string()),
                    shipping_method_id: None,
                },
            )
            .await;
        expect_validation(refused, &["shipping_address_id"]);
    }
    assert_eq!(snapshot(&t).await, before);
}

async fn the_same_key_replays_the_same_order(t: TestShop) {
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    add_to_cart(&t, &ada, mug.id, 2).await;
    let first = checkout(&t, &ada, "retry-me").await;
    assert!(!first.replayed);

    // The cart fills up again before the retry arrives: the retry must not buy it.
    add_to_cart(&t, &ada, mug.id, 1).await;
    let second = checkout(&t, &ada, "retry-me").await;
    assert!(second.replayed);
    assert_eq!(second.order, first.order);
    assert_eq!(stock_of(&t, mug.id).await, 8, "stock was taken once");
    assert_eq!(
        orders_where(&t, Some(ada_user.id)).await,
        vec![first.order.clone()]
    );
    assert_eq!(events_of_type(&t, PLACED).await.len(), 1);
    assert_eq!(
        t.get_cart(&ada).await.expect("cart").lines.len(),
        1,
        "still in the cart"
    );

    // A status change since does not confuse the replay.
    t.cancel_order(&ada, first.order.id).await.expect("cancel");
    let third = checkout(&t, &ada, "retry-me").await;
    assert!(third.replayed);
    assert_eq!(third.order.id, first.order.id);
    assert_eq!(third.order.status, OrderStatus::Cancelled);
}

async fn a_key_reused_for_another_request_is_refused(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    add_address(&t, &ada, "Ada at home").await;
    let work = add_address(&t, &ada, "Ada at work").await;
    add_to_cart(&t, &ada, mug.id, 1).await;
    let first = checkout(&t, &ada, "the-key").await;
    add_to_cart(&t, &ada, mug.id, 1).await;
    let before = snapshot(&t).await;

    let reused = t
        .checkout(
            &ada,
            Checkout {
                idempotency_key: "the-key".into(),
                shipping_address_id: Some(work.id.to_string()),
                shipping_method_id: None,
            },
        )
        .await;
    assert!(
        matches!(reused, Err(AppError::IdempotencyKeyReused)),
        "{reused:?}"
    );
    assert_eq!(snapshot(&t).await, before);
    let replayed = checkout(&t, &ada, "the-key").await;
    assert_eq!(
        (replayed.replayed, replayed.order.id),
        (true, first.order.id)
    );
}

async fn idempotency_keys_belong_to_their_user(t: TestShop) {
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let (bob_user, bob) = register_customer(&t, "bob@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    add_to_cart(&t, &ada, mug.id, 1).await;
    add_to_cart(&t, &bob, mug.id, 2).await;
    let adas = checkout(&t, &ada, "same-key").await;
    let bobs = checkout(&t, &bob, "same-key").await;
    assert!(!adas.replayed && !bobs.replayed);
    assert_ne!(adas.order.id, bobs.order.id);
    assert_eq!(
        (adas.order.user_id, bobs.order.user_id),
        (ada_user.id, bob_user.id)
    );
    assert_eq!(bobs.order.items[0].quantity.units(), 2);
    assert_eq!(all_orders(&t).await.len(), 2);
    assert_eq!(stock_of(&t, mug.id).await, 7);
}

contract_tests! {
    checkout_turns_the_cart_into_an_order,
    orders_keep_the_prices_they_were_placed_at,
    an_empty_cart_cannot_be_checked_out,
    checkout_without_enough_stock_changes_nothing,
    deactivated_products_cannot_be_checked_out,
    carts_in_several_currencies_cannot_be_checked_out,
    checkout_snapshots_the_shipping_address,
    the_same_key_replays_the_same_order,
    a_key_reused_for_another_request_is_refused,
    idempotency_keys_belong_to_their_user,
}
