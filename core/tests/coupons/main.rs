//! Coupons, on Postgres and SQLite: staff define them (refused input changes nothing), customers
//! apply one to their cart, checkout re-checks it and takes the discount off before tax, and the
//! use is counted atomically (a 10-use coupon gives exactly 10 discounted orders however many
//! checkouts race for it).

#[allow(dead_code)]
#[macro_use]
#[path = "../contract/support.rs"]
mod support;

use chrono::{Duration, Utc};
use shop_core::{
    app::{Actor, AppError, CouponInput, CreateCategory, CreateProduct},
    domain::{Coupon, CouponRejection, OrderStatus, checkout::CheckoutError},
};
use uuid::Uuid;

use support::{
    TestShop, add_to_cart, admin, all_orders, checkout, checkout_command, create_product,
    create_product_with, events_of_type, expect_validation, product_command, register_customer,
    register_customers, stock_of,
};

contract_tests!(
    staff_define_coupons_and_bad_input_changes_nothing,
    the_discount_comes_off_before_tax_and_the_use_is_counted,
    scope_limits_the_discount_to_its_products_and_categories,
    a_coupon_that_cannot_be_used_is_refused_and_changes_nothing,
    checkout_re_checks_the_cart_coupon,
    per_customer_limits_count_each_customers_orders,
    racing_checkouts_never_exceed_the_usage_limit,
);

fn percent(code: &str, basis_points: i64) -> CouponInput {
    CouponInput {
        code: code.to_owned(),
        kind: "percentage".to_owned(),
        amount: basis_points,
        ..CouponInput::default()
    }
}

fn fixed(code: &str, minor: i64, currency: &str) -> CouponInput {
    CouponInput {
        code: code.to_owned(),
        kind: "fixed".to_owned(),
        amount: minor,
        currency: Some(currency.to_owned()),
        ..CouponInput::default()
    }
}

async fn create(t: &TestShop, input: CouponInput) -> Coupon {
    t.create_coupon(&admin(), input)
        .await
        .expect("create the coupon")
}

async fn coupons(t: &TestShop) -> Vec<Coupon> {
    t.list_coupons(&admin()).await.expect("list coupons")
}

#[track_caller]
fn expect_rejection<T: std::fmt::Debug>(result: Result<T, AppError>, expected: CouponRejection) {
    match result {
        Err(AppError::Checkout(CheckoutError::Coupon(rejection))) => {
            assert_eq!(rejection, expected);
        }
        other => panic!("expected the coupon to be refused ({expected:?}), got {other:?}"),
    }
}

