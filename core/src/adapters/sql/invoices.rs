//! [`InvoiceStore`]: invoices, their per-year numbering, and what an invoice prints of an order.

use super::{Sql, SqlStore, Tx, orders::order_in, outbox::insert_events};
use crate::{
    domain::OrderId,
    ports::{InvoiceOrder, InvoiceOrderLine, InvoiceRecord, InvoiceStore, NewInvoice, StoreResult},
};
use async_trait::async_trait;

pub(super) async fn number_of(tx: &mut Tx, order_id: OrderId) -> StoreResult<Option<String>> {
    let found: Option<(String,)> =
        Sql::new("SELECT invoice_number FROM invoices WHERE order_id = $1")
            .bind(order_id.as_uuid())
            .fetch_optional(tx)
            .await?;
    Ok(found.map(|(number,)| number))
}

/// The order as its invoice prints it, with its customer's name and address.
pub(super) async fn order(tx: &mut Tx, order_id: OrderId) -> StoreResult<Option<InvoiceOrder>> {
    let Some(order) = order_in(tx, order_id).await? else {
        return Ok(None);
    };
    let (email, full_name): (String, String) =
        Sql::new("SELECT email, full_name FROM users WHERE id = $1")
            .bind(order.user_id.as_uuid())
            .fetch_one(tx)
            .await?;
    Ok(Some(InvoiceOrder {
        order_number: order.number.to_string(),
        currency: order.total.currency().code().to_owned(),
        subtotal_minor: order.subtotal.amount_minor(),
        tax_minor: order.tax.amount_minor(),
        total_minor: order.total.amount_minor(),
        discount_minor: order.discount.amount_minor(),
        coupon_code: order.coupon_code,
        shipping_address: order.shipping_address,
        placed_at: order.placed_at,
        email,
        full_name,
        lines: order
            .items
            .into_iter()
            .map(|item| InvoiceOrderLine {
                sku: item.sku,
                name: item.name,
                quantity: item.quantity.units(),
                unit_price_minor: item.unit_price.amount_minor(),
                line_total_minor: item.line_total.amount_minor(),
            })
            .collect(),
    }))
}

pub(super) async fn next_number(tx: &mut Tx, year: i32) -> StoreResult<i64> {
    let (number,): (i64,) = Sql::new(include_str!("queries/workers/next_invoice_number.sql"))
        .bind(i64::from(year))
        .fetch_one(tx)
        .await?;
    Ok(number)
}

pub(super) async fn insert(tx: &mut Tx, invoice: &NewInvoice) -> StoreResult<()> {
    Sql::new(include_str!("queries/workers/insert_invoice.sql"))
        .bind(invoice.order_id.as_uuid())
        .bind(invoice.invoice_number.as_str())
        .bind(invoice.location.as_str())
        .bind(invoice.size_bytes)
        .bind(invoice.created_at)
        .execute(&mut *tx)
        .await?;
    insert_events(tx, std::slice::from_ref(&invoice.event)).await
}

#[async_trait]
impl InvoiceStore for SqlStore {
    async fn find_invoice(&self, order_id: OrderId) -> StoreResult<Option<InvoiceRecord>> {
        let found: Option<(String, String, i64)> = Sql::new(
            "SELECT invoice_number, location, size_bytes FROM invoices WHERE order_id = $1",
        )
        .bind(order_id.as_uuid())
        .fetch_optional(&self.db)
        .await?;
        Ok(
            found.map(|(invoice_number, location, size_bytes)| InvoiceRecord {
                invoice_number,
                location,
                size_bytes,
            }),
        )
    }
}
