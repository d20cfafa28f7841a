//! [`CartStore`]: the user's cart, each change reported by a `CartUpdated` event.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Sql, SqlStore, Tx, outbox::insert_events, rows::CartLineRow};
use crate::{
    domain::{CartItemId, CartLine, DomainEvent, ProductId, Quantity, UserId},
    ports::{CartStore, StoreError, StoreResult},
};

/// The user's (`$1`) cart lines with their products, as [`CartLineRow`] reads them.
pub(super) const LINES: &str = include_str!("queries/carts/lines.sql");

/// Records that the user's line of `product_id` now holds `quantity` units (0: removed).
async fn cart_updated(
    tx: &mut Tx,
    user_id: UserId,
    product_id: ProductId,
    quantity: i64,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let event = DomainEvent::CartUpdated {
        user_id,
        product_id,
        quantity,
    }
    .into_outbox(at);
    insert_events(tx, &[event]).await
}

#[async_trait]
impl CartStore for SqlStore {
    async fn cart_lines(&self, user_id: UserId) -> StoreResult<Vec<CartLine>> {
        Sql::new(format!("{LINES} ORDER BY ci.added_at, ci.id"))
            .bind(user_id.as_uuid())
            .fetch_all_parsed::<CartLineRow, _>(&self.db)
            .await
    }

    async fn add_to_cart(
        &self,
        user_id: UserId,
        product_id: ProductId,
        quantity: Quantity,
        at: DateTime<Utc>,
    ) -> StoreResult<Quantity> {
        let mut tx = self.db.begin().await?;
        let row: Option<(i64,)> = Sql::new(include_str!("queries/carts/add.sql"))
            .bind(CartItemId::new().as_uuid())
            .bind(user_id.as_uuid())
            .bind(product_id.as_uuid())
            .bind(quantity.units())
            .bind(at)
            .fetch_optional(&mut tx)
            .await?;
        let (units,) = row.ok_or(StoreError::Conflict)?;
        let quantity =
            Quantity::new(units).map_err(|error| StoreError::Backend(error.to_string().into()))?;
        cart_updated(&mut tx, user_id, product_id, units, at).await?;
        tx.commit().await?;
        Ok(quantity)
    }

    async fn set_cart_quantity(
        &self,
        user_id: UserId,
        item_id: CartItemId,
        quantity: Quantity,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        let updated: Option<(Uuid,)> = Sql::new(
            "UPDATE cart_items SET quantity = $3 WHERE id = $1 AND user_id = $2 \
             RETURNING product_id",
        )
        .bind(item_id.as_uuid())
        .bind(user_id.as_uuid())
        .bind(quantity.units())
        .fetch_optional(&mut tx)
        .await?;
        let Some((product_id,)) = updated else {
            return Ok(false);
        };
        let product_id = ProductId::from_uuid(product_id);
        cart_updated(&mut tx, user_id, product_id, quantity.units(), at).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn remove_cart_item(
        &self,
        user_id: UserId,
        item_id: CartItemId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        let deleted: Option<(Uuid,)> =
            Sql::new("DELETE FROM cart_items WHERE id = $1 AND user_id = $2 RETURNING product_id")
                .bind(item_id.as_uuid())
                .bind(user_id.as_uuid())
                .fetch_optional(&mut tx)
                .await?;
        let Some((product_id,)) = deleted else {
            return Ok(false);
        };
        cart_updated(&mut tx, user_id, ProductId::from_uuid(product_id), 0, at).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn clear_cart(&self, user_id: UserId) -> StoreResult<()> {
        Sql::new("DELETE FROM cart_items WHERE user_id = $1")
            .bind(user_id.as_uuid())
            .execute(&self.db)
            .await
            .map(drop)
    }
}
