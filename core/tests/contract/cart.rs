//! The signed-in user's cart.

use shop_core::{
    app::{Actor, AddToCart, AppError, CartView, UpdateCartItem},
    domain::{CartItemId, ProductId},
};

use crate::support::{
    TestShop, add_to_cart, admin, create_product, expect_validation, register_customer,
};

fn add(product: ProductId, quantity: i64) -> AddToCart {
    AddToCart {
        product_id: product.to_string(),
        quantity,
    }
}

/// (product, quantity) of each line, in cart order.
fn lines(cart: &CartView) -> Vec<(ProductId, i64)> {
    cart.lines
        .iter()
        .map(|line| (line.product.id, line.item.quantity.units()))
        .collect()
}

fn subtotal(cart: &CartView) -> Option<(i64, &'static str)> {
    cart.subtotal
        .map(|money| (money.amount_minor(), money.currency().code()))
}

async fn adding_a_product_again_adds_to_its_line(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_250, 10).await;
    let pot = create_product(&t, "POT-1", 3_999, 10).await;

    let empty = t.get_cart(&ada).await.expect("an empty cart");
    assert!(empty.lines.is_empty());
    assert_eq!(empty.subtotal, None);

    let cart = t.add_to_cart(&ada, add(mug.id, 2)).await.expect("add");
    assert_eq!(lines(&cart), vec![(mug.id, 2)]);
    assert_eq!(subtotal(&cart), Some((2_500, "USD")));
    let cart = t.add_to_cart(&ada, add(pot.id, 1)).await.expect("add");
    let cart_after = t
        .add_to_cart(&ada, add(mug.id, 3))
        .await
        .expect("add again");
    assert_eq!(lines(&cart), vec![(mug.id, 2), (pot.id, 1)]);
    assert_eq!(
        lines(&cart_after),
        vec![(mug.id, 5), (pot.id, 1)],
        "one line per product, oldest first"
    );
    assert_eq!(subtotal(&cart_after), Some((5 * 1_250 + 3_999, "USD")));
    assert_eq!(t.get_cart(&ada).await.expect("stored"), cart_after);

    // The cart shows current prices.
    t.update_product(
        &admin(),
        mug.id,
        shop_core::app::UpdateProduct {
            price_minor: Some(1_000),
            ..Default::default()
        },
    )
    .await
    .expect("new price");
    let repriced = t.get_cart(&ada).await.expect("cart");
    assert_eq!(subtotal(&repriced), Some((5 * 1_000 + 3_999, "USD")));

    let anonymous = t.get_cart(&Actor::Anonymous).await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
    let anonymous = t.add_to_cart(&Actor::Anonymous, add(mug.id, 1)).await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
}

async fn carts_refuse_more_than_is_in_stock(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 3).await;
    let too_many = t.add_to_cart(&ada, add(mug.id, 4)).await;
    assert!(
        matches!(
            too_many,
            Err(AppError::InsufficientStock {
                product_id: Some(id),
                requested: 4,
                available: 3
            }) if id == mug.id
        ),
        "{too_many:?}"
    );
    assert!(t.get_cart(&ada).await.expect("cart").lines.is_empty());

    add_to_cart(&t, &ada, mug.id, 2).await;
    let too_many = t.add_to_cart(&ada, add(mug.id, 2)).await;
    assert!(
        matches!(
            too_many,
            Err(AppError::InsufficientStock { requested: 4, .. })
        ),
        "what is already in the cart counts: {too_many:?}"
    );
    assert_eq!(
        lines(&t.get_cart(&ada).await.expect("cart")),
        vec![(mug.id, 2)]
    );
    add_to_cart(&t, &ada, mug.id, 1).await;
    assert_eq!(
        lines(&t.get_cart(&ada).await.expect("cart")),
        vec![(mug.id, 3)]
    );
}

async fn a_cart_line_holds_at_most_a_thousand_units(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let screw = create_product(&t, "SCREW", 5, 5_000).await;
    add_to_cart(&t, &ada, screw.id, 1_000).await;
    let over = t.add_to_cart(&ada, add(screw.id, 1)).await;
    expect_validation(over, &["quantity"]);
    assert_eq!(
        lines(&t.get_cart(&ada).await.expect("cart")),
        vec![(screw.id, 1_000)]
    );
}

