//! [`CatalogStore`]: categories, products, listing and search, and stock adjustments.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    Sql, SqlStore, Tx,
    dialect::ACTIVE_ONLY,
    rows::{CategoryRow, ProductRow},
};
use crate::{
    app::name_sort_key,
    domain::{Category, CategoryId, OrderId, Product, ProductId, Slug, UserId},
    ports::{
        CatalogStore, ProductAfter, ProductQuery, ProductSort, SearchQuery, StockAdjustment,
        StoreError, StoreResult,
    },
};

const SELECT_CATEGORY: &str = include_str!("queries/catalog/select_category.sql");
/// `products` aliased `p`, in the order [`ProductRow`] reads them.
pub(super) const SELECT_PRODUCT: &str = include_str!("queries/catalog/select_product.sql");
const SLUG_TAKEN: &[(&str, &str)] = &[("slug", "slug")];

/// The category's columns from `id` to `description`, in the order both category statements
/// bind them.
fn bind_category(sql: Sql, category: &Category) -> Sql {
    sql.bind(category.id.as_uuid())
        .bind(category.name.as_str())
        .bind(category.slug.as_str())
        .bind(category.parent_id.map(|id| id.as_uuid()))
        .bind(category.description.as_str())
}

/// The product's columns from `name` to `currency`, in the order both product statements bind
/// them.
fn bind_product_details(sql: Sql, product: &Product) -> Sql {
    sql.bind(product.name.as_str())
        .bind(name_sort_key(product.name.as_str()))
        .bind(product.slug.as_str())
        .bind(product.description.as_str())
        .bind(product.price.amount_minor())
        .bind(product.price.currency().code())
}

fn select_product(filter: &str) -> Sql {
    Sql::new(format!("{SELECT_PRODUCT}{filter}"))
}

fn products(rows: Vec<ProductRow>) -> StoreResult<Vec<Product>> {
    rows.into_iter().map(Product::try_from).collect()
}

/// A line of the stock ledger (`stock_movements`), written with the change it explains.
#[derive(Debug)]
pub(super) struct StockMovement<'a> {
    pub product_id: ProductId,
    pub delta: i64,
    pub reason: &'a str,
    pub actor: Option<UserId>,
    pub order_id: Option<OrderId>,
    pub at: DateTime<Utc>,
}

impl StockMovement<'_> {
    pub(super) async fn record(&self, tx: &mut Tx) -> StoreResult<()> {
        Sql::new(include_str!("queries/catalog/insert_stock_movement.sql"))
            .bind(self.product_id.as_uuid())
            .bind(self.delta)
            .bind(self.reason)
            .bind(self.actor.map(|id| id.as_uuid()))
            .bind(self.order_id.map(|id| id.as_uuid()))
            .bind(self.at)
            .execute(tx)
            .await
            .map(drop)
    }
}

/// `ORDER BY` and the keyset condition of one page of [`CatalogStore::list_products`].
fn push_page(sql: &mut Sql, query: &ProductQuery) {
    match &query.after {
        None => {}
        Some(ProductAfter::Newest(id)) => {
            sql.push(" AND p.id < ").push_bind(id.as_uuid());
        }
        Some(ProductAfter::Price(price, id)) => {
            let op = if query.sort == ProductSort::PriceDesc {
                " < "
            } else {
                " > "
            };
            sql.push(" AND (p.price_minor, p.id)").push(op).push("(");
            sql.push_bind(*price)
                .push(", ")
                .push_bind(id.as_uuid())
                .push(")");
        }
        Some(ProductAfter::Name(name, id)) => {
            sql.push(" AND (p.name_key, p.id) > (");
            sql.push_bind(name.as_str())
                .push(", ")
                .push_bind(id.as_uuid())
                .push(")");
        }
    }
    sql.push(match query.sort {
        ProductSort::Newest => " ORDER BY p.id DESC",
        ProductSort::PriceAsc => " ORDER BY p.price_minor ASC, p.id ASC",
        ProductSort::PriceDesc => " ORDER BY p.price_minor DESC, p.id DESC",
        ProductSort::NameAsc => " ORDER BY p.name_key ASC, p.id ASC",
    });
    sql.push(" LIMIT ").push_bind(i64::from(query.limit));
}

#[async_trait]
impl CatalogStore for SqlStore {
    async fn insert_category(&self, category: &Category) -> StoreResult<()> {
        bind_category(
            Sql::new(include_str!("queries/catalog/insert_category.sql")),
            category,
        )
        .bind(category.created_at)
        .bind(category.updated_at)
        .unique(SLUG_TAKEN)
        .execute(&self.db)
        .await
        .map(drop)
    }

    async fn update_category(&self, category: &Category) -> StoreResult<()> {
        bind_category(
            Sql::new(include_str!("queries/catalog/update_category.sql")),
            category,
        )
        .bind(category.updated_at)
        .unique(SLUG_TAKEN)
        .execute_found(&self.db)
        .await
    }

