//! Categories: slugs, sort order, and parents that exist and never loop.

use shop_core::{
    app::{Actor, AppError, CreateCategory, UpdateCategory, name_sort_key},
    domain::CategoryId,
};

use crate::support::{TestShop, admin, all_categories, register_customer};

use super::{category, create_category};

pub(super) async fn categories_derive_slugs_and_refuse_duplicates(t: TestShop) {
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

pub(super) async fn categories_sort_by_name_ignoring_case_on_every_backend(t: TestShop) {
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

pub(super) async fn category_parents_must_exist_and_never_loop(t: TestShop) {
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