async fn staff_define_coupons_and_bad_input_changes_nothing(t: TestShop) {
    let created = create(&t, percent(" summer-10 ", 1_000)).await;
    assert_eq!(created.code.as_str(), "SUMMER-10");
    assert_eq!(created.used, 0);

    let (_, customer) = register_customer(&t, "shopper@example.com").await;
    assert!(matches!(
        t.create_coupon(&customer, percent("MINE", 5_000)).await,
        Err(AppError::Forbidden)
    ));
    assert!(matches!(
        t.create_coupon(&Actor::Anonymous, percent("MINE", 5_000))
            .await,
        Err(AppError::Unauthenticated)
    ));
    assert!(matches!(
        t.create_coupon(&admin(), percent("Summer-10", 500)).await,
        Err(AppError::AlreadyExists { field: "code" })
    ));
    expect_validation(
        t.create_coupon(&admin(), percent("x", 0)).await,
        &["code", "amount"],
    );
    expect_validation(
        t.create_coupon(&admin(), percent("PCT", 10_001)).await,
        &["amount"],
    );
    expect_validation(
        t.create_coupon(
            &admin(),
            CouponInput {
                currency: None,
                ..fixed("FIVE", 500, "USD")
            },
        )
        .await,
        &["currency"],
    );
    expect_validation(
        t.create_coupon(
            &admin(),
            CouponInput {
                kind: "gift".to_owned(),
                ..percent("GIFT", 100)
            },
        )
        .await,
        &["kind"],
    );
    let now = Utc::now();
    expect_validation(
        t.create_coupon(
            &admin(),
            CouponInput {
                starts_at: Some(now),
                ends_at: Some(now - Duration::hours(1)),
                usage_limit: Some(0),
                per_customer_limit: Some(-1),
                min_subtotal_minor: Some(100),
                product_ids: vec!["not-a-uuid".to_owned()],
                ..percent("WINDOW", 100)
            },
        )
        .await,
        &[
            "ends_at",
            "usage_limit",
            "per_customer_limit",
            "currency",
            "product_ids",
        ],
    );
    // Limits stop at 10^9 (the bound the API documents).
    expect_validation(
        t.create_coupon(
            &admin(),
            CouponInput {
                usage_limit: Some(1_000_000_001),
                per_customer_limit: Some(1_000_000_000),
                ..percent("HUGE", 100)
            },
        )
        .await,
        &["usage_limit"],
    );
    expect_validation(
        t.create_coupon(
            &admin(),
            CouponInput {
                product_ids: vec![Uuid::new_v4().to_string()],
                ..percent("GHOST", 100)
            },
        )
        .await,
        &["product_ids"],
    );
    assert_eq!(
        coupons(&t).await,
        vec![created.clone()],
        "refusals stored nothing"
    );

    let updated = t
        .update_coupon(
            &admin(),
            created.id,
            CouponInput {
                usage_limit: Some(5),
                active: Some(false),
                ..fixed("summer-5", 500, "EUR")
            },
        )
        .await
        .expect("update the coupon");
    assert_eq!(updated.code.as_str(), "SUMMER-5");
    assert_eq!(updated.usage_limit, Some(5));
    assert!(!updated.active);
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(t.coupon(&admin(), created.id).await.expect("read"), updated);
    expect_validation(
        t.update_coupon(&admin(), created.id, percent("SUMMER-5", 0))
            .await,
        &["amount"],
    );
    assert_eq!(t.coupon(&admin(), created.id).await.expect("read"), updated);

    t.delete_coupon(&admin(), created.id).await.expect("delete");
    assert!(coupons(&t).await.is_empty());
    assert!(matches!(
        t.delete_coupon(&admin(), created.id).await,
        Err(AppError::NotFound("coupon"))
    ));
    assert!(matches!(
        t.update_coupon(&admin(), created.id, percent("AGAIN", 100))
            .await,
        Err(AppError::NotFound("coupon"))
    ));
}

async fn the_discount_comes_off_before_tax_and_the_use_is_counted(t: TestShop) {
    let shop = t.with_tax(1_000);
    let mug = create_product(&shop, "MUG-1", 2_000, 10).await;
    let coupon = create(&t, percent("TENOFF", 1_000)).await;
    let (_, buyer) = register_customer(&shop, "buyer@example.com").await;
    add_to_cart(&shop, &buyer, mug.id, 2).await;

    let cart = shop.apply_coupon(&buyer, "tenoff").await.expect("apply");
    let on_cart = cart.coupon.expect("the cart shows its coupon");
    assert_eq!(on_cart.code, "TENOFF");
    assert_eq!(on_cart.discount.map(|m| m.amount_minor()), Some(400));
    assert_eq!(on_cart.problem, None);

    let order = checkout(&shop, &buyer, "with-coupon").await.order;
    assert_eq!(order.subtotal.amount_minor(), 4_000);
    assert_eq!(order.discount.amount_minor(), 400);
    assert_eq!(order.coupon_code.as_deref(), Some("TENOFF"));
    // 10 % tax on the discounted 36.00.
    assert_eq!(order.tax.amount_minor(), 360);
    assert_eq!(order.total.amount_minor(), 3_960);
    let stored = shop
        .get_order(&buyer, order.id)
        .await
        .expect("read the order");
    assert_eq!(stored.discount, order.discount);
    assert_eq!(stored.coupon_code, order.coupon_code);
    assert_eq!(stored.total, order.total);

    assert_eq!(t.coupon(&admin(), coupon.id).await.expect("read").used, 1);
    let cart = shop.get_cart(&buyer).await.expect("cart");
    assert!(
        cart.coupon.is_none(),
        "the coupon left the cart with the order"
    );
    let placed = events_of_type(&t, "dev.shop.order.placed.v1").await;
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].payload["discount_minor"], 400);
    assert_eq!(placed[0].payload["coupon_code"], "TENOFF");

    // Without a coupon nothing changes: no discount, no code.
    add_to_cart(&shop, &buyer, mug.id, 1).await;
    let plain = checkout(&shop, &buyer, "without-coupon").await.order;
    assert_eq!(plain.discount.amount_minor(), 0);
    assert_eq!(plain.coupon_code, None);
    assert_eq!(plain.total.amount_minor(), 2_200);
}