    async fn get_category(&self, id: CategoryId) -> StoreResult<Option<Category>> {
        Sql::new(format!("{SELECT_CATEGORY} WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_parsed::<CategoryRow, _>(&self.db)
            .await
    }

    async fn list_categories(&self) -> StoreResult<Vec<Category>> {
        Sql::new(format!("{SELECT_CATEGORY} ORDER BY name, id"))
            .fetch_all_parsed::<CategoryRow, _>(&self.db)
            .await
    }

    async fn insert_product(&self, product: &Product) -> StoreResult<()> {
        let sql = Sql::new(include_str!("queries/catalog/insert_product.sql"))
            .bind(product.id.as_uuid())
            .bind(product.sku.as_str());
        bind_product_details(sql, product)
            .bind(product.stock.units())
            .bind(product.active)
            .bind(product.category_id.map(|id| id.as_uuid()))
            .bind(product.created_at)
            .bind(product.updated_at)
            .bind(product.weight_grams)
            .unique(&[("sku", "sku"), ("slug", "slug")])
            .execute(&self.db)
            .await
            .map(drop)
    }

    async fn update_product(&self, product: &Product) -> StoreResult<()> {
        let sql =
            Sql::new(include_str!("queries/catalog/update_product.sql")).bind(product.id.as_uuid());
        bind_product_details(sql, product)
            .bind(product.active)
            .bind(product.category_id.map(|id| id.as_uuid()))
            .bind(product.updated_at)
            .bind(product.weight_grams)
            .unique(SLUG_TAKEN)
            .execute_found(&self.db)
            .await
    }

    async fn get_product(&self, id: ProductId) -> StoreResult<Option<Product>> {
        select_product(" WHERE p.id = $1")
            .bind(id.as_uuid())
            .fetch_parsed::<ProductRow, _>(&self.db)
            .await
    }

    async fn get_product_by_slug(&self, slug: &Slug) -> StoreResult<Option<Product>> {
        select_product(" WHERE p.slug = $1")
            .bind(slug.as_str())
            .fetch_parsed::<ProductRow, _>(&self.db)
            .await
    }

    async fn list_products(&self, query: &ProductQuery) -> StoreResult<Vec<Product>> {
        let filter = &query.filter;
        let mut sql = select_product(" WHERE 1 = 1");
        if !filter.include_inactive {
            sql.push(ACTIVE_ONLY);
        }
        if let Some(category) = filter.category {
            // The category and every category below it.
            sql.push(
                " AND p.category_id IN (WITH RECURSIVE tree (id) AS \
                 (SELECT id FROM categories WHERE id = ",
            )
            .push_bind(category.as_uuid())
            .push(
                " UNION ALL SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id) \
                 SELECT id FROM tree)",
            );
        }
        if let Some(min) = filter.min_price_minor {
            sql.push(" AND p.price_minor >= ").push_bind(min);
        }
        if let Some(max) = filter.max_price_minor {
            sql.push(" AND p.price_minor <= ").push_bind(max);
        }
        if filter.in_stock_only {
            sql.push(" AND p.stock > 0");
        }
        push_page(&mut sql, query);
        products(sql.fetch_all(&self.db).await?)
    }

    async fn search_products(&self, query: &SearchQuery) -> StoreResult<Vec<Product>> {
        let dialect = self.db.dialect();
        let active = if query.include_inactive {
            ""
        } else {
            ACTIVE_ONLY
        };
        let rows = Sql::new(dialect.search.replace("{active}", active))
            .bind((dialect.search_terms)(&query.terms))
            .bind(i64::from(query.limit))
            .bind(i64::from(query.offset))
            .fetch_all(&self.db)
            .await?;
        products(rows)
    }

    async fn adjust_stock(&self, adjustment: &StockAdjustment) -> StoreResult<Product> {
        let mut tx = self.db.begin().await?;
        let row: Option<ProductRow> = Sql::new(include_str!("queries/catalog/adjust_stock.sql"))
            .bind(adjustment.product_id.as_uuid())
            .bind(adjustment.delta)
            .bind(adjustment.at)
            .fetch_optional(&mut tx)
            .await?;
        let Some(row) = row else {
            let stock: Option<(i64,)> = Sql::new("SELECT stock FROM products WHERE id = $1")
                .bind(adjustment.product_id.as_uuid())
                .fetch_optional(&mut tx)
                .await?;
            return Err(match stock {
                Some((available,)) => StoreError::InsufficientStock { available },
                None => StoreError::NotFound,
            });
        };
        StockMovement {
            product_id: adjustment.product_id,
            delta: adjustment.delta,
            reason: &adjustment.reason,
            actor: adjustment.actor,
            order_id: None,
            at: adjustment.at,
        }
        .record(&mut tx)
        .await?;
        tx.commit().await?;
        Product::try_from(row)
    }
}