async fn carts_refuse_unknown_and_inactive_products(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let retired = create_product(&t, "OLD-1", 1_000, 3).await;
    t.deactivate_product(&admin(), retired.id)
        .await
        .expect("deactivate");
    for product_id in [
        ProductId::new().to_string(),
        retired.id.to_string(),
        "MUG-1".to_owned(),
    ] {
        let refused = t
            .add_to_cart(
                &ada,
                AddToCart {
                    product_id: product_id.clone(),
                    quantity: 1,
                },
            )
            .await;
        expect_validation(refused, &["product_id"]);
    }
    assert!(t.get_cart(&ada).await.expect("cart").lines.is_empty());
}

async fn cart_lines_change_and_go(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let pot = create_product(&t, "POT-1", 2_000, 10).await;
    add_to_cart(&t, &ada, mug.id, 1).await;
    let cart = t.add_to_cart(&ada, add(pot.id, 1)).await.expect("add");
    let mug_line = cart.lines[0].item.id;
    let pot_line = cart.lines[1].item.id;

    let cart = t
        .update_cart_item(&ada, mug_line, UpdateCartItem { quantity: 4 })
        .await
        .expect("set the quantity");
    assert_eq!(lines(&cart), vec![(mug.id, 4), (pot.id, 1)]);
    assert_eq!(subtotal(&cart), Some((6_000, "USD")));
    for quantity in [0, -1, 1_001] {
        let refused = t
            .update_cart_item(&ada, mug_line, UpdateCartItem { quantity })
            .await;
        expect_validation(refused, &["quantity"]);
    }
    let unknown = t
        .update_cart_item(&ada, CartItemId::new(), UpdateCartItem { quantity: 1 })
        .await;
    assert!(matches!(unknown, Err(AppError::NotFound(_))), "{unknown:?}");
    assert_eq!(t.get_cart(&ada).await.expect("cart"), cart, "unchanged");

    let cart = t.remove_cart_item(&ada, pot_line).await.expect("remove");
    assert_eq!(lines(&cart), vec![(mug.id, 4)]);
    assert_eq!(subtotal(&cart), Some((4_000, "USD")));
    let again = t.remove_cart_item(&ada, pot_line).await;
    assert!(matches!(again, Err(AppError::NotFound(_))), "{again:?}");

    add_to_cart(&t, &ada, pot.id, 2).await;
    t.clear_cart(&ada).await.expect("clear");
    let cart = t.get_cart(&ada).await.expect("cart");
    assert!(cart.lines.is_empty());
    assert_eq!(cart.subtotal, None);
    t.clear_cart(&ada)
        .await
        .expect("clearing an empty cart is fine");
}

async fn carts_are_private(t: TestShop) {
    let (_, ada) = register_customer(&t, "ada@example.com").await;
    let (_, bob) = register_customer(&t, "bob@example.com").await;
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let cart = t.add_to_cart(&ada, add(mug.id, 2)).await.expect("add");
    let ada_line = cart.lines[0].item.id;

    assert!(t.get_cart(&bob).await.expect("bob's cart").lines.is_empty());
    let update = t
        .update_cart_item(&bob, ada_line, UpdateCartItem { quantity: 9 })
        .await;
    assert!(matches!(update, Err(AppError::NotFound(_))), "{update:?}");
    let remove = t.remove_cart_item(&bob, ada_line).await;
    assert!(matches!(remove, Err(AppError::NotFound(_))), "{remove:?}");
    t.clear_cart(&bob).await.expect("bob clears his own cart");
    assert_eq!(
        t.get_cart(&ada).await.expect("ada's cart"),
        cart,
        "untouched"
    );
}

contract_tests! {
    adding_a_product_again_adds_to_its_line,
    carts_refuse_more_than_is_in_stock,
    a_cart_line_holds_at_most_a_thousand_units,
    carts_refuse_unknown_and_inactive_products,
    cart_lines_change_and_go,
    carts_are_private,
}
