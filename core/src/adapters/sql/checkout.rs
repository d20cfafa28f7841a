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
        CartLine, DomainEvent, Order, OrderId, OrderItem, OrderNumber, OutboxEvent,
        checkout::{CheckoutInput, build_order},
    },
    ports::{CheckoutOutcome, CheckoutRequest, StatusChange, StoreError, StoreResult},
};

/// Order lines written per statement: 8 parameters each keeps a statement under 4,000
/// parameters, well inside SQLite's 32,766 and Postgres' 65,535.
const LINES_PER_STATEMENT: usize = 500;

/// `StockLow` for each product this sale took from above `threshold` to at or below it, from
/// the stock each product was left with (as the stock update returned it).
fn stock_low_events(
    order: &Order,
    left: &[(Uuid, i64)],
    threshold: i64,
    at: DateTime<Utc>,
) -> Vec<OutboxEvent> {
    order
        .items
        .iter()
        .filter_map(|item| {
            let (_, after) = left
                .iter()
                .find(|(id, _)| *id == item.product_id.as_uuid())?;
            let before = after + item.quantity.units();
            (before > threshold && *after <= threshold).then(|| {
                DomainEvent::StockLow {
                    product_id: item.product_id,
                    sku: item.sku.clone(),
                    stock: *after,
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

/// Writes the sold units to the stock ledger. Before the stock update on purpose: the ledger's
/// reference to the product only needs a key-share lock, which a concurrent checkout's update of
/// the same product does not block.
async fn record_ledger(tx: &mut Tx, order: &Order, request: &CheckoutRequest) -> StoreResult<()> {
    for chunk in order.items.chunks(LINES_PER_STATEMENT) {
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

/// Takes the sold units off the shelf: one statement per chunk of lines that locks the products
/// in id order (so that concurrent checkouts cannot deadlock), takes the units only where enough
/// are left and the product is still on sale, and answers what each product was left with.
/// `None` when a product could not give its units: another checkout took them (or the product
/// was withdrawn) after this one read the cart.
async fn take_stock(
    tx: &mut Tx,
    order: &Order,
    request: &CheckoutRequest,
) -> StoreResult<Option<Vec<(Uuid, i64)>>> {
    let lock = tx.dialect().lock_in_order;
    let mut left = Vec::with_capacity(order.items.len());
    for chunk in order.items.chunks(LINES_PER_STATEMENT) {
        let ids = || {
            chunk
                .iter()
                .map(|item| Value::from(item.product_id.as_uuid()))
        };
        let mut take = Sql::new("");
        if !lock.is_empty() {
            take.push("WITH locked AS MATERIALIZED (SELECT id FROM products WHERE id IN ")
                .push_rows([ids()])
                .push(" ORDER BY id")
                .push(lock)
                .push(") ");
        }
        take.push("UPDATE products SET stock = stock - v.column2, updated_at = ")
            .push_bind(request.now)
            .push(" FROM (VALUES ")
            .push_rows(chunk.iter().map(|item| {
                [
                    Value::from(item.product_id.as_uuid()),
                    Value::from(item.quantity.units()),
                ]
            }))
            .push(
                ") AS v WHERE products.id = v.column1 AND products.stock >= v.column2 \
                 AND products.active",
            );
        if !lock.is_empty() {
            take.push(" AND products.id IN (SELECT id FROM locked)");
        }
        take.push(" RETURNING id, stock");
        let taken: Vec<(Uuid, i64)> = take.fetch_all(&mut *tx).await?;
        if taken.len() != chunk.len() {
            return Ok(None);
        }
        left.extend(taken);
    }
    Ok(Some(left))
}

/// Writes the order and its lines, and gives it its number (see [`Dialect::next_order_number`]).
///
/// [`Dialect::next_order_number`]: super::Dialect::next_order_number
async fn insert_order(tx: &mut Tx, order: &mut Order) -> StoreResult<()> {
    let address = order
        .shipping_address
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|error| StoreError::Backend(Box::new(error)))?;
    let insert = include_str!("queries/orders/insert.sql")
        .replace("{next_number}", tx.dialect().next_order_number);
    let (number,): (i64,) = Sql::new(insert)
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
        .fetch_one(&mut *tx)
        .await?;
    order.number = OrderNumber::new(number, order.placed_at);
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

/// How a checkout attempt takes its product locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locking {
    /// Read the cart unlocked, write the order, and lock the products last, in the statement
    /// that takes their stock: the products (one hot row in a flash sale) stay locked for that
    /// statement and the commit only, not for the whole transaction.
    Last,
    /// Lock the products when reading the cart: used after an attempt lost the race for the
    /// stock, so that the second attempt cannot lose again and refuses with the stock it finds.
    First,
}

/// What an attempt came to.
enum Attempt {
    Placed(Box<CheckoutOutcome>),
    /// Another checkout took the stock between this one's read and its update; rolled back.
    LostRace,
}

impl SqlStore {
    pub(super) async fn place_order(
        &self,
        request: &CheckoutRequest,
    ) -> StoreResult<CheckoutOutcome> {
        if let Attempt::Placed(outcome) = self.attempt_checkout(request, Locking::Last).await? {
            return Ok(*outcome);
        }
        match self.attempt_checkout(request, Locking::First).await? {
            Attempt::Placed(outcome) => Ok(*outcome),
            // The products were locked before their stock was checked: a bug, not a race.
            Attempt::LostRace => Err(StoreError::Conflict),
        }
    }

    async fn attempt_checkout(
        &self,
        request: &CheckoutRequest,
        locking: Locking,
    ) -> StoreResult<Attempt> {
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
            return Ok(Attempt::Placed(Box::new(replayed)));
        }
        let lock = match locking {
            Locking::Last => "",
            // Products are locked in id order so that concurrent checkouts cannot deadlock.
            Locking::First => dialect.lock_products,
        };
        let rows: Vec<CartLineRow> = Sql::new(format!("{LINES} ORDER BY p.id{lock}"))
            .bind(request.user_id.as_uuid())
            .fetch_all(&mut tx)
            .await?;
        let lines = rows
            .into_iter()
            .map(CartLine::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        // Coupons (see `coupons::redeem` for where its use is counted, and the lock order).
        let coupon = super::coupons::coupon_for_checkout(&mut tx, request.user_id).await?;
        // Prices and names are those just read: the order is priced as the cart showed it. The
        // stock seen here refuses what is visibly sold out without writing anything; the stock
        // update below re-checks it under the lock.
        let mut order = build_order(CheckoutInput {
            order_id: request.order_id,
            user_id: request.user_id,
            lines,
            shipping_address: request.shipping_address.clone(),
            tax_rate: request.tax_rate,
            now: request.now,
            coupon: coupon.clone(),
            shipping: request.shipping_method.clone(),
        })?;
        insert_order(&mut tx, &mut order).await?;
        // Shipping: what delivery costs, priced by `build_order` (no lock of its own).
        super::shipping::record_shipping(&mut tx, &order).await?;
        record_ledger(&mut tx, &order, request).await?;
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
        // Lock order: user, coupon, then the products, last.
        super::coupons::redeem(&mut tx, coupon.as_ref(), &order).await?;
        let Some(left) = take_stock(&mut tx, &order, request).await? else {
            tx.rollback().await?;
            return Ok(Attempt::LostRace);
        };
        // Only a sale that crosses the threshold writes here, while the products are locked.
        let stock_low = stock_low_events(&order, &left, request.low_stock_threshold, request.now);
        insert_events(&mut tx, &stock_low).await?;
        tx.commit().await?;
        Ok(Attempt::Placed(Box::new(CheckoutOutcome {
            order,
            replayed: false,
        })))
    }
}
