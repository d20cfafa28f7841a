//! The invoice worker: on `dev.shop.order.paid.v1` it renders the order's PDF invoice, stores it
//! ([`InvoiceStore`]), and in one transaction allocates the invoice number (sequential per year,
//! `INV-2026-000001`), records the invoice (`invoices`, one per order), writes
//! `dev.shop.invoice.created.v1` to the outbox for the email worker, and records the event as
//! processed. A repeated `OrderPaid` finds the invoice (or its processed record) and does nothing.
//!
//! The PDF is stored before the transaction commits: if the commit fails, the number goes back
//! to the sequence and the orphan file is overwritten by the next invoice given that number.

mod blob;
pub mod pdf;

pub use blob::{BUCKET_VAR, DEFAULT_DIR, DIR_VAR, ENDPOINT_VAR, InvoiceStore};

use async_trait::async_trait;
use chrono::{DateTime, Datelike as _, Utc};
use serde::Deserialize;
use shop_core::{
    domain::{AddressSnapshot, OrderId, UserId, events::DomainEvent, money::Currency},
    messaging::{CloudEvent, WorkerKind},
};
use sqlx::types::Json;

use crate::{
    handler::{Handler, HandlerError, payload},
    on_backend,
    store::{Db, Tx},
};
use pdf::{InvoiceDocument, InvoiceLine};

/// The event that makes an invoice.
pub const ORDER_PAID: &str = "dev.shop.order.paid.v1";
/// The event written when an invoice was made.
pub const INVOICE_CREATED: &str = "dev.shop.invoice.created.v1";
/// The seller printed on invoices: lines separated by `|`.
pub const SELLER_VAR: &str = "SHOP_INVOICE_SELLER";
pub const DEFAULT_SELLER: &str = "Shop|1 Commerce Way|Springfield, IL 62701|United States";

/// The invoice worker's handler.
#[derive(Debug, Clone)]
pub struct Invoices {
    db: Db,
    store: InvoiceStore,
    seller: Vec<String>,
}

impl Invoices {
    /// `seller`: name and address lines printed at the top of every invoice.
    pub fn new(db: Db, store: InvoiceStore, seller: Vec<String>) -> Self {
        Self { db, store, seller }
    }

    /// The store from [`InvoiceStore::from_env`], the seller from `SHOP_INVOICE_SELLER`.
    pub fn from_env(db: Db) -> anyhow::Result<Self> {
        let store = InvoiceStore::from_env()?;
        let seller = std::env::var(SELLER_VAR)
            .ok()
            .filter(|value| !value.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SELLER.to_owned());
        Ok(Self::new(db, store, seller_lines(&seller)))
    }

    pub fn store(&self) -> &InvoiceStore {
        &self.store
    }
}

/// `A|B|C` → lines `A`, `B`, `C` (blank ones dropped).
pub fn seller_lines(raw: &str) -> Vec<String> {
    raw.split('|')
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `INV-<year>-<number, at least 6 digits>`.
pub fn invoice_number(year: i32, number: i64) -> String {
    format!("INV-{year}-{number:06}")
}

#[derive(Debug, Deserialize)]
struct OrderPaid {
    order_id: OrderId,
    user_id: UserId,
}

fn retry(context: &'static str) -> impl FnOnce(sqlx::Error) -> HandlerError {
    move |error| HandlerError::Retry(anyhow::Error::new(error).context(context))
}

#[async_trait]
impl Handler for Invoices {
    fn kind(&self) -> WorkerKind {
        WorkerKind::Invoice
    }

    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type != ORDER_PAID {
            return Ok(());
        }
        let paid: OrderPaid = payload(event)?;
        let Some(mut claim) = self
            .db
            .claim(WorkerKind::Invoice.name(), &event.id)
            .await
            .map_err(retry("invoice database"))?
        else {
            tracing::debug!(id = %event.id, "invoice: duplicate event skipped");
            return Ok(());
        };
        let tx = claim.tx();
        if let Some(number) = existing_invoice(tx, paid.order_id)
            .await
            .map_err(retry("invoice database"))?
        {
            tracing::info!(order = %paid.order_id, %number, "invoice: the order has one already");
            return claim.commit().await.map_err(retry("invoice database"));
        }
        let Some(order) = load_order(tx, paid.order_id)
            .await
            .map_err(retry("invoice database"))?
        else {
            return Err(HandlerError::Reject(anyhow::anyhow!(
                "order {} of event {} does not exist",
                paid.order_id,
                event.id
            )));
        };
        let currency = Currency::parse(&order.currency).map_err(|error| {
            HandlerError::Reject(anyhow::anyhow!(
                "order {} has currency {:?}: {error}",
                paid.order_id,
                order.currency
            ))
        })?;
        let now = Utc::now();
        let number = next_number(tx, now.year())
            .await
            .map_err(retry("invoice numbering"))?;
        let bill_to = match &order.address {
            Some(Json(address)) => pdf::address_lines(address),
            None => vec![order.full_name.clone(), order.email.clone()],
        };
        let document = InvoiceDocument {
            seller: self.seller.clone(),
            number: number.clone(),
            issued_at: now,
            order_id: paid.order_id.to_string(),
            ordered_at: order.placed_at,
            bill_to,
            currency,
            lines: order.lines,
            subtotal_minor: order.subtotal_minor,
            tax_minor: order.tax_minor,
            total_minor: order.total_minor,
        };
        let bytes = pdf::render(&document).map_err(|error| {
            HandlerError::Reject(anyhow::Error::new(error).context("cannot render the invoice"))
        })?;
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let location = self
            .store
            .put(&number, bytes)
            .await
            .map_err(HandlerError::Retry)?;
        let created = DomainEvent::InvoiceCreated {
            order_id: paid.order_id,
            user_id: paid.user_id,
            invoice_number: number.clone(),
            location: location.clone(),
        }
        .into_outbox(now);
        record(
            claim.tx(),
            paid.order_id,
            &number,
            &location,
            size,
            now,
            &created,
        )
        .await
        .map_err(retry("invoice database"))?;
        claim.commit().await.map_err(retry("invoice database"))?;
        tracing::info!(order = %paid.order_id, %number, %location, "invoice issued");
        Ok(())
    }
}