async fn scope_limits_the_discount_to_its_products_and_categories(t: TestShop) {
    let shoes = t
        .create_category(
            &admin(),
            CreateCategory {
                name: "Shoes".to_owned(),
                ..CreateCategory::default()
            },
        )
        .await
        .expect("category");
    let boot = create_product_with(
        &t,
        CreateProduct {
            category_id: Some(shoes.id.to_string()),
            ..product_command("BOOT-1", 5_000, 10)
        },
    )
    .await;
    let sock = create_product(&t, "SOCK-1", 500, 10).await;
    let hat = create_product(&t, "HAT-1", 1_500, 10).await;
    create(
        &t,
        CouponInput {
            category_ids: vec![shoes.id.to_string()],
            product_ids: vec![sock.id.to_string()],
            ..percent("SHOES-HALF", 5_000)
        },
    )
    .await;
    create(
        &t,
        CouponInput {
            product_ids: vec![hat.id.to_string()],
            ..fixed("HATS-ONLY", 10_000, "USD")
        },
    )
    .await;

    let (_, buyer) = register_customer(&t, "buyer@example.com").await;
    add_to_cart(&t, &buyer, boot.id, 1).await;
    add_to_cart(&t, &buyer, sock.id, 2).await;
    expect_rejection(
        t.apply_coupon(&buyer, "HATS-ONLY").await,
        CouponRejection::NotApplicable,
    );
    add_to_cart(&t, &buyer, hat.id, 1).await;
    // A fixed amount is capped by what it applies to: the one hat.
    let cart = t.apply_coupon(&buyer, "HATS-ONLY").await.expect("apply");
    assert_eq!(
        cart.coupon
            .and_then(|c| c.discount)
            .map(|m| m.amount_minor()),
        Some(1_500)
    );
    // Applying another replaces it; half of the boot and the socks, not of the hat.
    let cart = t.apply_coupon(&buyer, "shoes-half").await.expect("apply");
    assert_eq!(
        cart.coupon
            .and_then(|c| c.discount)
            .map(|m| m.amount_minor()),
        Some(3_000)
    );
    let order = checkout(&t, &buyer, "scoped").await.order;
    assert_eq!(order.discount.amount_minor(), 3_000);
    assert_eq!(order.total.amount_minor(), 7_500 - 3_000);
}

