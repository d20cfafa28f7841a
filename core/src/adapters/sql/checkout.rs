//! Checkout: the cart becomes an order in one transaction (see [`OrderStore::checkout`]).
//!
//! [`OrderStore::checkout`]: crate::ports::OrderStore::checkout

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Sql, SqlStore, Tx, Value,
    carts::LINES,
    orders::{order_in, record_status},
    outbox::insert_events,
    rows::CartLineRow,
};
use crate::{
    domain::{
        CartLine, DomainEvent, Order, OrderId, OrderItem, OutboxEvent,
        checkout::{CheckoutError, CheckoutInput, build_order},
    },
    ports::{CheckoutOutcome, CheckoutRequest, StatusChange, StoreError, StoreResult},
};

/// Order lines written per statement: 8 parameters each keeps a statement under 4,000
/// parameters, well inside SQLite's 32,766 and Postgres' 65,535.
const LINES_PER_STATEMENT: usize = 500;

/// `StockLow` for each product this sale takes from above `threshold` to at or below it.
fn stock_low_events(lines: &[CartLine], threshold: i64, at: DateTime<Utc>) -> Vec<OutboxEvent> {
    lines
        .iter()
        .filter_map(|line| {
            let before = line.product.stock.units();
            let after = before - line.item.quantity.units();
            (before > threshold && after <= threshold).then(|| {
                DomainEvent::StockLow {
                    product_id: line.product.id,
                    sku: line.product.sku.as_str().to_owned(),
                    stock: after,
                    threshold,
                }
                .into_outbox(at)
            })
        })
        .collect()
}

/// The order an idempotency key created, if the key was used before.
pub(super) async fn replay(
    tx: &mut Tx,
    request: &CheckoutRequest,
) -> StoreResult<Option<CheckoutOutcome>> {
    let seen: Option<(String, Uuid)> = Sql::new(include_str!("queries/orders/replay.sql"))
        .bind(request.user_id.as_uuid())
        .bind(request.idempotency_key.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    let Some((fingerprint, order_id)) = seen else {
        return Ok(None);
    };
    if fingerprint != request.fingerprint {
        return Err(StoreError::IdempotencyKeyReused);
    }
    let order = order_in(tx, OrderId::from_uuid(order_id))
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(Some(CheckoutOutcome {
        order,
        replayed: true,
    }))
}

/// Takes the sold units off the shelf and writes them to the stock ledger, a statement per
/// kind of row whatever the number of lines, in chunks far below either backend's limit on
/// bound parameters.
async fn take_stock(tx: &mut Tx, order: &Order, request: &CheckoutRequest) -> StoreResult<()> {
    for chunk in order.items.chunks(LINES_PER_STATEMENT) {
        let mut take = Sql::new("UPDATE products SET stock = stock - v.column2, updated_at = ");
        take.push_bind(request.now)
            .push(" FROM (VALUES ")
            .push_rows(chunk.iter().map(|item| {
                [
                    Value::from(item.product_id.as_uuid()),
                    Value::from(item.quantity.units()),
                ]
            }))
            .push(") AS v WHERE products.id = v.column1 AND products.stock >= v.column2");
        let taken = take.execute(&mut *tx).await?;
        // The rows are locked and `build_order` saw enough stock, so this is a guard against a
        // bug, not a race.
        if taken != chunk.len() as u64
            && let Some(first) = chunk.first()
        {
            return Err(CheckoutError::InsufficientStock {
                product_id: first.product_id,
                requested: first.quantity.units(),
                available: 0,
            }
            .into());
        }
        let mut ledger = Sql::new(
            "INSERT INTO stock_movements \
             (product_id, delta, reason, actor_id, order_id, created_at) VALUES ",
        );
        ledger.push_rows(chunk.iter().map(|item| {
            [
                Value::from(item.product_id.as_uuid()),
                Value::from(-item.quantity.units()),
                Value::from("order placed"),
                Value::from(request.user_id.as_uuid()),
                Value::from(order.id.as_uuid()),
                Value::from(request.now),
            ]
        }));
        ledger.execute(&mut *tx).await?;
    }
    Ok(())
}

async fn insert_order(tx: &mut Tx, order: &Order) -> StoreResult<()> {
    let address = order
        .shipping_address
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|error| StoreError::Backend(Box::new(error)))?;
    Sql::new(include_str!("queries/orders/insert.sql"))
        .bind(order.id.as_uuid())
        .bind(order.user_id.as_uuid())
        .bind(order.status.as_str())
        .bind(order.total.currency().code())
        .bind(order.subtotal.amount_minor())
        .bind(order.tax.amount_minor())
        .bind(order.total.amount_minor())
        .bind(address)
        .bind(order.placed_at)
        .bind(order.updated_at)
        .execute(&mut *tx)
        .await?;
    let numbered: Vec<(i64, &OrderItem)> = (1_i64..).zip(&order.items).collect();
    for chunk in numbered.chunks(LINES_PER_STATEMENT) {
        let mut lines = Sql::new(
            "INSERT INTO order_items (order_id, line_no, product_id, sku, name, \
             unit_price_minor, quantity, line_total_minor) VALUES ",
        );
        lines.push_rows(chunk.iter().map(|(line_no, item)| {
            [
                Value::from(order.id.as_uuid()),
                Value::from(*line_no),
                Value::from(item.product_id.as_uuid()),
                Value::from(item.sku.as_str()),
                Value::from(item.name.as_str()),
                Value::from(item.unit_price.amount_minor()),
                Value::from(item.quantity.units()),
                Value::from(item.line_total.amount_minor()),
            ]
        }));
        lines.execute(&mut *tx).await?;
    }
    Ok(())
}

