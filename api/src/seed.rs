//! The demo catalog and the demo administrator: what the embedded default starts with, and what
//! `shop-api seed --demo` loads anywhere. Everything goes through `shop_core::app` as the
//! `System` actor, so the demo data obeys exactly the rules real data does.

use std::{collections::HashMap, fmt};

use anyhow::Context as _;
use shop_core::{
    app::{Actor, CreateCategory, CreateProduct, ListProducts, RegisterUser, Shop},
    domain::User,
};

use crate::{commands::generate_password, output::describe_app_error};

mod catalog;

use catalog::{CATEGORIES, PRODUCTS};

/// The demo administrator's address (`Email::parse` wants a dot in the domain, so no `.local`).
pub const DEMO_ADMIN_EMAIL: &str = "admin@example.com";

/// All demo prices are in US dollars, in cents.
const CURRENCY: &str = "USD";

/// What [`demo_catalog`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogOutcome {
    Seeded {
        categories: usize,
        products: usize,
    },
    /// The catalog had products already; demo data never mixes into a real catalog.
    AlreadyStocked,
}

impl fmt::Display for CatalogOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Seeded {
                categories,
                products,
            } => write!(
                f,
                "demo catalog: added {categories} categories and {products} products"
            ),
            Self::AlreadyStocked => {
                f.write_str("demo catalog: skipped, the catalog already has products")
            }
        }
    }
}

/// Loads the demo catalog unless the catalog already has a product. Categories that exist
/// (matched by slug) are reused, so a run that was interrupted half-way can simply be repeated.
pub async fn demo_catalog(shop: &Shop) -> anyhow::Result<CatalogOutcome> {
    let system = Actor::System;
    let existing = shop
        .list_products(
            &system,
            ListProducts {
                include_inactive: Some(true),
                limit: Some(1),
                ..ListProducts::default()
            },
        )
        .await
        .map_err(describe_app_error)
        .context("cannot look at the catalog")?;
    if !existing.items.is_empty() {
        return Ok(CatalogOutcome::AlreadyStocked);
    }

    let mut ids: HashMap<String, String> = shop
        .list_categories()
        .await
        .map_err(describe_app_error)
        .context("cannot list categories")?
        .into_iter()
        .map(|category| (category.slug.as_str().to_owned(), category.id.to_string()))
        .collect();
    let mut categories = 0;
    for category in CATEGORIES {
        if ids.contains_key(category.slug) {
            continue;
        }
        let created = shop
            .create_category(
                &system,
                CreateCategory {
                    name: category.name.into(),
                    slug: Some(category.slug.into()),
                    parent_id: category.parent.and_then(|slug| ids.get(slug).cloned()),
                    description: Some(category.description.into()),
                },
            )
            .await
            .map_err(describe_app_error)
            .with_context(|| format!("cannot create the demo category {}", category.slug))?;
        ids.insert(category.slug.to_owned(), created.id.to_string());
        categories += 1;
    }

    for product in PRODUCTS {
        shop.create_product(
            &system,
            CreateProduct {
                sku: product.sku.into(),
                name: product.name.into(),
                slug: None,
                description: Some(product.description.into()),
                price_minor: product.price_cents,
                currency: CURRENCY.into(),
                stock: Some(product.stock),
                category_id: ids.get(product.category).cloned(),
                active: Some(true),
                weight_grams: None,
            },
        )
        .await
        .map_err(describe_app_error)
        .with_context(|| format!("cannot create the demo product {}", product.sku))?;
    }
    Ok(CatalogOutcome::Seeded {
        categories,
        products: PRODUCTS.len(),
    })
}

/// Creates the demo administrator with a fresh random password, returned for printing once.
pub async fn demo_admin(shop: &Shop) -> anyhow::Result<(User, String)> {
    let password = generate_password();
    let admin = shop
        .register_user(
            &Actor::System,
            RegisterUser {
                email: DEMO_ADMIN_EMAIL.into(),
                password: password.clone(),
                full_name: "Demo Administrator".into(),
                role: Some("admin".into()),
            },
        )
        .await
        .map_err(describe_app_error)
        .context("cannot create the demo administrator")?;
    Ok((admin, password))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use shop_core::domain::{Sku, Slug, catalog::ProductName};

    use super::*;

    #[test]
    fn the_demo_catalog_is_valid_and_consistent() {
        let mut slugs = HashSet::new();
        for category in CATEGORIES {
            assert!(Slug::parse(category.slug).is_ok(), "{}", category.slug);
            if let Some(parent) = category.parent {
                assert!(
                    slugs.contains(parent),
                    "{parent} must come before {}",
                    category.slug
                );
            }
            slugs.insert(category.slug);
        }
        assert!(CATEGORIES.len() >= 5);
        assert!(PRODUCTS.len() >= 50);
        let mut skus = HashSet::new();
        let mut product_slugs = HashSet::new();
        for product in PRODUCTS {
            assert!(Sku::parse(product.sku).is_ok(), "{}", product.sku);
            assert!(ProductName::parse(product.name).is_ok(), "{}", product.name);
            assert!(skus.insert(product.sku), "duplicate SKU {}", product.sku);
            let slug = Slug::from_name(product.name).expect("a slug derives from the name");
            assert!(
                product_slugs.insert(slug),
                "duplicate slug for {}",
                product.name
            );
            assert!(slugs.contains(product.category), "{}", product.category);
            assert!(
                product.price_cents > 0 && product.stock >= 0,
                "{}",
                product.sku
            );
        }
    }
}
