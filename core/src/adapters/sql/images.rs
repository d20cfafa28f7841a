//! [`ProductImageStore`]: the records of product images (their bytes are in the blob store).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Sql, SqlStore, Value, outbox::insert_events, rows::parse};
use crate::{
    domain::{ImageFormat, ImageId, OutboxEvent, ProductId, ProductImage},
    ports::{AddedImage, ProductDeletion, ProductImageStore, StoreError, StoreResult},
};

const SELECT: &str = "SELECT id, product_id, position, format, width, height, byte_size, sha256, \
                      variants_ready, created_at FROM product_images";

#[derive(Debug, sqlx::FromRow)]
struct ImageRow {
    id: Uuid,
    product_id: Uuid,
    position: i64,
    format: String,
    width: i64,
    height: i64,
    byte_size: i64,
    sha256: String,
    variants_ready: bool,
    created_at: DateTime<Utc>,
}

fn side(column: &str, value: i64) -> StoreResult<u32> {
    u32::try_from(value).map_err(|_| {
        StoreError::Backend(format!("stored product_images.{column} is out of range").into())
    })
}

impl TryFrom<ImageRow> for ProductImage {
    type Error = StoreError;
    fn try_from(row: ImageRow) -> StoreResult<Self> {
        Ok(Self {
            id: ImageId::from_uuid(row.id),
            product_id: ProductId::from_uuid(row.product_id),
            position: row.position,
            format: parse("product_images", "format", ImageFormat::parse(&row.format))?,
            width: side("width", row.width)?,
            height: side("height", row.height)?,
            byte_size: row.byte_size,
            sha256: row.sha256,
            variants_ready: row.variants_ready,
            created_at: row.created_at,
        })
    }
}

fn images(rows: Vec<ImageRow>) -> StoreResult<Vec<ProductImage>> {
    rows.into_iter().map(ProductImage::try_from).collect()
}

#[async_trait]
impl ProductImageStore for SqlStore {
    async fn add_product_image(
        &self,
        image: &ProductImage,
        max: usize,
        event: &OutboxEvent,
    ) -> StoreResult<AddedImage> {
        let mut tx = self.db.begin().await?;
        // The product row is locked so that two uploads at once count each other and take
        // different positions.
        let found: Option<(Uuid,)> = Sql::new(format!(
            "SELECT id FROM products WHERE id = $1{}",
            self.db.dialect().lock_row
        ))
        .bind(image.product_id.as_uuid())
        .fetch_optional(&mut tx)
        .await?;
        if found.is_none() {
            return Ok(AddedImage::ProductNotFound);
        }
        let (count, next): (i64, i64) = Sql::new(
            "SELECT COUNT(*), COALESCE(MAX(position) + 1, 0) FROM product_images \
             WHERE product_id = $1",
        )
        .bind(image.product_id.as_uuid())
        .fetch_one(&mut tx)
        .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max {
            return Ok(AddedImage::Full);
        }
        let stored = ProductImage {
            position: next,
            ..image.clone()
        };
        Sql::new(
            "INSERT INTO product_images (id, product_id, position, format, width, height, \
             byte_size, sha256, variants_ready, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(stored.id.as_uuid())
        .bind(stored.product_id.as_uuid())
        .bind(stored.position)
        .bind(stored.format.as_str())
        .bind(i64::from(stored.width))
        .bind(i64::from(stored.height))
        .bind(stored.byte_size)
        .bind(stored.sha256.as_str())
        .bind(stored.variants_ready)
        .bind(stored.created_at)
        .execute(&mut tx)
        .await?;
        insert_events(&mut tx, std::slice::from_ref(event)).await?;
        tx.commit().await?;
        Ok(AddedImage::Added(stored))
    }

    async fn product_images(&self, products: &[ProductId]) -> StoreResult<Vec<ProductImage>> {
        if products.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(format!("{SELECT} WHERE product_id IN ("));
        for (index, product) in products.iter().enumerate() {
            if index > 0 {
                sql.push(", ");
            }
            sql.push_bind(product.as_uuid());
        }
        sql.push(") ORDER BY product_id, position, id");
        images(sql.fetch_all(&self.db).await?)
    }

    async fn product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
    ) -> StoreResult<Option<ProductImage>> {
        let row: Option<ImageRow> = Sql::new(format!("{SELECT} WHERE id = $1 AND product_id = $2"))
            .bind(image_id.as_uuid())
            .bind(product_id.as_uuid())
            .fetch_optional(&self.db)
            .await?;
        row.map(ProductImage::try_from).transpose()
    }

