//! Bad input at every command: a validation error naming the right fields, and nothing stored.

use shop_core::{
    app::{
        AddToCart, AddressInput, AdjustStock, ChangeOrderStatus, Checkout, CreateCategory,
        CreateProduct, ListOrders, ListProducts, ListUsers, RecordPayment, RegisterUser,
        SearchProducts, UpdateCartItem, UpdateCategory, UpdateProduct, UpdateProfile,
        UpdateUserAdmin,
    },
    domain::{CategoryId, Product},
};

use crate::support::{
    PASSWORD, TestShop, add_address, add_to_cart, address_input, admin, create_product,
    expect_validation, place_order, product_command, register_customer, snapshot,
};

async fn users_and_addresses_refuse_bad_values(t: TestShop) {
    let (ada_user, ada) = register_customer(&t, "ada@example.com").await;
    let home = add_address(&t, &ada, "Ada").await;
    let before = snapshot(&t).await;
    let addresses = t.list_addresses(&ada).await.expect("addresses");

    let register = |email: &str, password: &str, name: &str, role: Option<&str>| RegisterUser {
        email: email.into(),
        password: password.into(),
        full_name: name.into(),
        role: role.map(str::to_owned),
    };
    for (command, fields) in [
        (
            register("not-an-email", PASSWORD, "Bob", None),
            vec!["email"],
        ),
        (
            register("bob@localhost", PASSWORD, "Bob", None),
            vec!["email"],
        ),
        (register("", PASSWORD, "Bob", None), vec!["email"]),
        (
            register("bob@example.com", "short", "Bob", None),
            vec!["password"],
        ),
        (
            register("bob@example.com", "        ", "Bob", None),
            vec!["password"],
        ),
        (
            register("bob@example.com", &"x".repeat(129), "Bob", None),
            vec!["password"],
        ),
        (
            register("bob@example.com", PASSWORD, "   ", None),
            vec!["full_name"],
        ),
        (
            register("bob@example.com", PASSWORD, &"n".repeat(101), None),
            vec!["full_name"],
        ),
        (
            register("bob@example.com", PASSWORD, "Bob", Some("root")),
            vec!["role"],
        ),
        (
            register("bob", "short", "", Some("Admin")),
            vec!["email", "password", "full_name", "role"],
        ),
    ] {
        let refused = t.register_user(&admin(), command.clone()).await;
        expect_validation(refused, &fields);
    }

    for (command, fields) in [
        (
            UpdateProfile {
                email: Some("nope".into()),
                ..UpdateProfile::default()
            },
            vec!["email"],
        ),
        (
            UpdateProfile {
                full_name: Some(" ".into()),
                ..UpdateProfile::default()
            },
            vec!["full_name"],
        ),
        (
            UpdateProfile {
                full_name: Some("Bad\u{0}Name".into()),
                email: Some("@example.com".into()),
            },
            vec!["email", "full_name"],
        ),
    ] {
        expect_validation(t.update_profile(&ada, command).await, &fields);
    }
    let bad_role = t
        .update_user_admin(
            &admin(),
            ada_user.id,
            UpdateUserAdmin {
                role: Some("superuser".into()),
                disabled: Some(true),
            },
        )
        .await;
    expect_validation(bad_role, &["role"]);
    expect_validation(
        t.list_users(
            &admin(),
            ListUsers {
                limit: Some(0),
                cursor: None,
            },
        )
        .await,
        &["limit"],
    );
    expect_validation(
        t.list_users(
            &admin(),
            ListUsers {
                limit: Some(101),
                cursor: None,
            },
        )
        .await,
        &["limit"],
    );
    for cursor in ["garbage!", "bm90LWpzb24", ""] {
        expect_validation(
            t.list_users(
                &admin(),
                ListUsers {
                    limit: None,
                    cursor: Some(cursor.into()),
                },
            )
            .await,
            &["cursor"],
        );
    }

    let valid = address_input("Ada");
    for (input, fields) in [
        (
            AddressInput {
                country: "DEU".into(),
                ..valid.clone()
            },
            vec!["country"],
        ),
        (
            AddressInput {
                country: "1A".into(),
                ..valid.clone()
            },
            vec!["country"],
        ),
        (
            AddressInput {
                recipient: String::new(),
                ..valid.clone()
            },
            vec!["recipient"],
        ),
        (
            AddressInput {
                line1: " ".into(),
                city: String::new(),
                postal_code: "9".repeat(21),
                ..valid.clone()
            },
            vec!["line1", "city", "postal_code"],
        ),
        (
            AddressInput {
                phone: Some("1".repeat(31)),
                line2: Some("x".repeat(201)),
                region: Some("r".repeat(101)),
                ..valid.clone()
            },
            vec!["phone", "line2", "region"],
        ),
    ] {
        expect_validation(t.add_address(&ada, input.clone()).await, &fields);
        expect_validation(t.update_address(&ada, home.id, input).await, &fields);
    }
    expect_validation(
        t.change_password(
            &ada,
            shop_core::app::ChangePassword {
                current_password: PASSWORD.into(),
                new_password: "1234567".into(),
            },
        )
        .await,
        &["new_password"],
    );

    assert_eq!(snapshot(&t).await, before, "nothing was stored or changed");
    assert_eq!(t.list_addresses(&ada).await.expect("addresses"), addresses);
    t.authenticate("ada@example.com", PASSWORD)
        .await
        .expect("the password is unchanged");
}