async fn a_coupon_that_cannot_be_used_is_refused_and_changes_nothing(t: TestShop) {
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let now = Utc::now();
    create(
        &t,
        CouponInput {
            ends_at: Some(now - Duration::minutes(1)),
            ..percent("OLD", 1_000)
        },
    )
    .await;
    create(
        &t,
        CouponInput {
            starts_at: Some(now + Duration::days(1)),
            ..percent("SOON", 1_000)
        },
    )
    .await;
    create(
        &t,
        CouponInput {
            active: Some(false),
            ..percent("PAUSED", 1_000)
        },
    )
    .await;
    create(
        &t,
        CouponInput {
            min_subtotal_minor: Some(5_000),
            currency: Some("USD".to_owned()),
            ..percent("BIG-CARTS", 1_000)
        },
    )
    .await;
    create(&t, fixed("EUROS", 100, "EUR")).await;

    let (_, buyer) = register_customer(&t, "buyer@example.com").await;
    assert!(matches!(
        t.apply_coupon(&buyer, "OLD").await,
        Err(AppError::Checkout(CheckoutError::EmptyCart))
    ));
    add_to_cart(&t, &buyer, mug.id, 1).await;
    expect_rejection(
        t.apply_coupon(&buyer, "old").await,
        CouponRejection::Expired,
    );
    expect_rejection(
        t.apply_coupon(&buyer, "SOON").await,
        CouponRejection::NotYetValid,
    );
    expect_rejection(
        t.apply_coupon(&buyer, "PAUSED").await,
        CouponRejection::Inactive,
    );
    expect_rejection(
        t.apply_coupon(&buyer, "BIG-CARTS").await,
        CouponRejection::BelowMinimum(shop_core::domain::Money::new(
            5_000,
            shop_core::domain::Currency::parse("USD").expect("USD"),
        )),
    );
    expect_rejection(
        t.apply_coupon(&buyer, "EUROS").await,
        CouponRejection::WrongCurrency(shop_core::domain::Currency::parse("EUR").expect("EUR")),
    );
    assert!(matches!(
        t.apply_coupon(&buyer, "NOPE").await,
        Err(AppError::NotFound("coupon"))
    ));
    expect_validation(t.apply_coupon(&buyer, "no spaces allowed").await, &["code"]);
    assert!(matches!(
        t.apply_coupon(&Actor::Anonymous, "OLD").await,
        Err(AppError::Unauthenticated)
    ));
    assert!(
        t.get_cart(&buyer).await.expect("cart").coupon.is_none(),
        "no refused coupon reached the cart"
    );
    // Removing when there is none is fine.
    assert!(
        t.remove_coupon(&buyer)
            .await
            .expect("remove")
            .coupon
            .is_none()
    );
}

async fn checkout_re_checks_the_cart_coupon(t: TestShop) {
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let coupon = create(
        &t,
        CouponInput {
            min_subtotal_minor: Some(2_000),
            currency: Some("USD".to_owned()),
            ..percent("TWO-MUGS", 1_000)
        },
    )
    .await;
    let (_, buyer) = register_customer(&t, "buyer@example.com").await;
    add_to_cart(&t, &buyer, mug.id, 2).await;
    t.apply_coupon(&buyer, "TWO-MUGS").await.expect("apply");

    // The cart shrinks below the minimum: the cart says why, checkout refuses.
    let line = t.get_cart(&buyer).await.expect("cart").lines[0].item.id;
    t.update_cart_item(&buyer, line, shop_core::app::UpdateCartItem { quantity: 1 })
        .await
        .expect("one mug");
    let cart = t.get_cart(&buyer).await.expect("cart");
    let on_cart = cart.coupon.expect("still applied");
    assert_eq!(on_cart.discount, None);
    assert!(on_cart.problem.expect("a problem").contains("at least"));
    expect_rejection(
        t.checkout(&buyer, checkout_command("too-small")).await,
        CouponRejection::BelowMinimum(shop_core::domain::Money::new(
            2_000,
            shop_core::domain::Currency::parse("USD").expect("USD"),
        )),
    );
    // Staff deactivate it meanwhile: refused as well, and nothing was ordered or taken.
    t.update_cart_item(&buyer, line, shop_core::app::UpdateCartItem { quantity: 2 })
        .await
        .expect("two mugs");
    t.update_coupon(
        &admin(),
        coupon.id,
        CouponInput {
            min_subtotal_minor: Some(2_000),
            currency: Some("USD".to_owned()),
            active: Some(false),
            ..percent("TWO-MUGS", 1_000)
        },
    )
    .await
    .expect("deactivate");
    expect_rejection(
        t.checkout(&buyer, checkout_command("inactive")).await,
        CouponRejection::Inactive,
    );
    assert!(all_orders(&t).await.is_empty());
    assert_eq!(stock_of(&t, mug.id).await, 10);
    assert_eq!(t.get_cart(&buyer).await.expect("cart").lines.len(), 1);
    assert_eq!(t.coupon(&admin(), coupon.id).await.expect("read").used, 0);

    // Without the coupon the same cart checks out at full price.
    t.remove_coupon(&buyer).await.expect("remove");
    let order = checkout(&t, &buyer, "full-price").await.order;
    assert_eq!(order.discount.amount_minor(), 0);
    assert_eq!(order.total.amount_minor(), 2_000);
}