    async fn reorder_product_images(
        &self,
        product_id: ProductId,
        order: &[ImageId],
    ) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        Sql::new(format!(
            "SELECT id FROM products WHERE id = $1{}",
            self.db.dialect().lock_row
        ))
        .bind(product_id.as_uuid())
        .execute(&mut tx)
        .await?;
        let current: Vec<(Uuid,)> = Sql::new("SELECT id FROM product_images WHERE product_id = $1")
            .bind(product_id.as_uuid())
            .fetch_all(&mut tx)
            .await?;
        let mut have: Vec<Uuid> = current.into_iter().map(|(id,)| id).collect();
        let mut asked: Vec<Uuid> = order.iter().map(ImageId::as_uuid).collect();
        have.sort_unstable();
        asked.sort_unstable();
        if have != asked {
            return Ok(false);
        }
        if order.is_empty() {
            return Ok(true);
        }
        // One statement: positions from a VALUES list, whatever the number of images.
        let mut update = Sql::new("UPDATE product_images SET position = v.column2 FROM (VALUES ");
        update
            .push_rows(
                (0_i64..)
                    .zip(order)
                    .map(|(position, id)| [Value::from(id.as_uuid()), Value::from(position)]),
            )
            .push(") AS v WHERE product_images.id = v.column1 AND product_images.product_id = ")
            .push_bind(product_id.as_uuid());
        update.execute(&mut tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
    ) -> StoreResult<Option<ProductImage>> {
        let mut tx = self.db.begin().await?;
        let row: Option<ImageRow> = Sql::new(format!("{SELECT} WHERE id = $1 AND product_id = $2"))
            .bind(image_id.as_uuid())
            .bind(product_id.as_uuid())
            .fetch_optional(&mut tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Sql::new("DELETE FROM product_images WHERE id = $1")
            .bind(image_id.as_uuid())
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        row.try_into().map(Some)
    }

    async fn delete_product_images(&self, product_id: ProductId) -> StoreResult<u64> {
        Sql::new("DELETE FROM product_images WHERE product_id = $1")
            .bind(product_id.as_uuid())
            .execute(&self.db)
            .await
    }

    async fn mark_image_variants_ready(&self, image_id: ImageId) -> StoreResult<bool> {
        let changed = Sql::new("UPDATE product_images SET variants_ready = $2 WHERE id = $1")
            .bind(image_id.as_uuid())
            .bind(true)
            .execute(&self.db)
            .await?;
        Ok(changed > 0)
    }

    async fn delete_product(&self, product_id: ProductId) -> StoreResult<ProductDeletion> {
        let mut tx = self.db.begin().await?;
        let found: Option<(Uuid,)> = Sql::new(format!(
            "SELECT id FROM products WHERE id = $1{}",
            self.db.dialect().lock_row
        ))
        .bind(product_id.as_uuid())
        .fetch_optional(&mut tx)
        .await?;
        if found.is_none() {
            return Ok(ProductDeletion::NotFound);
        }
        // Checked, not left to the foreign key, so the answer is a clear refusal rather than a
        // constraint error; the product row is locked, and checkout locks it too before it
        // writes order lines, so no order can appear between this check and the delete.
        let ordered: Option<(Uuid,)> =
            Sql::new("SELECT product_id FROM order_items WHERE product_id = $1 LIMIT 1")
                .bind(product_id.as_uuid())
                .fetch_optional(&mut tx)
                .await?;
        if ordered.is_some() {
            return Ok(ProductDeletion::HasOrders);
        }
        Sql::new("DELETE FROM products WHERE id = $1")
            .bind(product_id.as_uuid())
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(ProductDeletion::Deleted)
    }

    async fn image_by_id(&self, image_id: ImageId) -> StoreResult<Option<ProductImage>> {
        let row: Option<ImageRow> = Sql::new(format!("{SELECT} WHERE id = $1"))
            .bind(image_id.as_uuid())
            .fetch_optional(&self.db)
            .await?;
        row.map(ProductImage::try_from).transpose()
    }
}