async fn the_catalog_refuses_bad_values(t: TestShop) {
    let kitchen = t
        .create_category(
            &admin(),
            CreateCategory {
                name: "Kitchen".into(),
                ..CreateCategory::default()
            },
        )
        .await
        .expect("a category");
    let mug = create_product(&t, "MUG-1", 1_000, 5).await;
    let before = snapshot(&t).await;

    let category = |name: &str, slug: Option<&str>, parent: Option<&str>| CreateCategory {
        name: name.into(),
        slug: slug.map(str::to_owned),
        parent_id: parent.map(str::to_owned),
        description: None,
    };
    for (command, fields) in [
        (category("", None, None), vec!["name", "slug"]),
        (category("日本", None, None), vec!["slug"]),
        (category("!!!", None, None), vec!["slug"]),
        (category("Garden", Some("Garden Stuff"), None), vec!["slug"]),
        (
            category("Garden", Some("garden--stuff"), None),
            vec!["slug"],
        ),
        (
            category("Garden", None, Some("not-a-uuid")),
            vec!["parent_id"],
        ),
        (category("Garden", None, Some("")), vec!["parent_id"]),
        (
            category(&"g".repeat(101), Some("garden"), None),
            vec!["name"],
        ),
        (
            CreateCategory {
                description: Some("x".repeat(10_001)),
                ..category("Garden", None, None)
            },
            vec!["description"],
        ),
    ] {
        expect_validation(t.create_category(&admin(), command).await, &fields);
    }
    for (command, fields) in [
        (
            UpdateCategory {
                name: Some(String::new()),
                ..UpdateCategory::default()
            },
            vec!["name"],
        ),
        (
            UpdateCategory {
                slug: Some("Bad Slug".into()),
                parent_id: Some(Some("42".into())),
                ..UpdateCategory::default()
            },
            vec!["slug", "parent_id"],
        ),
    ] {
        expect_validation(
            t.update_category(&admin(), kitchen.id, command).await,
            &fields,
        );
    }

    let valid = CreateProduct {
        category_id: Some(kitchen.id.to_string()),
        ..product_command("CUP-1", 500, 5)
    };
    for (command, fields) in [
        (
            CreateProduct {
                sku: "has space".into(),
                ..valid.clone()
            },
            vec!["sku"],
        ),
        (
            CreateProduct {
                sku: String::new(),
                ..valid.clone()
            },
            vec!["sku"],
        ),
        (
            CreateProduct {
                sku: "S".repeat(65),
                ..valid.clone()
            },
            vec!["sku"],
        ),
        (
            CreateProduct {
                price_minor: -1,
                ..valid.clone()
            },
            vec!["price_minor"],
        ),
        (
            CreateProduct {
                price_minor: 1_000_000_000_001,
                ..valid.clone()
            },
            vec!["price_minor"],
        ),
        (
            CreateProduct {
                currency: "ZZZ".into(),
                ..valid.clone()
            },
            vec!["currency"],
        ),
        (
            CreateProduct {
                currency: "usd".into(),
                ..valid.clone()
            },
            vec!["currency"],
        ),
        (
            CreateProduct {
                currency: "XAU".into(),
                ..valid.clone()
            },
            vec!["currency"],
        ),
        (
            CreateProduct {
                name: String::new(),
                slug: Some("cup".into()),
                ..valid.clone()
            },
            vec!["name"],
        ),
        (
            CreateProduct {
                slug: Some("Cup_1".into()),
                ..valid.clone()
            },
            vec!["slug"],
        ),
        (
            CreateProduct {
                stock: Some(-1),
                ..valid.clone()
            },
            vec!["stock"],
        ),
        (
            CreateProduct {
                category_id: Some("kitchen".into()),
                ..valid.clone()
            },
            vec!["category_id"],
        ),
        (
            CreateProduct {
                sku: "a;b".into(),
                price_minor: -5,
                currency: "EURO".into(),
                stock: Some(-3),
                ..valid.clone()
            },
            vec!["sku", "currency", "stock"],
        ),
    ] {
        expect_validation(t.create_product(&admin(), command.clone()).await, &fields);
    }
    for (command, fields) in [
        (
            UpdateProduct {
                price_minor: Some(-1),
                ..UpdateProduct::default()
            },
            vec!["price_minor"],
        ),
        (
            UpdateProduct {
                currency: Some("ZZZ".into()),
                price_minor: Some(5),
                ..UpdateProduct::default()
            },
            vec!["currency"],
        ),
        (
            UpdateProduct {
                name: Some(" ".into()),
                slug: Some("-mug".into()),
                ..UpdateProduct::default()
            },
            vec!["name", "slug"],
        ),
        (
            UpdateProduct {
                category_id: Some(Some("nope".into())),
                ..UpdateProduct::default()
            },
            vec!["category_id"],
        ),
        (
            UpdateProduct {
                category_id: Some(Some(CategoryId::new().to_string())),
                ..UpdateProduct::default()
            },
            vec!["category_id"],
        ),
    ] {
        expect_validation(t.update_product(&admin(), mug.id, command).await, &fields);
    }
    for (command, fields) in [
        (
            AdjustStock {
                delta: 0,
                reason: "nothing".into(),
            },
            vec!["delta"],
        ),
        (
            AdjustStock {
                delta: 5,
                reason: String::new(),
            },
            vec!["reason"],
        ),
        (
            AdjustStock {
                delta: 1_000_000_001,
                reason: "too many".into(),
            },
            vec!["delta"],
        ),
        (
            AdjustStock {
                delta: i64::MIN,
                reason: String::new(),
            },
            vec!["delta", "reason"],
        ),
    ] {
        expect_validation(t.adjust_stock(&admin(), mug.id, command).await, &fields);
    }

    assert_eq!(snapshot(&t).await, before, "nothing was stored or changed");
}

