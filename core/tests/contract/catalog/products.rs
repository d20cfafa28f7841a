//! Products: unique SKUs and slugs, updates, lookup by id or slug, deactivation and stock.

use shop_core::{
    app::{Actor, AdjustStock, AppError, CreateProduct, ListProducts, UpdateProduct},
    domain::{CategoryId, ProductId},
};

use crate::support::{
    TestShop, admin, all_products, create_product, create_product_with, product_command,
    product_now, register_customer, stock_of,
};

use super::{create_category, list_ids, search_ids};

pub(super) async fn products_have_unique_skus_and_slugs(t: TestShop) {
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

pub(super) async fn updating_a_product_leaves_its_stock_alone(t: TestShop) {
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

pub(super) async fn products_are_found_by_id_and_by_slug(t: TestShop) {
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

pub(super) async fn deactivated_products_are_hidden_from_customers(t: TestShop) {
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

pub(super) async fn stock_adjustments_never_go_below_zero(t: TestShop) {
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
