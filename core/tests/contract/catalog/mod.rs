//! Categories, products, listing (filters, sorts, keyset pagination), search and stock.
//!
//! The tests live in submodules by theme; they are registered here, in one list, so each runs on
//! both backends under the name `catalog::<backend>::<test>`. Helpers shared by the submodules are
//! defined here.

mod categories;
mod listing;
mod products;
mod search;

use shop_core::{
    app::{Actor, CreateCategory, ListProducts, SearchProducts},
    domain::{Category, Product, ProductId},
};

use crate::support::{TestShop, admin};

use categories::{
    categories_derive_slugs_and_refuse_duplicates,
    categories_sort_by_name_ignoring_case_on_every_backend,
    category_parents_must_exist_and_never_loop,
};
use listing::{
    cursors_only_fit_the_sort_they_came_from, every_sort_pages_through_every_product_exactly_once,
    listings_filter_by_category_tree_price_and_stock,
};
use products::{
    deactivated_products_are_hidden_from_customers, products_are_found_by_id_and_by_slug,
    products_have_unique_skus_and_slugs, stock_adjustments_never_go_below_zero,
    updating_a_product_leaves_its_stock_alone,
};
use search::{search_finds_words_in_names_and_descriptions, search_pages_without_repeats};

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
