//! Search: words in names and descriptions, paged without repeats.

use shop_core::app::{Actor, CreateProduct, SearchProducts};

use crate::support::{
    TestShop, all_products, create_product, create_product_with, product_command,
};

use super::{ids, search, search_ids};

pub(super) async fn search_finds_words_in_names_and_descriptions(t: TestShop) {
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

pub(super) async fn search_pages_without_repeats(t: TestShop) {
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