async fn existing_invoice(tx: &mut Tx, order: OrderId) -> Result<Option<String>, sqlx::Error> {
    let found: Option<(String,)> = on_backend!(tx, conn => sqlx::query_as(
        "SELECT invoice_number FROM invoices WHERE order_id = $1",
    )
    .bind(order.as_uuid())
    .fetch_optional(conn)
    .await)?;
    Ok(found.map(|(number,)| number))
}

/// What the invoice prints of an order.
#[derive(Debug)]
struct OrderFacts {
    currency: String,
    subtotal_minor: i64,
    tax_minor: i64,
    total_minor: i64,
    address: Option<Json<AddressSnapshot>>,
    placed_at: DateTime<Utc>,
    email: String,
    full_name: String,
    lines: Vec<InvoiceLine>,
}

type OrderRow = (
    String,
    i64,
    i64,
    i64,
    Option<Json<AddressSnapshot>>,
    DateTime<Utc>,
    String,
    String,
);

async fn load_order(tx: &mut Tx, order: OrderId) -> Result<Option<OrderFacts>, sqlx::Error> {
    let row: Option<OrderRow> = on_backend!(&mut *tx, conn => sqlx::query_as(
        "SELECT o.currency, o.subtotal_minor, o.tax_minor, o.total_minor, o.shipping_address, \
                o.placed_at, u.email, u.full_name \
         FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1",
    )
    .bind(order.as_uuid())
    .fetch_optional(conn)
    .await)?;
    let Some((
        currency,
        subtotal_minor,
        tax_minor,
        total_minor,
        address,
        placed_at,
        email,
        full_name,
    )) = row
    else {
        return Ok(None);
    };
    let lines: Vec<(String, String, i64, i64, i64)> = on_backend!(&mut *tx, conn => sqlx::query_as(
        "SELECT sku, name, quantity, unit_price_minor, line_total_minor FROM order_items \
         WHERE order_id = $1 ORDER BY line_no",
    )
    .bind(order.as_uuid())
    .fetch_all(conn)
    .await)?;
    Ok(Some(OrderFacts {
        currency,
        subtotal_minor,
        tax_minor,
        total_minor,
        address,
        placed_at,
        email,
        full_name,
        lines: lines
            .into_iter()
            .map(
                |(sku, name, quantity, unit_price_minor, line_total_minor)| InvoiceLine {
                    sku,
                    name,
                    quantity,
                    unit_price_minor,
                    line_total_minor,
                },
            )
            .collect(),
    }))
}

/// The next invoice number of `year`, taken in `tx` (the row stays locked until it ends, so
/// numbers are issued one transaction at a time and without gaps).
async fn next_number(tx: &mut Tx, year: i32) -> Result<String, sqlx::Error> {
    let (number,): (i64,) = on_backend!(tx, conn => sqlx::query_as(
        "INSERT INTO invoice_sequences (year, last_number) VALUES ($1, 1) \
         ON CONFLICT (year) DO UPDATE SET last_number = invoice_sequences.last_number + 1 \
         RETURNING last_number",
    )
    .bind(i64::from(year))
    .fetch_one(conn)
    .await)?;
    Ok(invoice_number(year, number))
}

async fn record(
    tx: &mut Tx,
    order: OrderId,
    number: &str,
    location: &str,
    size: i64,
    now: DateTime<Utc>,
    created: &shop_core::domain::events::OutboxEvent,
) -> Result<(), sqlx::Error> {
    on_backend!(&mut *tx, conn => sqlx::query(
        "INSERT INTO invoices (order_id, invoice_number, location, size_bytes, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(order.as_uuid())
    .bind(number)
    .bind(location)
    .bind(size)
    .bind(now)
    .execute(conn)
    .await
    .map(|done| done.rows_affected()))?;
    on_backend!(&mut *tx, conn => sqlx::query(
        "INSERT INTO outbox (id, event_type, subject, payload, occurred_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(created.id.as_uuid())
    .bind(&created.event_type)
    .bind(&created.subject)
    .bind(Json(&created.payload))
    .bind(created.occurred_at)
    .execute(conn)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(())
}

/// A stored invoice, as the download route reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub invoice_number: String,
    pub location: String,
    pub size_bytes: i64,
}

/// The invoice of `order`, if one was issued.
pub async fn find(db: &Db, order: OrderId) -> Result<Option<InvoiceRecord>, sqlx::Error> {
    let found: Option<(String, String, i64)> = on_backend!(pool db, conn => sqlx::query_as(
        "SELECT invoice_number, location, size_bytes FROM invoices WHERE order_id = $1",
    )
    .bind(order.as_uuid())
    .fetch_optional(conn)
    .await)?;
    Ok(
        found.map(|(invoice_number, location, size_bytes)| InvoiceRecord {
            invoice_number,
            location,
            size_bytes,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_zero_padded_per_year() {
        assert_eq!(invoice_number(2026, 1), "INV-2026-000001");
        assert_eq!(invoice_number(2027, 1_234_567), "INV-2027-1234567");
    }

    #[test]
    fn seller_lines_split_on_bars() {
        assert_eq!(seller_lines(" A | |B"), vec!["A", "B"]);
    }
}
