//! The catalog refuses bad values, and listings and searches refuse bad queries.

use shop_core::{
    app::{
        AdjustStock, CreateCategory, CreateProduct, ListProducts, SearchProducts, UpdateCategory,
        UpdateProduct,
    },
    domain::{CategoryId, Product},
};

use crate::support::{
    TestShop, admin, create_product, expect_validation, product_command, snapshot,
};

pub(super) async fn the_catalog_refuses_bad_values(t: TestShop) {
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

pub(super) async fn listings_and_searches_refuse_bad_queries(t: TestShop) {
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