impl SqlStore {
    pub(super) async fn place_order(
        &self,
        request: &CheckoutRequest,
    ) -> StoreResult<CheckoutOutcome> {
        let mut tx = self.db.begin().await?;
        let dialect = self.db.dialect();
        // One checkout per user at a time, so a retried request waits for the first and then
        // finds its key instead of racing it. The key is looked up by a second statement on
        // purpose: after waiting for the lock, Postgres re-checks only the locked row, so a join
        // in the locking statement would miss the key the first checkout just recorded.
        Sql::new(format!(
            "SELECT id FROM users WHERE id = $1{}",
            dialect.lock_row
        ))
        .bind(request.user_id.as_uuid())
        .execute(&mut tx)
        .await?;
        if let Some(replayed) = replay(&mut tx, request).await? {
            return Ok(replayed);
        }
        // Products are locked in id order so that concurrent checkouts cannot deadlock.
        let rows: Vec<CartLineRow> =
            Sql::new(format!("{LINES} ORDER BY p.id{}", dialect.lock_products))
                .bind(request.user_id.as_uuid())
                .fetch_all(&mut tx)
                .await?;
        let lines = rows
            .into_iter()
            .map(CartLine::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        // The rows are locked (or the write lock held): their stock is what the sale takes from.
        let stock_low = stock_low_events(&lines, request.low_stock_threshold, request.now);
        let order = build_order(CheckoutInput {
            order_id: request.order_id,
            user_id: request.user_id,
            lines,
            shipping_address: request.shipping_address.clone(),
            tax_rate: request.tax_rate,
            now: request.now,
        })?;
        take_stock(&mut tx, &order, request).await?;
        insert_order(&mut tx, &order).await?;
        let placed = StatusChange {
            from: None,
            to: order.status,
            actor: Some(order.user_id),
            at: request.now,
        };
        record_status(&mut tx, order.id, &placed).await?;
        Sql::new(include_str!("queries/orders/insert_checkout_request.sql"))
            .bind(request.user_id.as_uuid())
            .bind(request.idempotency_key.as_str())
            .bind(request.fingerprint.as_str())
            .bind(order.id.as_uuid())
            .bind(request.now)
            .unique(&[("checkout_requests", "idempotency_key")])
            .execute(&mut tx)
            .await?;
        Sql::new("DELETE FROM cart_items WHERE user_id = $1")
            .bind(request.user_id.as_uuid())
            .execute(&mut tx)
            .await?;
        let placed = DomainEvent::order_placed(&order).into_outbox(request.now);
        insert_events(&mut tx, &[placed]).await?;
        insert_events(&mut tx, &stock_low).await?;
        tx.commit().await?;
        Ok(CheckoutOutcome {
            order,
            replayed: false,
        })
    }
}
