//! Categories, products, listing (filters, sorts, keyset pagination), search and stock.

use std::collections::HashSet;

use shop_core::{
    app::{
        Actor, AdjustStock, AppError, CreateCategory, CreateProduct, ListProducts, SearchProducts,
        UpdateCategory, UpdateProduct, name_sort_key,
    },
    domain::{Category, CategoryId, Product, ProductId},
};

use crate::support::{
    TestShop, admin, all_categories, all_products, create_product, create_product_with,
    product_command, product_now, register_customer, stock_of,
};

fn category(name: &str, parent: Option<&Category>) -> CreateCategory {
    CreateCategory {
        name: name.to_owned(),
        slug: None,
        parent_id: parent.map(|parent| parent.id.to_string()),
        description: None,
    }
}

async fn create_category(t: &TestShop, name: &str, parent: Option<&Category>) -> Category {
    t.create_category(&admin(), category(name, parent))
        .await
        .unwrap_or_else(|error| panic!("create category {name}: {error:?}"))
}

fn ids(products: &[Product]) -> Vec<ProductId> {
    products.iter().map(|product| product.id).collect()
}

/// Every page of a listing, following cursors; each page is checked to hold at most `limit`.
async fn walk(t: &TestShop, actor: &Actor, query: ListProducts) -> Vec<Product> {
    let limit = query.limit.unwrap_or(20) as usize;
    let mut products = Vec::new();
    let mut cursor = None;
    for _ in 0..1_000 {
        let page = t
            .list_products(
                actor,
                ListProducts {
                    cursor: cursor.take(),
                    ..query.clone()
                },
            )
            .await
            .expect("a page of products");
        assert!(page.items.len() <= limit, "{} > {limit}", page.items.len());
        products.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return products,
        }
    }
    panic!("the listing never ended");
}

async fn list_ids(t: &TestShop, actor: &Actor, query: ListProducts) -> Vec<ProductId> {
    ids(&walk(t, actor, query).await)
}

fn search(query: &str) -> SearchProducts {
    SearchProducts {
        query: query.to_owned(),
        limit: None,
        cursor: None,
    }
}

async fn search_ids(t: &TestShop, actor: &Actor, query: &str) -> Vec<ProductId> {
    let page = t
        .search_products(actor, search(query))
        .await
        .unwrap_or_else(|error| panic!("search {query:?}: {error:?}"));
    ids(&page.items)
}

async fn categories_derive_slugs_and_refuse_duplicates(t: TestShop) {
    let kitchen = create_category(&t, "Kitchen & Dining", None).await;
    assert_eq!(kitchen.slug.as_str(), "kitchen-dining");
    assert_eq!(kitchen.parent_id, None);
    let duplicate = t
        .create_category(&admin(), category("Kitchen  Dining!", None))
        .await;
    assert!(
        matches!(duplicate, Err(AppError::AlreadyExists { field: "slug" })),
        "{duplicate:?}"
    );
    let explicit = t
        .create_category(
            &admin(),
            CreateCategory {
                slug: Some("kitchen-2".into()),
                description: Some("Pots and pans".into()),
                ..category("Kitchen & Dining", None)
            },
        )
        .await
        .expect("the same name under another slug");
    assert_eq!(explicit.slug.as_str(), "kitchen-2");
    let books = create_category(&t, "Books", None).await;
    let novels = create_category(&t, "Novels", Some(&books)).await;
    assert_eq!(novels.parent_id, Some(books.id));

    let (_, customer) = register_customer(&t, "ada@example.com").await;
    let forbidden = t.create_category(&customer, category("Garden", None)).await;
    assert!(
        matches!(forbidden, Err(AppError::Forbidden)),
        "{forbidden:?}"
    );
    let anonymous = t
        .create_category(&Actor::Anonymous, category("Garden", None))
        .await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );

    let listed = t.list_categories().await.expect("list");
    assert_eq!(
        listed.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![books.id, kitchen.id, explicit.id, novels.id],
        "ordered by name (ties by id)"
    );
    assert_eq!(listed[0], books, "stored as returned");
}