async fn per_customer_limits_count_each_customers_orders(t: TestShop) {
    let mug = create_product(&t, "MUG-1", 1_000, 10).await;
    let coupon = create(
        &t,
        CouponInput {
            per_customer_limit: Some(1),
            ..fixed("ONCE-EACH", 100, "USD")
        },
    )
    .await;
    let (_, ann) = register_customer(&t, "ann@example.com").await;
    let (_, bob) = register_customer(&t, "bob@example.com").await;
    add_to_cart(&t, &ann, mug.id, 1).await;
    t.apply_coupon(&ann, "ONCE-EACH").await.expect("apply");
    let first = checkout(&t, &ann, "first").await.order;
    assert_eq!(first.discount.amount_minor(), 100);

    add_to_cart(&t, &ann, mug.id, 1).await;
    expect_rejection(
        t.apply_coupon(&ann, "ONCE-EACH").await,
        CouponRejection::UsedUpByCustomer,
    );
    add_to_cart(&t, &bob, mug.id, 1).await;
    t.apply_coupon(&bob, "ONCE-EACH").await.expect("bob may");
    assert_eq!(
        checkout(&t, &bob, "bob")
            .await
            .order
            .discount
            .amount_minor(),
        100
    );
    assert_eq!(t.coupon(&admin(), coupon.id).await.expect("read").used, 2);
}

async fn racing_checkouts_never_exceed_the_usage_limit(t: TestShop) {
    const BUYERS: usize = 100;
    const USES: i64 = 10;
    let mug = create_product(&t, "MUG-1", 1_000, 1_000).await;
    let coupon = create(
        &t,
        CouponInput {
            usage_limit: Some(USES),
            ..percent("FIRST-TEN", 2_000)
        },
    )
    .await;
    let buyers = register_customers(&t, "racer", BUYERS).await;
    for (_, buyer) in &buyers {
        add_to_cart(&t, buyer, mug.id, 1).await;
        t.apply_coupon(buyer, "FIRST-TEN").await.expect("apply");
    }
    let attempts: Vec<_> = buyers
        .iter()
        .map(|(_, buyer)| {
            let shop = t.shop.clone();
            let buyer = *buyer;
            tokio::spawn(async move { shop.checkout(&buyer, checkout_command("race")).await })
        })
        .collect();
    let mut discounted = 0;
    let mut used_up = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.expect("the checkout task ran to completion") {
            Ok(result) => {
                assert_eq!(result.order.discount.amount_minor(), 200);
                assert_eq!(result.order.status, OrderStatus::PendingPayment);
                discounted += 1;
            }
            Err(AppError::Checkout(CheckoutError::Coupon(CouponRejection::UsedUp))) => {
                used_up += 1;
            }
            Err(other) => panic!("a checkout failed for another reason: {other:?}"),
        }
    }
    assert_eq!(discounted, USES, "exactly the limit was used");
    assert_eq!(used_up, BUYERS as i64 - USES);
    assert_eq!(
        t.coupon(&admin(), coupon.id).await.expect("read").used,
        USES
    );
    let orders = all_orders(&t).await;
    assert_eq!(orders.len(), USES as usize);
    assert!(
        orders
            .iter()
            .all(|o| o.coupon_code.as_deref() == Some("FIRST-TEN"))
    );
    assert_eq!(stock_of(&t, mug.id).await, 1_000 - USES);
}
