//! Listings: filters, every sort, and keyset pagination with cursors tied to their sort.

use std::collections::HashSet;

use shop_core::{
    app::{Actor, CreateProduct, ListProducts, name_sort_key},
    domain::{Category, CategoryId, Product, ProductId},
};

use crate::support::{TestShop, create_product_with, product_command};

use super::{create_category, ids, list_ids};

pub(super) async fn listings_filter_by_category_tree_price_and_stock(t: TestShop) {
    let kitchen = create_category(&t, "Kitchen", None).await;
    let mugs = create_category(&t, "Mugs", Some(&kitchen)).await;
    let espresso = create_category(&t, "Espresso Cups", Some(&mugs)).await;
    let garden = create_category(&t, "Garden", None).await;
    let in_category =
        |sku: &str, price: i64, stock: i64, category: Option<&Category>| CreateProduct {
            category_id: category.map(|c| c.id.to_string()),
            ..product_command(sku, price, stock)
        };
    let pan = create_product_with(&t, in_category("PAN", 100, 3, Some(&kitchen))).await;
    let mug = create_product_with(&t, in_category("MUG", 200, 3, Some(&mugs))).await;
    let cup = create_product_with(&t, in_category("CUP", 300, 0, Some(&espresso))).await;
    let hose = create_product_with(&t, in_category("HOSE", 400, 3, Some(&garden))).await;
    let book = create_product_with(&t, in_category("BOOK", 500, 3, None)).await;

    let sorted = |mut ids: Vec<ProductId>| {
        ids.sort_unstable();
        ids
    };
    let query = |category: Option<&Category>| ListProducts {
        category_id: category.map(|c| c.id.to_string()),
        sort: Some("price_asc".into()),
        ..ListProducts::default()
    };
    let customer = Actor::Anonymous;
    let cases: Vec<(&str, ListProducts, Vec<ProductId>)> = vec![
        (
            "everything",
            query(None),
            vec![pan.id, mug.id, cup.id, hose.id, book.id],
        ),
        (
            "kitchen and below",
            query(Some(&kitchen)),
            vec![pan.id, mug.id, cup.id],
        ),
        ("mugs and below", query(Some(&mugs)), vec![mug.id, cup.id]),
        ("espresso cups", query(Some(&espresso)), vec![cup.id]),
        ("garden", query(Some(&garden)), vec![hose.id]),
        (
            "an unknown category",
            ListProducts {
                category_id: Some(CategoryId::new().to_string()),
                ..ListProducts::default()
            },
            vec![],
        ),
        (
            "prices within bounds, inclusive",
            ListProducts {
                min_price_minor: Some(200),
                max_price_minor: Some(400),
                ..query(None)
            },
            vec![mug.id, cup.id, hose.id],
        ),
        (
            "at least",
            ListProducts {
                min_price_minor: Some(500),
                ..query(None)
            },
            vec![book.id],
        ),
        (
            "at most",
            ListProducts {
                max_price_minor: Some(100),
                ..query(None)
            },
            vec![pan.id],
        ),
        (
            "in stock",
            ListProducts {
                in_stock: Some(true),
                ..query(None)
            },
            vec![pan.id, mug.id, hose.id, book.id],
        ),
        (
            "in stock in the kitchen from 150",
            ListProducts {
                in_stock: Some(true),
                min_price_minor: Some(150),
                ..query(Some(&kitchen))
            },
            vec![mug.id],
        ),
        (
            "in_stock false does not filter",
            ListProducts {
                in_stock: Some(false),
                ..query(Some(&mugs))
            },
            vec![mug.id, cup.id],
        ),
    ];
    for (case, filter, expected) in cases {
        assert_eq!(
            list_ids(&t, &customer, filter.clone()).await,
            expected,
            "{case} (price_asc)"
        );
        // Paged one by one, newest first: the same products.
        let paged = list_ids(
            &t,
            &customer,
            ListProducts {
                sort: None,
                limit: Some(1),
                ..filter
            },
        )
        .await;
        assert_eq!(sorted(paged), sorted(expected), "{case} (paged)");
    }
}

