//! [`OrderStore`]: orders, their status changes (with the stock a cancellation returns), sales
//! figures; checkout and payments have modules of their own ([`super::checkout`],
//! [`super::payments`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    Conn, Sql, SqlStore, Tx, Value,
    checkout::replay,
    outbox::insert_events,
    refunds::return_stock,
    rows::{OrderItemRow, OrderRow, StatusChangeRow, assemble_orders},
};
use crate::{
    domain::{Order, OrderId, OutboxEvent, Payment},
    ports::{
        CheckoutOutcome, CheckoutRequest, DaySales, OrderQuery, OrderStore, OrderTransition,
        SalesStats, StatusChange, StoreError, StoreResult, TopProduct,
    },
};

const SELECT_ORDER: &str = include_str!("queries/orders/select.sql");

/// The orders of `rows` with their items, fetched for all of them in one statement.
async fn load_orders(conn: impl Into<Conn<'_>>, rows: Vec<OrderRow>) -> StoreResult<Vec<Order>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(include_str!("queries/orders/items_of.sql").trim_end());
    sql.push(" ")
        .push_rows([rows.iter().map(|row| Value::from(row.id))])
        .push(" ORDER BY order_id, line_no");
    let items: Vec<OrderItemRow> = sql.fetch_all(conn).await?;
    assemble_orders(rows, items)
}

/// The order `id`, read inside `tx`.
pub(super) async fn order_in(tx: &mut Tx, id: OrderId) -> StoreResult<Option<Order>> {
    let row: Option<OrderRow> = Sql::new(format!("{SELECT_ORDER} WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(load_orders(tx, vec![row]).await?.pop())
}

pub(super) async fn record_status(
    tx: &mut Tx,
    order_id: OrderId,
    change: &StatusChange,
) -> StoreResult<()> {
    Sql::new(include_str!("queries/orders/insert_status.sql"))
        .bind(order_id.as_uuid())
        .bind(change.from.map(|status| status.as_str()))
        .bind(change.to.as_str())
        .bind(change.actor.map(|id| id.as_uuid()))
        .bind(change.at)
        .execute(tx)
        .await
        .map(drop)
}

/// The status change, stock return and events of `transition`, inside `tx`.
pub(super) async fn apply_transition(tx: &mut Tx, transition: &OrderTransition) -> StoreResult<()> {
    let order_id = transition.order_id;
    let updated =
        Sql::new("UPDATE orders SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2")
            .bind(order_id.as_uuid())
            .bind(transition.from.as_str())
            .bind(transition.to.as_str())
            .bind(transition.at)
            .execute(&mut *tx)
            .await?;
    if updated == 0 {
        let exists: Option<(String,)> = Sql::new("SELECT status FROM orders WHERE id = $1")
            .bind(order_id.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
        return Err(if exists.is_some() {
            StoreError::Conflict
        } else {
            StoreError::NotFound
        });
    }
    if transition.to.returns_stock() {
        return_stock(
            tx,
            &[order_id],
            "order cancelled",
            transition.actor,
            transition.at,
        )
        .await?;
    }
    let change = StatusChange {
        from: Some(transition.from),
        to: transition.to,
        actor: transition.actor,
        at: transition.at,
    };
    record_status(tx, order_id, &change).await?;
    insert_events(tx, &transition.events).await
}

#[async_trait]
impl OrderStore for SqlStore {
    async fn checkout(&self, request: &CheckoutRequest) -> StoreResult<CheckoutOutcome> {
        match self.place_order(request).await {
            // A concurrent request with the same key won the race: answer with its order.
            Err(StoreError::Duplicate {
                field: "idempotency_key",
            }) => {
                let mut tx = self.db.begin().await?;
                replay(&mut tx, request).await?.ok_or(StoreError::Conflict)
            }
            other => other,
        }
    }

    async fn get_order(&self, id: OrderId) -> StoreResult<Option<Order>> {
        let row: Option<OrderRow> = Sql::new(format!("{SELECT_ORDER} WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.db)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(load_orders(&self.db, vec![row]).await?.pop())
    }

    async fn list_orders(&self, query: &OrderQuery) -> StoreResult<Vec<Order>> {
        let mut sql = Sql::new(format!("{SELECT_ORDER} WHERE 1 = 1"));
        if let Some(user_id) = query.user_id {
            sql.push(" AND user_id = ").push_bind(user_id.as_uuid());
        }
        if let Some(status) = query.status {
            sql.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(number) = query.number {
            sql.push(" AND number = ").push_bind(number.seq());
        }
        if let Some(after) = query.after {
            sql.push(" AND id < ").push_bind(after.as_uuid());
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(query.limit));
        let rows: Vec<OrderRow> = sql.fetch_all(&self.db).await?;
        let mut orders = load_orders(&self.db, rows).await?;
        // The sequential part is unique on its own; the year must match too, so that a number
        // with the wrong year finds nothing rather than someone else's order of another year.
        if let Some(number) = query.number {
            orders.retain(|order| order.number == number);
        }
        Ok(orders)
    }

    async fn transition_order(&self, transition: &OrderTransition) -> StoreResult<Order> {
        let mut tx = self.db.begin().await?;
        apply_transition(&mut tx, transition).await?;
        let order = order_in(&mut tx, transition.order_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(order)
    }

    async fn status_history(&self, id: OrderId) -> StoreResult<Vec<StatusChange>> {
        Sql::new(include_str!("queries/orders/status_history.sql"))
            .bind(id.as_uuid())
            .fetch_all_parsed::<StatusChangeRow, _>(&self.db)
            .await
    }

    async fn sales_stats(&self, since: DateTime<Utc>, top: u32) -> StoreResult<SalesStats> {
        let days: Vec<DaySales> = Sql::new(self.db.dialect().sales_by_day)
            .bind(since)
            .fetch_all(&self.db)
            .await?;
        let top_products: Vec<TopProduct> =
            Sql::new(include_str!("queries/orders/top_products.sql"))
                .bind(since)
                .bind(i64::from(top))
                .fetch_all(&self.db)
                .await?;
        Ok(SalesStats { days, top_products })
    }

    async fn record_payment(
        &self,
        payment: &Payment,
        transition: Option<&OrderTransition>,
        events: &[OutboxEvent],
    ) -> StoreResult<()> {
        super::payments::record(&self.db, payment, transition, events).await
    }

    async fn find_payment(&self, provider: &str, reference: &str) -> StoreResult<Option<Payment>> {
        super::payments::find(&self.db, provider, reference).await
    }

    async fn list_payments(&self, order_id: OrderId) -> StoreResult<Vec<Payment>> {
        super::payments::of_order(&self.db, order_id).await
    }
}
