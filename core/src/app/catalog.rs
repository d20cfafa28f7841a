//! Categories and products: public reads, staff writes.

use std::collections::HashMap;

use super::{Actor, AppError, AppResult, FieldErrors, Page, Shop, pagination};
use crate::{
    domain::{
        Category, CategoryId, Currency, InvalidValue, Money, Product, ProductId, Sku, Slug, Stock,
        Text,
        catalog::{CategoryName, Description, ProductName, creates_cycle},
    },
    ports::{ProductAfter, ProductFilter, ProductQuery, ProductSort, SearchQuery, StockAdjustment},
};

#[derive(Debug, Clone, Default)]
pub struct CreateCategory {
    pub name: String,
    /// Derived from the name when absent.
    pub slug: Option<String>,
    pub parent_id: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateCategory {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// `Some(None)` moves the category to the top level.
    pub parent_id: Option<Option<String>>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CreateProduct {
    pub sku: String,
    pub name: String,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    pub stock: Option<i64>,
    pub category_id: Option<String>,
    pub active: Option<bool>,
    /// For shipping by weight; 0 when absent.
    pub weight_grams: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateProduct {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub price_minor: Option<i64>,
    pub currency: Option<String>,
    /// `Some(None)` removes the product from its category.
    pub category_id: Option<Option<String>>,
    pub active: Option<bool>,
    pub weight_grams: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct AdjustStock {
    /// Units to add (negative to remove).
    pub delta: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct ListProducts {
    pub category_id: Option<String>,
    pub min_price_minor: Option<i64>,
    pub max_price_minor: Option<i64>,
    pub in_stock: Option<bool>,
    /// `newest` (default), `price_asc`, `price_desc` or `name`.
    pub sort: Option<String>,
    /// Staff only: include deactivated products.
    pub include_inactive: Option<bool>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SearchProducts {
    pub query: String,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

type Reason = Text<1, 500>;

const MAX_SEARCH_TERMS: usize = 10;

impl Shop {
    pub async fn create_category(
        &self,
        actor: &Actor,
        command: CreateCategory,
    ) -> AppResult<Category> {
        actor.require_staff()?;
        let mut errors = FieldErrors::default();
        let name = errors.check("name", CategoryName::parse(&command.name));
        let slug = errors.check("slug", derive_slug(command.slug.as_deref(), &command.name));
        let parent_id =
            errors.check_opt("parent_id", command.parent_id.as_deref(), CategoryId::parse);
        let description = errors.check(
            "description",
            Description::parse(command.description.as_deref().unwrap_or("")),
        );
        let (Some(name), Some(slug), Some(parent_id), Some(description)) =
            (name, slug, parent_id, description)
        else {
            return Err(errors.into_error());
        };
        if let Some(parent) = parent_id {
            self.require_category(parent, "parent_id").await?;
        }
        let now = self.clock.now();
        let category = Category {
            id: CategoryId::new(),
            name,
            slug,
            parent_id,
            description,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_category(&category).await?;
        self.catalog_changed().await;
        Ok(category)
    }

    pub async fn update_category(
        &self,
        actor: &Actor,
        id: CategoryId,
        command: UpdateCategory,
    ) -> AppResult<Category> {
        actor.require_staff()?;
        let mut errors = FieldErrors::default();
        let name = errors.check_opt("name", command.name.as_deref(), CategoryName::parse);
        let slug = errors.check_opt("slug", command.slug.as_deref(), Slug::parse);
        let parent_id = errors.check_opt("parent_id", command.parent_id.clone(), |parent| {
            parent.as_deref().map(CategoryId::parse).transpose()
        });
        let description = errors.check_opt(
            "description",
            command.description.as_deref(),
            Description::parse,
        );
        let (Some(name), Some(slug), Some(parent_id), Some(description)) =
            (name, slug, parent_id, description)
        else {
            return Err(errors.into_error());
        };
        let mut category = self
            .store
            .get_category(id)
            .await?
            .ok_or(AppError::NotFound("category"))?;
        if let Some(Some(parent)) = parent_id {
            let categories = self.store.list_categories().await?;
            let parents: HashMap<_, _> = categories.iter().map(|c| (c.id, c.parent_id)).collect();
            if !parents.contains_key(&parent) {
                return Err(AppError::validation("parent_id", "no such category"));
            }
            if creates_cycle(&parents, id, parent) {
                return Err(AppError::validation(
                    "parent_id",
                    "would put the category inside itself",
                ));
            }
        }
        category.name = name.unwrap_or(category.name);
        category.slug = slug.unwrap_or(category.slug);
        category.parent_id = parent_id.unwrap_or(category.parent_id);
        category.description = description.unwrap_or(category.description);
        category.updated_at = self.clock.now();
        self.store.update_category(&category).await?;
        self.catalog_changed().await;
        Ok(category)
    }

    /// Every category, ordered by name ignoring case; clients build the tree from `parent_id`.
    pub async fn list_categories(&self) -> AppResult<Vec<Category>> {
        let mut categories = self.store.list_categories().await?;
        // Sorted here, the way product names sort, rather than by whatever collation the
        // database happens to have, so every backend and deployment lists them alike.
        categories
            .sort_by_cached_key(|category| (name_sort_key(category.name.as_str()), category.id));
        Ok(categories)
    }

    pub async fn create_product(
        &self,
        actor: &Actor,
        command: CreateProduct,
    ) -> AppResult<Product> {
        actor.require_staff()?;
        let mut errors = FieldErrors::default();
        let sku = errors.check("sku", Sku::parse(&command.sku));
        let name = errors.check("name", ProductName::parse(&command.name));
        let slug = errors.check("slug", derive_slug(command.slug.as_deref(), &command.name));
        let description = errors.check(
            "description",
            Description::parse(command.description.as_deref().unwrap_or("")),
        );
        let currency = errors.check("currency", Currency::parse(&command.currency));
        let price = currency.and_then(|currency| {
            errors.check("price_minor", Money::price(command.price_minor, currency))
        });
        let stock = errors.check("stock", Stock::new(command.stock.unwrap_or(0)));
        let weight = errors.check(
            "weight_grams",
            crate::domain::shipping::weight_grams(command.weight_grams.unwrap_or(0)),
        );
        let category_id = errors.check_opt(
            "category_id",
            command.category_id.as_deref(),
            CategoryId::parse,
        );
        let (
            Some(sku),
            Some(name),
            Some(slug),
            Some(description),
            Some(price),
            Some(stock),
            Some(category_id),
        ) = (sku, name, slug, description, price, stock, category_id)
        else {
            return Err(errors.into_error());
        };
        let Some(weight_grams) = weight else {
            return Err(errors.into_error());
        };
        if let Some(category) = category_id {
            self.require_category(category, "category_id").await?;
        }
        let now = self.clock.now();
        let product = Product {
            id: ProductId::new(),
            sku,
            name,
            slug,
            description,
            price,
            stock,
            active: command.active.unwrap_or(true),
            category_id,
            weight_grams,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_product(&product).await?;
        self.catalog_changed().await;
        tracing::info!(product_id = %product.id, sku = product.sku.as_str(), "product created");
        Ok(product)
    }

    pub async fn update_product(
        &self,
        actor: &Actor,
        id: ProductId,
        command: UpdateProduct,
    ) -> AppResult<Product> {
        actor.require_staff()?;
        let mut product = self
            .store
            .get_product(id)
            .await?
            .ok_or(AppError::NotFound("product"))?;
        let mut errors = FieldErrors::default();
        let name = errors.check_opt("name", command.name.as_deref(), ProductName::parse);
        let slug = errors.check_opt("slug", command.slug.as_deref(), Slug::parse);
        let description = errors.check_opt(
            "description",
            command.description.as_deref(),
            Description::parse,
        );
        let currency = errors.check_opt("currency", command.currency.as_deref(), Currency::parse);
        let price = currency.and_then(|currency| {
            let currency = currency.unwrap_or(product.price.currency());
            let amount = command.price_minor.unwrap_or(product.price.amount_minor());
            errors.check("price_minor", Money::price(amount, currency))
        });
        let category_id =
            errors.check_opt("category_id", command.category_id.clone(), |category| {
                category.as_deref().map(CategoryId::parse).transpose()
            });
        let weight = errors.check_opt(
            "weight_grams",
            command.weight_grams,
            crate::domain::shipping::weight_grams,
        );
        let (Some(name), Some(slug), Some(description), Some(price), Some(category_id)) =
            (name, slug, description, price, category_id)
        else {
            return Err(errors.into_error());
        };
        let Some(weight) = weight else {
            return Err(errors.into_error());
        };
        if let Some(Some(category)) = category_id {
            self.require_category(category, "category_id").await?;
        }
        product.name = name.unwrap_or(product.name);
        product.slug = slug.unwrap_or(product.slug);
        product.description = description.unwrap_or(product.description);
        product.price = price;
        product.category_id = category_id.unwrap_or(product.category_id);
        product.active = command.active.unwrap_or(product.active);
        product.weight_grams = weight.unwrap_or(product.weight_grams);
        product.updated_at = self.clock.now();
        self.store.update_product(&product).await?;
        self.catalog_changed().await;
        Ok(product)
    }

    /// Takes a product off sale without deleting it: past orders keep pointing at it.
    pub async fn deactivate_product(&self, actor: &Actor, id: ProductId) -> AppResult<Product> {
        self.update_product(
            actor,
            id,
            UpdateProduct {
                active: Some(false),
                ..UpdateProduct::default()
            },
        )
        .await
    }

    pub async fn adjust_stock(
        &self,
        actor: &Actor,
        id: ProductId,
        command: AdjustStock,
    ) -> AppResult<Product> {
        actor.require_staff()?;
        let mut errors = FieldErrors::default();
        let reason = errors.check("reason", Reason::parse(&command.reason));
        if command.delta == 0 || command.delta.unsigned_abs() > Stock::MAX.unsigned_abs() {
            errors.add(
                "delta",
                "must be a non-zero number of units, at most 1000000000 either way",
            );
        }
        let Some(reason) = reason.filter(|_| errors.is_empty()) else {
            return Err(errors.into_error());
        };
        let adjustment = StockAdjustment {
            product_id: id,
            delta: command.delta,
            reason: reason.to_string(),
            actor: actor.acting_user(),
            at: self.clock.now(),
        };
        let adjusted = self.store.adjust_stock(&adjustment).await;
        if adjusted.is_ok() {
            self.catalog_changed().await;
        }
        match adjusted {
            Err(crate::ports::StoreError::NotFound) => Err(AppError::NotFound("product")),
            // Adding can only be refused for going over the maximum, which is no shortage.
            Err(crate::ports::StoreError::InsufficientStock { .. }) if command.delta > 0 => Err(
                AppError::validation("delta", "would take the stock above 1000000000 units"),
            ),
            Err(crate::ports::StoreError::InsufficientStock { available }) => {
                Err(AppError::InsufficientStock {
                    product_id: Some(id),
                    requested: command.delta.saturating_neg(),
                    available,
                })
            }
            other => Ok(other?),
        }
    }

    /// A product by id or slug. Deactivated products are visible to staff only.
    pub async fn get_product(&self, actor: &Actor, id_or_slug: &str) -> AppResult<Product> {
        let product = match ProductId::parse(id_or_slug) {
            Ok(id) => self.store.get_product(id).await?,
            Err(_) => match Slug::parse(id_or_slug) {
                Ok(slug) => self.store.get_product_by_slug(&slug).await?,
                Err(_) => None,
            },
        };
        product
            .filter(|product| product.active || actor.is_staff())
            .ok_or(AppError::NotFound("product"))
    }

    pub async fn list_products(
        &self,
        actor: &Actor,
        query: ListProducts,
    ) -> AppResult<Page<Product>> {
        let mut errors = FieldErrors::default();
        let category = errors.check_opt(
            "category_id",
            query.category_id.as_deref(),
            CategoryId::parse,
        );
        let sort = errors.check_opt("sort", query.sort.as_deref(), parse_sort);
        for (field, price) in [
            ("min_price", query.min_price_minor),
            ("max_price", query.max_price_minor),
        ] {
            if price.is_some_and(|price| price < 0) {
                errors.add(field, "must not be negative");
            }
        }
        if let (Some(min), Some(max)) = (query.min_price_minor, query.max_price_minor)
            && min > max
        {
            errors.add("max_price", "must not be below min_price");
        }
        let include_inactive = query.include_inactive.unwrap_or(false);
        if include_inactive && !actor.is_staff() {
            return Err(AppError::Forbidden);
        }
        let (Some(category), Some(sort)) = (category, sort) else {
            return Err(errors.into_error());
        };
        if !errors.is_empty() {
            return Err(errors.into_error());
        }
        let sort = sort.unwrap_or_default();
        let limit = pagination::page_size(query.limit)?;
        let cursor = pagination::decode::<ProductCursor>(query.cursor.as_deref())?;
        // Names never hold control characters, and Postgres refuses NUL in a parameter: such a
        // cursor was made up, and must not reach the database.
        if let Some(ProductCursor {
            after: ProductAfter::Name(name, _),
            ..
        }) = &cursor
            && name.chars().any(char::is_control)
        {
            return Err(AppError::validation(
                "cursor",
                "is not a cursor this listing returned",
            ));
        }
        if cursor
            .as_ref()
            .is_some_and(|cursor| !cursor_fits(cursor, sort))
        {
            return Err(AppError::validation(
                "cursor",
                "was made for another sort order",
            ));
        }
        let after = cursor.map(|cursor| cursor.after);
        let filter = ProductFilter {
            category,
            min_price_minor: query.min_price_minor,
            max_price_minor: query.max_price_minor,
            in_stock_only: query.in_stock.unwrap_or(false),
            include_inactive,
        };
        let rows = self
            .store
            .list_products(&ProductQuery {
                filter,
                sort,
                after,
                limit: limit + 1,
            })
            .await?;
        Ok(Page::from_rows(rows, limit, |product| ProductCursor {
            sort: sort_name(sort).to_owned(),
            after: sort_key(product, sort),
        }))
    }

    /// Full-text search over name, description and SKU, best matches first.
    pub async fn search_products(
        &self,
        actor: &Actor,
        query: SearchProducts,
    ) -> AppResult<Page<Product>> {
        let terms =
            search_terms(&query.query).map_err(|error| AppError::validation("q", error.0))?;
        let limit = pagination::page_size(query.limit)?;
        let offset = pagination::decode::<u32>(query.cursor.as_deref())?.unwrap_or(0);
        let search = SearchQuery {
            terms,
            include_inactive: actor.is_staff(),
            offset,
            limit: limit + 1,
        };
        let rows = self.store.search_products(&search).await?;
        let page = Page::from_rows(rows, limit, |_| ());
        let next_cursor = page
            .next_cursor
            .as_ref()
            .map(|_| pagination::encode(&(offset + limit)));
        Ok(Page {
            items: page.items,
            next_cursor,
        })
    }

    async fn require_category(&self, id: CategoryId, field: &str) -> AppResult<()> {
        match self.store.get_category(id).await? {
            Some(_) => Ok(()),
            None => Err(AppError::validation(field, "no such category")),
        }
    }
}

fn derive_slug(explicit: Option<&str>, name: &str) -> Result<Slug, InvalidValue> {
    match explicit {
        Some(slug) => Slug::parse(slug),
        None => Slug::from_name(name),
    }
}

fn parse_sort(raw: &str) -> Result<ProductSort, InvalidValue> {
    match raw.trim() {
        "newest" => Ok(ProductSort::Newest),
        "price_asc" => Ok(ProductSort::PriceAsc),
        "price_desc" => Ok(ProductSort::PriceDesc),
        "name" => Ok(ProductSort::NameAsc),
        _ => Err(InvalidValue::new(
            "must be one of: newest, price_asc, price_desc, name",
        )),
    }
}

/// The key sorting uses for names: lower-cased, so "apple" and "Apple" sort together everywhere.
pub fn name_sort_key(name: &str) -> String {
    name.to_lowercase()
}

fn sort_key(product: &Product, sort: ProductSort) -> ProductAfter {
    match sort {
        ProductSort::Newest => ProductAfter::Newest(product.id),
        ProductSort::PriceAsc | ProductSort::PriceDesc => {
            ProductAfter::Price(product.price.amount_minor(), product.id)
        }
        ProductSort::NameAsc => {
            ProductAfter::Name(name_sort_key(product.name.as_str()), product.id)
        }
    }
}

fn sort_name(sort: ProductSort) -> &'static str {
    match sort {
        ProductSort::Newest => "newest",
        ProductSort::PriceAsc => "price_asc",
        ProductSort::PriceDesc => "price_desc",
        ProductSort::NameAsc => "name",
    }
}

/// What a product listing's cursor holds: the sort order it continues, which must be named
/// because a price key looks the same ascending and descending, and the last row's key.
#[derive(serde::Serialize, serde::Deserialize)]
struct ProductCursor {
    sort: String,
    after: ProductAfter,
}

fn cursor_fits(cursor: &ProductCursor, sort: ProductSort) -> bool {
    cursor.sort == sort_name(sort)
        && matches!(
            (&cursor.after, sort),
            (ProductAfter::Newest(_), ProductSort::Newest)
                | (
                    ProductAfter::Price(..),
                    ProductSort::PriceAsc | ProductSort::PriceDesc
                )
                | (ProductAfter::Name(..), ProductSort::NameAsc)
        )
}

/// Splits a search into plain words, dropping every character that could be query syntax in
/// either backend, so user input is only ever data.
fn search_terms(raw: &str) -> Result<Vec<String>, InvalidValue> {
    if raw.chars().count() > 200 {
        return Err(InvalidValue::new("must be at most 200 characters"));
    }
    let terms: Vec<String> = raw
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .take(MAX_SEARCH_TERMS)
        .collect();
    if terms.is_empty() {
        return Err(InvalidValue::new(
            "must contain at least one letter or digit",
        ));
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_terms_are_plain_words() {
        assert_eq!(
            search_terms("Blue  MUG!").ok(),
            Some(vec!["blue".into(), "mug".into()])
        );
        assert_eq!(
            search_terms("'; DROP TABLE products; --").ok(),
            Some(vec!["drop".into(), "table".into(), "products".into()])
        );
        assert_eq!(
            search_terms("\"mug\" OR NEAR(a b)*").ok().map(|t| t.len()),
            Some(5)
        );
        assert!(search_terms("  !!  ").is_err());
        assert!(search_terms(&"a".repeat(201)).is_err());
    }

    #[test]
    fn sorts_parse_from_their_names() {
        assert_eq!(parse_sort("price_desc"), Ok(ProductSort::PriceDesc));
        assert!(parse_sort("price").is_err());
        for sort in [
            ProductSort::Newest,
            ProductSort::PriceAsc,
            ProductSort::PriceDesc,
            ProductSort::NameAsc,
        ] {
            assert_eq!(parse_sort(sort_name(sort)), Ok(sort));
        }
    }
}