async fn categories_sort_by_name_ignoring_case_on_every_backend(t: TestShop) {
    let mut created = Vec::new();
    for name in ["cherry", "Banana", "apple", "Date", "apple pie", "Apple"] {
        created.push(
            t.create_category(
                &admin(),
                CreateCategory {
                    slug: Some(format!("category-{}", created.len())),
                    ..category(name, None)
                },
            )
            .await
            .expect("create"),
        );
    }
    created.sort_by_key(|c| (name_sort_key(c.name.as_str()), c.id));
    let names: Vec<String> = created.iter().map(|c| c.name.to_string()).collect();
    assert_eq!(
        names,
        ["apple", "Apple", "apple pie", "Banana", "cherry", "Date"]
    );
    assert_eq!(t.list_categories().await.expect("list"), created);
}

async fn category_parents_must_exist_and_never_loop(t: TestShop) {
    let unknown_parent = t
        .create_category(
            &admin(),
            CreateCategory {
                parent_id: Some(CategoryId::new().to_string()),
                ..category("Orphans", None)
            },
        )
        .await;
    crate::support::expect_validation(unknown_parent, &["parent_id"]);
    assert!(all_categories(&t).await.is_empty());

    let home = create_category(&t, "Home", None).await;
    let kitchen = create_category(&t, "Kitchen", Some(&home)).await;
    let mugs = create_category(&t, "Mugs", Some(&kitchen)).await;
    let before = all_categories(&t).await;

    for (moved, under) in [
        (&home, &mugs),
        (&home, &kitchen),
        (&home, &home),
        (&kitchen, &mugs),
    ] {
        let looped = t
            .update_category(
                &admin(),
                moved.id,
                UpdateCategory {
                    parent_id: Some(Some(under.id.to_string())),
                    ..UpdateCategory::default()
                },
            )
            .await;
        crate::support::expect_validation(looped, &["parent_id"]);
    }
    let missing = t
        .update_category(
            &admin(),
            mugs.id,
            UpdateCategory {
                parent_id: Some(Some(CategoryId::new().to_string())),
                ..UpdateCategory::default()
            },
        )
        .await;
    crate::support::expect_validation(missing, &["parent_id"]);
    assert_eq!(
        all_categories(&t).await,
        before,
        "refused moves changed nothing"
    );

    let top = t
        .update_category(
            &admin(),
            mugs.id,
            UpdateCategory {
                parent_id: Some(None),
                name: Some("Cups & Mugs".into()),
                ..UpdateCategory::default()
            },
        )
        .await
        .expect("move to the top level");
    assert_eq!(top.parent_id, None);
    assert_eq!(top.name.as_str(), "Cups & Mugs");
    assert_eq!(top.slug.as_str(), "mugs", "renaming keeps the slug");
    let under_mugs = t
        .update_category(
            &admin(),
            home.id,
            UpdateCategory {
                parent_id: Some(Some(mugs.id.to_string())),
                ..UpdateCategory::default()
            },
        )
        .await
        .expect("no longer a loop");
    assert_eq!(under_mugs.parent_id, Some(mugs.id));
    let stored = all_categories(&t).await;
    assert!(
        stored.contains(&top) && stored.contains(&under_mugs),
        "{stored:?}"
    );

    let taken = t
        .update_category(
            &admin(),
            kitchen.id,
            UpdateCategory {
                slug: Some("mugs".into()),
                ..UpdateCategory::default()
            },
        )
        .await;
    assert!(
        matches!(taken, Err(AppError::AlreadyExists { field: "slug" })),
        "{taken:?}"
    );
    let unknown = t
        .update_category(&admin(), CategoryId::new(), UpdateCategory::default())
        .await;
    assert!(matches!(unknown, Err(AppError::NotFound(_))), "{unknown:?}");
}

