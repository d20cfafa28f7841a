//! The invoice worker: on `dev.shop.order.paid.v1` it renders the order's PDF invoice, stores it
//! ([`InvoiceStore`]), and in one transaction allocates the invoice number (sequential per year,
//! `INV-2026-000001`), records the invoice (`invoices`, one per order), writes
//! `dev.shop.invoice.created.v1` to the outbox for the email worker, and records the event as
//! processed. A repeated `OrderPaid` finds the invoice (or its processed record) and does nothing.
//!
//! The PDF is stored before the transaction commits: if the commit fails, the number goes back
//! to the sequence and the orphan file is overwritten by the next invoice given that number.

pub mod pdf;

pub use shop_core::adapters::invoice_files::{
    BUCKET_VAR, DEFAULT_DIR, DIR_VAR, ENDPOINT_VAR, InvoiceReader, InvoiceStore,
};

use async_trait::async_trait;
use chrono::{Datelike as _, Utc};
use serde::Deserialize;
use shop_core::{
    app::WorkerData,
    config::InvoiceSettings,
    domain::{OrderId, UserId, events::DomainEvent, money::Currency},
    messaging::{CloudEvent, WorkerKind},
    ports::{NewInvoice, StoreError},
};

use crate::handler::{Handler, HandlerError, claim, payload};
use pdf::{InvoiceDocument, InvoiceLine};

/// The event that makes an invoice.
pub const ORDER_PAID: &str = "dev.shop.order.paid.v1";
/// The event written when an invoice was made.
pub const INVOICE_CREATED: &str = "dev.shop.invoice.created.v1";
/// The seller printed on invoices: lines separated by `|`.
pub const SELLER_VAR: &str = "SHOP_INVOICE_SELLER";
pub const DEFAULT_SELLER: &str = shop_core::config::DEFAULT_SELLER;

/// The invoice worker's handler.
#[derive(Debug, Clone)]
pub struct Invoices {
    data: WorkerData,
    store: InvoiceStore,
    seller: Vec<String>,
}

impl Invoices {
    /// `seller`: name and address lines printed at the top of every invoice.
    pub fn new(data: WorkerData, store: InvoiceStore, seller: Vec<String>) -> Self {
        Self {
            data,
            store,
            seller,
        }
    }

    /// The store from [`InvoiceStore::from_settings`], the seller from `SHOP_INVOICE_SELLER`.
    pub fn from_settings(data: WorkerData, settings: &InvoiceSettings) -> anyhow::Result<Self> {
        let store = InvoiceStore::from_settings(settings)?;
        Ok(Self::new(data, store, seller_lines(&settings.seller)))
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

fn retry(context: &'static str) -> impl FnOnce(StoreError) -> HandlerError {
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
        let Some(mut work) = claim(&self.data, WorkerKind::Invoice, &event.id).await? else {
            return Ok(());
        };
        if let Some(number) = work
            .invoice_number(paid.order_id)
            .await
            .map_err(retry("invoice database"))?
        {
            tracing::info!(order = %paid.order_id, %number, "invoice: the order has one already");
            return work.commit().await.map_err(retry("invoice database"));
        }
        let Some(order) = work
            .invoice_order(paid.order_id)
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
        let sequence = work
            .next_invoice_number(now.year())
            .await
            .map_err(retry("invoice numbering"))?;
        let number = invoice_number(now.year(), sequence);
        let bill_to = match &order.shipping_address {
            Some(address) => pdf::address_lines(address),
            None => vec![order.full_name.clone(), order.email.clone()],
        };
        let document = InvoiceDocument {
            seller: self.seller.clone(),
            number: number.clone(),
            issued_at: now,
            order_id: paid.order_id.to_string(),
            order_number: order.order_number.clone(),
            ordered_at: order.placed_at,
            bill_to,
            currency,
            lines: order
                .lines
                .into_iter()
                .map(|line| InvoiceLine {
                    sku: line.sku,
                    name: line.name,
                    quantity: line.quantity,
                    unit_price_minor: line.unit_price_minor,
                    line_total_minor: line.line_total_minor,
                })
                .collect(),
            subtotal_minor: order.subtotal_minor,
            adjustments: (order.discount_minor > 0)
                .then(|| {
                    let code = order.coupon_code.as_deref().unwrap_or("coupon");
                    (format!("Discount ({code})"), -order.discount_minor)
                })
                .into_iter()
                .collect(),
            tax_minor: order.tax_minor,
            total_minor: order.total_minor,
        };
        let bytes = pdf::render(&document).map_err(|error| {
            HandlerError::Reject(anyhow::Error::new(error).context("cannot render the invoice"))
        })?;
        let size_bytes = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
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
        work.insert_invoice(&NewInvoice {
            order_id: paid.order_id,
            invoice_number: number.clone(),
            location: location.clone(),
            size_bytes,
            created_at: now,
            event: created,
        })
        .await
        .map_err(retry("invoice database"))?;
        work.commit().await.map_err(retry("invoice database"))?;
        tracing::info!(order = %paid.order_id, %number, %location, "invoice issued");
        Ok(())
    }
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
