//! [`ProcessedMessages`]: a worker's handling of one event as one transaction ([`SqlWork`]) that
//! starts by recording the event as processed, so the handler's changes and that record commit
//! together.

use async_trait::async_trait;
use chrono::Utc;

use super::{Sql, SqlStore, Tx, analytics, invoices, notifications};
use crate::{
    domain::OrderId,
    ports::{
        AnalyticsEvent, EventWork, InvoiceOrder, NewInvoice, Notification, ProcessedMessages,
        StoreResult,
    },
};

/// The transaction of one event's handling; dropping it rolls back.
#[derive(Debug)]
struct SqlWork {
    tx: Tx,
}

#[async_trait]
impl EventWork for SqlWork {
    async fn insert_notification(
        &mut self,
        event_id: &str,
        notification: &Notification,
    ) -> StoreResult<()> {
        notifications::insert(&mut self.tx, event_id, notification).await
    }

    async fn invoice_number(&mut self, order_id: OrderId) -> StoreResult<Option<String>> {
        invoices::number_of(&mut self.tx, order_id).await
    }

    async fn invoice_order(&mut self, order_id: OrderId) -> StoreResult<Option<InvoiceOrder>> {
        invoices::order(&mut self.tx, order_id).await
    }

    async fn next_invoice_number(&mut self, year: i32) -> StoreResult<i64> {
        invoices::next_number(&mut self.tx, year).await
    }

    async fn insert_invoice(&mut self, invoice: &NewInvoice) -> StoreResult<()> {
        invoices::insert(&mut self.tx, invoice).await
    }

    async fn record_analytics(&mut self, event: &AnalyticsEvent) -> StoreResult<()> {
        analytics::record(&mut self.tx, event).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await
    }
}

#[async_trait]
impl ProcessedMessages for SqlStore {
    async fn claim(
        &self,
        consumer: &str,
        event_id: &str,
    ) -> StoreResult<Option<Box<dyn EventWork>>> {
        // The record is written first, inside the transaction: the handler's changes are
        // committed with it, or neither is.
        let mut tx = self.db.begin().await?;
        let inserted = Sql::new(include_str!("queries/workers/claim.sql"))
            .bind(consumer)
            .bind(event_id)
            .bind(Utc::now())
            .execute(&mut tx)
            .await?;
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        Ok(Some(Box::new(SqlWork { tx })))
    }

    async fn is_processed(&self, consumer: &str, event_id: &str) -> StoreResult<bool> {
        let found: Option<(String,)> = Sql::new(
            "SELECT event_id FROM processed_messages WHERE consumer = $1 AND event_id = $2",
        )
        .bind(consumer)
        .bind(event_id)
        .fetch_optional(&self.db)
        .await?;
        Ok(found.is_some())
    }
}