async fn products_have_unique_skus_and_slugs(t: TestShop) {
    let mug = create_product_with(
        &t,
        CreateProduct {
            name: "Blue Mug (Large)".into(),
            description: Some("Holds a lot of tea.".into()),
            ..product_command(" mug-1 ", 1_250, 7)
        },
    )
    .await;
    assert_eq!(mug.sku.as_str(), "MUG-1");
    assert_eq!(mug.slug.as_str(), "blue-mug-large");
    assert_eq!(
        (mug.price.amount_minor(), mug.price.currency().code()),
        (1_250, "USD")
    );
    assert_eq!(mug.stock.units(), 7);
    assert!(mug.active);
    assert_eq!(product_now(&t, mug.id).await, mug, "stored as returned");

    let same_sku = t
        .create_product(
            &admin(),
            CreateProduct {
                name: "Another Mug".into(),
                ..product_command("MUG-1", 100, 1)
            },
        )
        .await;
    assert!(
        matches!(same_sku, Err(AppError::AlreadyExists { field: "sku" })),
        "{same_sku:?}"
    );
    let same_slug = t
        .create_product(
            &admin(),
            CreateProduct {
                name: "Blue mug, large".into(),
                ..product_command("MUG-2", 100, 1)
            },
        )
        .await;
    assert!(
        matches!(same_slug, Err(AppError::AlreadyExists { field: "slug" })),
        "{same_slug:?}"
    );
    let no_category = t
        .create_product(
            &admin(),
            CreateProduct {
                category_id: Some(CategoryId::new().to_string()),
                ..product_command("MUG-3", 100, 1)
            },
        )
        .await;
    crate::support::expect_validation(no_category, &["category_id"]);

    let (_, customer) = register_customer(&t, "ada@example.com").await;
    let forbidden = t
        .create_product(&customer, product_command("MUG-4", 100, 1))
        .await;
    assert!(
        matches!(forbidden, Err(AppError::Forbidden)),
        "{forbidden:?}"
    );
    assert_eq!(all_products(&t).await, vec![mug], "nothing else was stored");
}