pub(super) async fn every_sort_pages_through_every_product_exactly_once(t: TestShop) {
    let products = sortable_catalog(&t).await;
    let expected_order = |sort: &str, products: &[Product]| {
        let mut sorted = products.to_vec();
        match sort {
            "newest" => sorted.sort_by_key(|p| std::cmp::Reverse(p.id)),
            "price_asc" => sorted.sort_by_key(|p| (p.price.amount_minor(), p.id)),
            "price_desc" => {
                sorted.sort_by_key(|p| std::cmp::Reverse((p.price.amount_minor(), p.id)))
            }
            "name" => sorted.sort_by_key(|p| (name_sort_key(p.name.as_str()), p.id)),
            other => panic!("unknown sort {other}"),
        }
        ids(&sorted)
    };
    let in_stock: Vec<Product> = products
        .iter()
        .filter(|p| p.stock.units() > 0)
        .cloned()
        .collect();

    for sort in ["newest", "price_asc", "price_desc", "name"] {
        for limit in [1, 4, 14, 100] {
            let listed = list_ids(
                &t,
                &Actor::Anonymous,
                ListProducts {
                    sort: Some(sort.into()),
                    limit: Some(limit),
                    ..ListProducts::default()
                },
            )
            .await;
            assert_eq!(
                listed,
                expected_order(sort, &products),
                "{sort}, {limit} a page"
            );
            let unique: HashSet<_> = listed.iter().collect();
            assert_eq!(unique.len(), products.len(), "{sort}: no duplicates");

            let listed_in_stock = list_ids(
                &t,
                &Actor::Anonymous,
                ListProducts {
                    sort: Some(sort.into()),
                    limit: Some(limit),
                    in_stock: Some(true),
                    ..ListProducts::default()
                },
            )
            .await;
            assert_eq!(
                listed_in_stock,
                expected_order(sort, &in_stock),
                "{sort}, {limit} a page, in stock only"
            );
        }
    }
    assert_eq!(
        list_ids(&t, &Actor::Anonymous, ListProducts::default()).await,
        expected_order("newest", &products),
        "newest first by default"
    );

    // A page exactly as long as the listing has no next page.
    let page = t
        .list_products(
            &Actor::Anonymous,
            ListProducts {
                limit: Some(14),
                ..ListProducts::default()
            },
        )
        .await
        .expect("one full page");
    assert_eq!((page.items.len(), page.next_cursor), (14, None));
}

pub(super) async fn cursors_only_fit_the_sort_they_came_from(t: TestShop) {
    sortable_catalog(&t).await;
    let sorts = ["newest", "price_asc", "price_desc", "name"];
    for from in sorts {
        let page = t
            .list_products(
                &Actor::Anonymous,
                ListProducts {
                    sort: Some(from.into()),
                    limit: Some(3),
                    ..ListProducts::default()
                },
            )
            .await
            .expect("first page");
        let cursor = page.next_cursor.expect("more pages");
        for to in sorts.into_iter().filter(|to| *to != from) {
            let mixed = t
                .list_products(
                    &Actor::Anonymous,
                    ListProducts {
                        sort: Some(to.into()),
                        limit: Some(3),
                        cursor: Some(cursor.clone()),
                        ..ListProducts::default()
                    },
                )
                .await;
            crate::support::expect_validation(mixed, &["cursor"]);
        }
        t.list_products(
            &Actor::Anonymous,
            ListProducts {
                sort: Some(from.into()),
                limit: Some(3),
                cursor: Some(cursor),
                ..ListProducts::default()
            },
        )
        .await
        .expect("the cursor fits its own sort");
    }
}

/// Products whose names and prices tie in places, so every sort needs its tie-breaker.
async fn sortable_catalog(t: &TestShop) -> Vec<Product> {
    let items: [(&str, i64, i64); 14] = [
        ("apple", 500, 1),
        ("Apple", 500, 1),
        ("banana", 300, 0),
        ("Banana Split", 300, 2),
        ("cherry", 900, 1),
        ("Zebra cake", 100, 1),
        ("zebra Cake", 100, 0),
        ("Éclair", 450, 1),
        ("mango", 0, 1),
        ("kiwi", 250, 3),
        ("date", 250, 1),
        ("fig", 700, 0),
        ("grape", 500, 1),
        ("10 limes", 120, 4),
    ];
    let mut products = Vec::new();
    for (n, (name, price, stock)) in items.into_iter().enumerate() {
        products.push(
            create_product_with(
                t,
                CreateProduct {
                    name: name.to_owned(),
                    slug: Some(format!("item-{n}")),
                    ..product_command(&format!("SKU-{n:02}"), price, stock)
                },
            )
            .await,
        );
    }
    products
}