async fn listings_and_searches_refuse_bad_queries(t: TestShop) {
    let products: Vec<Product> = vec![
        create_product(&t, "MUG-1", 1_000, 5).await,
        create_product(&t, "MUG-2", 2_000, 5).await,
    ];
    assert_eq!(products.len(), 2);
    let list = |query: ListProducts| {
        let shop = t.shop.clone();
        async move { shop.list_products(&admin(), query).await }
    };
    for (query, fields) in [
        (
            ListProducts {
                sort: Some("cheapest".into()),
                ..ListProducts::default()
            },
            vec!["sort"],
        ),
        (
            ListProducts {
                limit: Some(0),
                ..ListProducts::default()
            },
            vec!["limit"],
        ),
        (
            ListProducts {
                limit: Some(101),
                ..ListProducts::default()
            },
            vec!["limit"],
        ),
        (
            ListProducts {
                cursor: Some("%%%".into()),
                ..ListProducts::default()
            },
            vec!["cursor"],
        ),
        (
            ListProducts {
                cursor: Some("eyJOZXdlc3QiOiJub3BlIn0".into()),
                ..ListProducts::default()
            },
            vec!["cursor"],
        ),
        (
            ListProducts {
                category_id: Some("kitchen".into()),
                ..ListProducts::default()
            },
            vec!["category_id"],
        ),
        (
            ListProducts {
                min_price_minor: Some(-1),
                ..ListProducts::default()
            },
            vec!["min_price"],
        ),
        (
            ListProducts {
                min_price_minor: Some(500),
                max_price_minor: Some(100),
                ..ListProducts::default()
            },
            vec!["max_price"],
        ),
        (
            ListProducts {
                sort: Some("random".into()),
                category_id: Some("x".into()),
                max_price_minor: Some(-2),
                ..ListProducts::default()
            },
            vec!["sort", "category_id", "max_price"],
        ),
    ] {
        expect_validation(list(query).await, &fields);
    }

    let search = |query: &str, limit: Option<u32>, cursor: Option<&str>| SearchProducts {
        query: query.into(),
        limit,
        cursor: cursor.map(str::to_owned),
    };
    for (query, fields) in [
        (search("", None, None), vec!["q"]),
        (search("  !!! -- ", None, None), vec!["q"]),
        (search(&"mug ".repeat(60), None, None), vec!["q"]),
        (search("mug", Some(0), None), vec!["limit"]),
        (search("mug", Some(101), None), vec!["limit"]),
        (search("mug", None, Some("not a cursor")), vec!["cursor"]),
    ] {
        expect_validation(t.search_products(&admin(), query).await, &fields);
    }
}

async fn carts_checkouts_and_orders_refuse_bad_values(t: TestShop) {
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

contract_tests! {
    users_and_addresses_refuse_bad_values,
    the_catalog_refuses_bad_values,
    listings_and_searches_refuse_bad_queries,
    carts_checkouts_and_orders_refuse_bad_values,
}