async fn updating_a_product_leaves_its_stock_alone(t: TestShop) {
    let kitchen = create_category(&t, "Kitchen", None).await;
    let mug = create_product(&t, "MUG-1", 1_000, 5).await;
    let other = create_product(&t, "MUG-2", 1_000, 5).await;
    t.adjust_stock(
        &admin(),
        mug.id,
        AdjustStock {
            delta: 3,
            reason: "delivery".into(),
        },
    )
    .await
    .expect("restock");

    let updated = t
        .update_product(
            &admin(),
            mug.id,
            UpdateProduct {
                name: Some("Red Mug".into()),
                price_minor: Some(1_500),
                currency: Some("EUR".into()),
                description: Some("Now in red.".into()),
                category_id: Some(Some(kitchen.id.to_string())),
                ..UpdateProduct::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.name.as_str(), "Red Mug");
    assert_eq!(
        (
            updated.price.amount_minor(),
            updated.price.currency().code()
        ),
        (1_500, "EUR")
    );
    assert_eq!(updated.category_id, Some(kitchen.id));
    assert_eq!(updated.slug, mug.slug, "the slug is kept unless given");
    assert_eq!(updated.sku, mug.sku);
    assert_eq!(updated.stock.units(), 8, "stock is untouched by updates");
    assert_eq!(product_now(&t, mug.id).await, updated, "stored as returned");

    let price_only = t
        .update_product(
            &admin(),
            mug.id,
            UpdateProduct {
                price_minor: Some(999),
                category_id: Some(None),
                ..UpdateProduct::default()
            },
        )
        .await
        .expect("update the price only");
    assert_eq!(
        (
            price_only.price.amount_minor(),
            price_only.price.currency().code()
        ),
        (999, "EUR"),
        "the currency stays"
    );
    assert_eq!(price_only.category_id, None);
    assert_eq!(stock_of(&t, mug.id).await, 8);

    let taken = t
        .update_product(
            &admin(),
            mug.id,
            UpdateProduct {
                slug: Some(other.slug.as_str().to_owned()),
                ..UpdateProduct::default()
            },
        )
        .await;
    assert!(
        matches!(taken, Err(AppError::AlreadyExists { field: "slug" })),
        "{taken:?}"
    );
    let renamed_slug = t
        .update_product(
            &admin(),
            mug.id,
            UpdateProduct {
                slug: Some("red-mug".into()),
                ..UpdateProduct::default()
            },
        )
        .await
        .expect("a free slug");
    assert_eq!(
        t.get_product(&Actor::Anonymous, "red-mug")
            .await
            .expect("by the new slug")
            .id,
        mug.id
    );
    assert_eq!(renamed_slug.stock.units(), 8);

    let unknown = t
        .update_product(&admin(), ProductId::new(), UpdateProduct::default())
        .await;
    assert!(matches!(unknown, Err(AppError::NotFound(_))), "{unknown:?}");
    let (_, customer) = register_customer(&t, "ada@example.com").await;
    let forbidden = t
        .update_product(&customer, mug.id, UpdateProduct::default())
        .await;
    assert!(
        matches!(forbidden, Err(AppError::Forbidden)),
        "{forbidden:?}"
    );
    let forbidden = t.deactivate_product(&customer, mug.id).await;
    assert!(
        matches!(forbidden, Err(AppError::Forbidden)),
        "{forbidden:?}"
    );
    assert!(product_now(&t, mug.id).await.active);
}

async fn products_are_found_by_id_and_by_slug(t: TestShop) {
    let mug = create_product_with(
        &t,
        CreateProduct {
            name: "Blue Mug".into(),
            ..product_command("MUG-1", 1_000, 5)
        },
    )
    .await;
    let by_id = t
        .get_product(&Actor::Anonymous, &mug.id.to_string())
        .await
        .expect("by id");
    let by_slug = t
        .get_product(&Actor::Anonymous, "blue-mug")
        .await
        .expect("by slug");
    assert_eq!(by_id, mug);
    assert_eq!(by_slug, mug);
    for missing in [
        ProductId::new().to_string(),
        "red-mug".to_owned(),
        "Not A Slug".to_owned(),
        "../../etc/passwd".to_owned(),
        String::new(),
    ] {
        let result = t.get_product(&Actor::Anonymous, &missing).await;
        assert!(
            matches!(result, Err(AppError::NotFound(_))),
            "{missing:?}: {result:?}"
        );
    }
}

async fn deactivated_products_are_hidden_from_customers(t: TestShop) {
    let (_, customer) = register_customer(&t, "ada@example.com").await;
    let kept = create_product_with(
        &t,
        CreateProduct {
            name: "Green Mug".into(),
            ..product_command("MUG-1", 1_000, 5)
        },
    )
    .await;
    let retired = create_product_with(
        &t,
        CreateProduct {
            name: "Retired Mug".into(),
            ..product_command("MUG-2", 1_000, 5)
        },
    )
    .await;
    let deactivated = t
        .deactivate_product(&admin(), retired.id)
        .await
        .expect("deactivate");
    assert!(!deactivated.active);
    assert_eq!(deactivated.stock, retired.stock);

    for actor in [customer, Actor::Anonymous] {
        for key in [retired.id.to_string(), "retired-mug".to_owned()] {
            let hidden = t.get_product(&actor, &key).await;
            assert!(
                matches!(hidden, Err(AppError::NotFound(_))),
                "{key}: {hidden:?}"
            );
        }
        assert_eq!(
            list_ids(&t, &actor, ListProducts::default()).await,
            vec![kept.id]
        );
        assert_eq!(search_ids(&t, &actor, "mug").await, vec![kept.id]);
        let forbidden = t
            .list_products(
                &actor,
                ListProducts {
                    include_inactive: Some(true),
                    ..ListProducts::default()
                },
            )
            .await;
        assert!(
            matches!(forbidden, Err(AppError::Forbidden)),
            "{forbidden:?}"
        );
    }

    let staff = admin();
    assert_eq!(
        t.get_product(&staff, "retired-mug")
            .await
            .expect("staff see it"),
        deactivated
    );
    assert_eq!(
        list_ids(&t, &staff, ListProducts::default()).await,
        vec![kept.id],
        "inactive products are listed only when asked for"
    );
    assert_eq!(
        list_ids(
            &t,
            &staff,
            ListProducts {
                include_inactive: Some(true),
                ..ListProducts::default()
            }
        )
        .await,
        vec![retired.id, kept.id]
    );
    let mut found = search_ids(&t, &staff, "mug").await;
    found.sort_unstable();
    assert_eq!(found, vec![kept.id, retired.id]);

    t.update_product(
        &staff,
        retired.id,
        UpdateProduct {
            active: Some(true),
            ..UpdateProduct::default()
        },
    )
    .await
    .expect("reactivate");
    t.get_product(&customer, "retired-mug")
        .await
        .expect("visible again");
}

async fn listings_filter_by_category_tree_price_and_stock(t: TestShop) {
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

async fn every_sort_pages_through_every_product_exactly_once(t: TestShop) {
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

async fn cursors_only_fit_the_sort_they_came_from(t: TestShop) {
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

async fn search_finds_words_in_names_and_descriptions(t: TestShop) {
    let mug = create_product_with(
        &t,
        CreateProduct {
            name: "Blue Ceramic Mug".into(),
            description: Some("Holds 350 ml of coffee.".into()),
            ..product_command("MUG-BLUE", 1_200, 5)
        },
    )
    .await;
    let teapot = create_product_with(
        &t,
        CreateProduct {
            name: "Teapot".into(),
            description: Some("Pairs well with any mug.".into()),
            ..product_command("TEA-1", 3_000, 5)
        },
    )
    .await;
    let hose = create_product_with(
        &t,
        CreateProduct {
            name: "Garden Hose".into(),
            description: Some("Twenty metres long.".into()),
            ..product_command("HOSE-1", 2_500, 5)
        },
    )
    .await;
    let anyone = Actor::Anonymous;

    assert_eq!(
        search_ids(&t, &anyone, "ceramic").await,
        vec![mug.id],
        "a word of the name"
    );
    assert_eq!(
        search_ids(&t, &anyone, "COFFEE").await,
        vec![mug.id],
        "of the description"
    );
    assert_eq!(search_ids(&t, &anyone, "hose").await, vec![hose.id]);
    assert_eq!(
        search_ids(&t, &anyone, "blue mug").await,
        vec![mug.id],
        "every word"
    );
    assert_eq!(
        search_ids(&t, &anyone, "mugs").await,
        vec![mug.id, teapot.id],
        "stemmed, and a match in the name ranks above one in the description"
    );
    assert!(search_ids(&t, &anyone, "bicycle").await.is_empty());

    // Query syntax and injection attempts are only ever words.
    for hostile in [
        "'; DROP TABLE products; --",
        "\"mug\" OR NEAR(",
        "mug*",
        "name:mug",
        "-mug",
        "^mug",
        "mug AND",
        "(mug",
        "mug\" OR \"1\"=\"1",
        "\\' OR 1=1 --",
    ] {
        t.search_products(&anyone, search(hostile))
            .await
            .unwrap_or_else(|error| panic!("{hostile:?} failed: {error:?}"));
    }
    assert_eq!(all_products(&t).await.len(), 3, "the table is still there");
    crate::support::expect_validation(t.search_products(&anyone, search("%_% -- ;")).await, &["q"]);
    assert_eq!(
        search_ids(&t, &anyone, "\"ceramic\" OR NEAR(").await.len(),
        0,
        "every word must match, OR is not an operator"
    );
}

async fn search_pages_without_repeats(t: TestShop) {
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(
            create_product_with(
                &t,
                CreateProduct {
                    name: format!("Widget {n}"),
                    ..product_command(&format!("W-{n}"), 100, 1)
                },
            )
            .await
            .id,
        );
    }
    create_product(&t, "OTHER", 100, 1).await;
    let mut found = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let page = t
            .search_products(
                &Actor::Anonymous,
                SearchProducts {
                    query: "widget".into(),
                    limit: Some(2),
                    cursor: cursor.take(),
                },
            )
            .await
            .expect("a page of results");
        assert!(page.items.len() <= 2);
        found.extend(ids(&page.items));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(found.len(), 5, "{found:?}");
    found.sort_unstable();
    created.sort_unstable();
    assert_eq!(found, created);
}

async fn stock_adjustments_never_go_below_zero(t: TestShop) {
    let mug = create_product(&t, "MUG-1", 1_000, 5).await;
    let adjust = |delta: i64| AdjustStock {
        delta,
        reason: "stocktake".into(),
    };
    let added = t
        .adjust_stock(&admin(), mug.id, adjust(3))
        .await
        .expect("add");
    assert_eq!(added.stock.units(), 8);
    let removed = t
        .adjust_stock(&admin(), mug.id, adjust(-8))
        .await
        .expect("remove all");
    assert_eq!(removed.stock.units(), 0);
    assert_eq!(stock_of(&t, mug.id).await, 0);

    let too_many = t.adjust_stock(&admin(), mug.id, adjust(-1)).await;
    assert!(
        matches!(
            too_many,
            Err(AppError::InsufficientStock { available: 0, .. })
        ),
        "{too_many:?}"
    );
    assert_eq!(stock_of(&t, mug.id).await, 0, "unchanged");
    t.adjust_stock(&admin(), mug.id, adjust(2))
        .await
        .expect("add");
    let too_many = t.adjust_stock(&admin(), mug.id, adjust(-3)).await;
    assert!(
        matches!(
            too_many,
            Err(AppError::InsufficientStock { available: 2, .. })
        ),
        "{too_many:?}"
    );
    assert_eq!(stock_of(&t, mug.id).await, 2, "unchanged");

    crate::support::expect_validation(
        t.adjust_stock(&admin(), mug.id, adjust(0)).await,
        &["delta"],
    );
    // Adding is bounded too, and going over the top is not a shortage.
    crate::support::expect_validation(
        t.adjust_stock(&admin(), mug.id, adjust(999_999_999)).await,
        &["delta"],
    );
    assert_eq!(stock_of(&t, mug.id).await, 2, "unchanged");
    let full = t
        .adjust_stock(&admin(), mug.id, adjust(999_999_998))
        .await
        .expect("up to the maximum");
    assert_eq!(full.stock.units(), 1_000_000_000);
    t.adjust_stock(&admin(), mug.id, adjust(-999_999_998))
        .await
        .expect("back down");
    let (_, customer) = register_customer(&t, "ada@example.com").await;
    let forbidden = t.adjust_stock(&customer, mug.id, adjust(5)).await;
    assert!(
        matches!(forbidden, Err(AppError::Forbidden)),
        "{forbidden:?}"
    );
    let anonymous = t.adjust_stock(&Actor::Anonymous, mug.id, adjust(5)).await;
    assert!(
        matches!(anonymous, Err(AppError::Unauthenticated)),
        "{anonymous:?}"
    );
    let unknown = t.adjust_stock(&admin(), ProductId::new(), adjust(5)).await;
    assert!(matches!(unknown, Err(AppError::NotFound(_))), "{unknown:?}");
    assert_eq!(stock_of(&t, mug.id).await, 2);
}

contract_tests! {
    categories_derive_slugs_and_refuse_duplicates,
    categories_sort_by_name_ignoring_case_on_every_backend,
    category_parents_must_exist_and_never_loop,
    products_have_unique_skus_and_slugs,
    updating_a_product_leaves_its_stock_alone,
    products_are_found_by_id_and_by_slug,
    deactivated_products_are_hidden_from_customers,
    listings_filter_by_category_tree_price_and_stock,
    every_sort_pages_through_every_product_exactly_once,
    cursors_only_fit_the_sort_they_came_from,
    search_finds_words_in_names_and_descriptions,
    search_pages_without_repeats,
    stock_adjustments_never_go_below_zero,
}
