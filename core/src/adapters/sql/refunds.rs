//! [`RefundStore`]: refunds with the order change and stock return they cause, and the
//! unpaid-order sweeper's claim. Stock goes back through [`return_stock`], which the order
//! cancellation of [`super::orders`] shares.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Sql, SqlStore, Tx, Value,
    catalog::StockMovement,
    orders::{apply_transition, record_status},
    outbox::insert_events,
    rows::{money, parse},
};
use crate::{
    domain::{OrderId, OrderStatus, ProductId, Refund, RefundId, Text, UserId},
    ports::{OrderExpiry, RefundStore, RefundWrite, StatusChange, StoreError, StoreResult},
};

const SELECT_REFUND: &str = include_str!("queries/refunds/select.sql");

/// Stock movements written for an expired order's lines.
const EXPIRED: &str = "order expired";
/// ... and for a refund that takes the goods back.
const REFUNDED: &str = "order refunded";

/// Puts the lines of `orders` back into stock, with one stock movement per line. Products are
/// updated once each, in id order, as checkout locks them: two transactions returning or taking
/// stock of the same products wait for each other instead of deadlocking.
pub(super) async fn return_stock(
    tx: &mut Tx,
    orders: &[OrderId],
    reason: &str,
    actor: Option<UserId>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if orders.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new(include_str!("queries/refunds/lines_of.sql").trim_end());
    sql.push(" ")
        .push_rows([orders.iter().map(|id| Value::from(id.as_uuid()))])
        .push(" ORDER BY order_id, line_no");
    let lines: Vec<(Uuid, Uuid, i64)> = sql.fetch_all(&mut *tx).await?;
    let mut per_product: BTreeMap<Uuid, i64> = BTreeMap::new();
    for (_, product_id, quantity) in &lines {
        *per_product.entry(*product_id).or_default() += quantity;
    }
    for (product_id, quantity) in per_product {
        Sql::new("UPDATE products SET stock = stock + $2, updated_at = $3 WHERE id = $1")
            .bind(product_id)
            .bind(quantity)
            .bind(at)
            .execute(&mut *tx)
            .await?;
    }
    for (order_id, product_id, quantity) in lines {
        StockMovement {
            product_id: ProductId::from_uuid(product_id),
            delta: quantity,
            reason,
            actor,
            order_id: Some(OrderId::from_uuid(order_id)),
            at,
        }
        .record(tx)
        .await?;
    }
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
struct RefundRow {
    id: Uuid,
    order_id: Uuid,
    sequence: i64,
    amount_minor: i64,
    currency: String,
    reason: String,
    provider: String,
    provider_reference: String,
    refund_key: String,
    request_hash: Option<String>,
    restock: bool,
    full_refund: bool,
    pending: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<RefundRow> for Refund {
    type Error = StoreError;
    fn try_from(row: RefundRow) -> Result<Self, StoreError> {
        let t = "refunds";
        Ok(Self {
            id: RefundId::from_uuid(row.id),
            order_id: OrderId::from_uuid(row.order_id),
            sequence: row.sequence,
            amount: money(t, "amount_minor", row.amount_minor, &row.currency)?,
            reason: parse(t, "reason", Text::parse(&row.reason))?,
            provider: row.provider,
            provider_reference: row.provider_reference,
            refund_key: row.refund_key,
            request_hash: row.request_hash,
            restock: row.restock,
            full: row.full_refund,
            pending: row.pending,
            created_at: row.created_at,
        })
    }
}

/// Takes the order's row lock and checks that its other refunds (pending ones included) still
/// add up to `refunded_before`.
async fn check_total(tx: &mut Tx, refund: &Refund, refunded_before: i64) -> StoreResult<()> {
    // The order's row is the lock every refund of it takes (Postgres; SQLite's write
    // transaction excludes other writers): the total read next cannot change until commit.
    let locked: Option<(String,)> = Sql::new(format!(
        "SELECT status FROM orders WHERE id = $1{}",
        tx.dialect().lock_row
    ))
    .bind(refund.order_id.as_uuid())
    .fetch_optional(&mut *tx)
    .await?;
    if locked.is_none() {
        return Err(StoreError::NotFound);
    }
    let (refunded,): (i64,) = Sql::new(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM refunds \
         WHERE order_id = $1 AND id <> $2",
    )
    .bind(refund.order_id.as_uuid())
    .bind(refund.id.as_uuid())
    .fetch_one(&mut *tx)
    .await?;
    if refunded != refunded_before {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// `provider_reference` first: Postgres names the constraints, SQLite the columns, and only the
/// refund key's mention "refund_key", only the sequence's "sequence".
const UNIQUE: &[(&str, &str)] = &[
    ("provider_reference", "provider_reference"),
    ("refund_key", "refund_key"),
    ("sequence", "sequence"),
];

async fn insert(tx: &mut Tx, refund: &Refund) -> StoreResult<()> {
    Sql::new(include_str!("queries/refunds/insert.sql"))
        .bind(refund.id.as_uuid())
        .bind(refund.order_id.as_uuid())
        .bind(refund.sequence)
        .bind(refund.amount.amount_minor())
        .bind(refund.amount.currency().code())
        .bind(refund.reason.as_str())
        .bind(refund.provider.as_str())
        .bind(refund.provider_reference.as_str())
        .bind(refund.refund_key.as_str())
        .bind(refund.request_hash.as_deref())
        .bind(refund.restock)
        .bind(refund.full)
        .bind(refund.pending)
        .bind(refund.created_at)
        .unique(UNIQUE)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn record(tx: &mut Tx, write: &RefundWrite) -> StoreResult<()> {
    let refund = &write.refund;
    check_total(tx, refund, write.refunded_before).await?;
    let completed = Sql::new(include_str!("queries/refunds/complete.sql"))
        .bind(refund.id.as_uuid())
        .bind(refund.sequence)
        .bind(refund.amount.amount_minor())
        .bind(refund.provider_reference.as_str())
        .bind(refund.restock)
        .bind(refund.full)
        .bind(refund.created_at)
        .unique(UNIQUE)
        .execute(&mut *tx)
        .await?;
    if completed == 0 {
        let exists: Option<(Uuid,)> = Sql::new("SELECT id FROM refunds WHERE id = $1")
            .bind(refund.id.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            // Its reservation was completed meanwhile.
            return Err(StoreError::Duplicate {
                field: "refund_key",
            });
        }
        insert(tx, refund).await?;
    }
    if let Some(transition) = &write.transition {
        apply_transition(tx, transition).await?;
    }
    if write.restock {
        let actor = write.transition.as_ref().and_then(|t| t.actor);
        return_stock(tx, &[refund.order_id], REFUNDED, actor, refund.created_at).await?;
    }
    insert_events(tx, &write.events).await
}

async fn expire(tx: &mut Tx, expiry: &OrderExpiry<'_>) -> StoreResult<Vec<OrderId>> {
    let claimed: Vec<(Uuid, Uuid)> = Sql::new(format!(
        "{}{}",
        include_str!("queries/refunds/claim_expired.sql").trim_end(),
        tx.dialect().lock_pending
    ))
    .bind(expiry.placed_before)
    .bind(i64::from(expiry.limit))
    .fetch_all(&mut *tx)
    .await?;
    let mut expired = Vec::with_capacity(claimed.len());
    for (order_id, user_id) in claimed {
        let order_id = OrderId::from_uuid(order_id);
        // Conditional even though the row is claimed: on SQLite the claim is the write lock,
        // and either way a payment that got in first keeps its order.
        let updated = Sql::new(
            "UPDATE orders SET status = 'cancelled', updated_at = $2 \
             WHERE id = $1 AND status = 'pending_payment'",
        )
        .bind(order_id.as_uuid())
        .bind(expiry.at)
        .execute(&mut *tx)
        .await?;
        if updated == 0 {
            continue;
        }
        let change = StatusChange {
            from: Some(OrderStatus::PendingPayment),
            to: OrderStatus::Cancelled,
            actor: None,
            at: expiry.at,
        };
        record_status(tx, order_id, &change).await?;
        insert_events(tx, &(expiry.events)(order_id, UserId::from_uuid(user_id))).await?;
        expired.push(order_id);
    }
    return_stock(tx, &expired, EXPIRED, None, expiry.at).await?;
    Ok(expired)
}

#[async_trait]
impl RefundStore for SqlStore {
    async fn record_refund(&self, write: &RefundWrite) -> StoreResult<()> {
        let mut tx = self.db().begin().await?;
        record(&mut tx, write).await?;
        tx.commit().await
    }

    async fn reserve_refund(&self, refund: &Refund, refunded_before: i64) -> StoreResult<()> {
        let mut tx = self.db().begin().await?;
        check_total(&mut tx, refund, refunded_before).await?;
        insert(&mut tx, refund).await?;
        tx.commit().await
    }

    async fn release_refund(&self, id: RefundId) -> StoreResult<()> {
        Sql::new("DELETE FROM refunds WHERE id = $1 AND pending")
            .bind(id.as_uuid())
            .execute(self.db())
            .await?;
        Ok(())
    }

    async fn list_refunds(&self, order_id: OrderId) -> StoreResult<Vec<Refund>> {
        Sql::new(format!(
            "{SELECT_REFUND} WHERE order_id = $1 ORDER BY sequence"
        ))
        .bind(order_id.as_uuid())
        .fetch_all_parsed::<RefundRow, _>(self.db())
        .await
    }

    async fn find_refund(&self, provider: &str, reference: &str) -> StoreResult<Option<Refund>> {
        Sql::new(format!(
            "{SELECT_REFUND} WHERE provider = $1 AND provider_reference = $2"
        ))
        .bind(provider)
        .bind(reference)
        .fetch_parsed::<RefundRow, _>(self.db())
        .await
    }

    async fn expire_unpaid_orders(&self, expiry: &OrderExpiry<'_>) -> StoreResult<Vec<OrderId>> {
        let mut tx = self.db().begin().await?;
        let expired = expire(&mut tx, expiry).await?;
        tx.commit().await?;
        Ok(expired)
    }
}
