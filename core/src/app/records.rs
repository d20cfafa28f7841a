//! What the workers record, as the shop reads it (a customer's notifications, an order's
//! invoice) and as the workers write it ([`WorkerData`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Actor, AppError, AppResult, Shop};
use crate::{
    domain::{ImageId, Order, OrderId, ProductImage, User, UserId},
    ports::{
        EventWork, InvoiceRecord, Notification, NotificationPage, NotificationQuery, Store,
        StoreResult,
    },
};

/// Which of the caller's notifications to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListNotifications {
    pub unread_only: bool,
    /// 1 to 100.
    pub limit: u32,
    /// A previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl Shop {
    /// The signed-in user's notifications, newest first.
    pub async fn notifications(
        &self,
        actor: &Actor,
        list: ListNotifications,
    ) -> AppResult<NotificationPage> {
        let query = NotificationQuery {
            user_id: actor.user_id()?.to_string(),
            unread_only: list.unread_only,
            before: list.cursor,
            limit: list.limit,
        };
        Ok(self.store.list_notifications(&query).await?)
    }

    /// Marks one of the signed-in user's notifications read (again is harmless); another
    /// user's is not found.
    pub async fn mark_notification_read(&self, actor: &Actor, id: &str) -> AppResult<Notification> {
        let user_id = actor.user_id()?.to_string();
        self.store
            .mark_notification_read(&user_id, id, self.clock.now())
            .await?
            .ok_or(AppError::NotFound("notification"))
    }

    /// The invoice of an order the actor may see, once the invoice worker has issued it.
    pub async fn order_invoice(&self, actor: &Actor, id: OrderId) -> AppResult<InvoiceRecord> {
        let order = self.get_order(actor, id).await?;
        self.store
            .find_invoice(order.id)
            .await?
            .ok_or(AppError::NotFound("invoice"))
    }

    /// [`Self::order_invoice`] and its PDF, read from where the invoice worker stored it.
    pub async fn order_invoice_pdf(
        &self,
        actor: &Actor,
        id: OrderId,
    ) -> AppResult<(InvoiceRecord, Vec<u8>)> {
        let invoice = self.order_invoice(actor, id).await?;
        let Some(files) = &self.invoice_files else {
            return Err(AppError::Internal("no invoice files are configured".into()));
        };
        let pdf = files
            .fetch(&invoice.location)
            .await
            .map_err(AppError::Internal)?;
        Ok((invoice, pdf))
    }
}

/// The workers' way in: the shop's data a handler reads, and the transaction
/// ([`EventWork`]) that records its changes together with the fact that it handled the event.
#[derive(Clone)]
pub struct WorkerData {
    pub(super) store: Arc<dyn Store>,
}

impl std::fmt::Debug for WorkerData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerData")
            .field("backend", &self.store.backend())
            .finish()
    }
}

impl WorkerData {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Succeeds when the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        self.store.ping().await
    }

    /// Starts `consumer`'s handling of `event_id`; `None` when it handled the event before.
    pub async fn claim(
        &self,
        consumer: &str,
        event_id: &str,
    ) -> StoreResult<Option<Box<dyn EventWork>>> {
        self.store.claim(consumer, event_id).await
    }

    pub async fn is_processed(&self, consumer: &str, event_id: &str) -> StoreResult<bool> {
        self.store.is_processed(consumer, event_id).await
    }

    pub async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.store.get_user(id).await
    }

    /// Every administrator whose account is not disabled (the staff alerts go to them).
    pub async fn admins(&self) -> StoreResult<Vec<User>> {
        const PAGE: u32 = 500;
        let mut admins = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.list_users(after, PAGE).await?;
            let full = page.len() == PAGE as usize;
            after = page.last().map(|user| user.id);
            admins.extend(
                page.into_iter()
                    .filter(|user| user.role == crate::domain::Role::Admin && !user.disabled),
            );
            if !full || after.is_none() {
                return Ok(admins);
            }
        }
    }

    pub async fn order(&self, id: OrderId) -> StoreResult<Option<Order>> {
        self.store.get_order(id).await
    }

    /// A product image by id, for the media worker; `None` once deleted.
    pub async fn product_image(&self, id: ImageId) -> StoreResult<Option<ProductImage>> {
        self.store.image_by_id(id).await
    }

    /// Records that an image's variants are stored; `false` when the image was deleted meanwhile.
    pub async fn mark_image_variants_ready(&self, id: ImageId) -> StoreResult<bool> {
        self.store.mark_image_variants_ready(id).await
    }

    /// The notification an event made, if any.
    pub async fn notification_of_event(&self, event_id: &str) -> StoreResult<Option<Notification>> {
        self.store.notification_of_event(event_id).await
    }

    /// The webhook URLs that have received `event_id`'s notification.
    pub async fn delivered_webhooks(&self, event_id: &str) -> StoreResult<Vec<String>> {
        self.store.delivered_webhooks(event_id).await
    }

    pub async fn record_webhook_delivery(
        &self,
        event_id: &str,
        url: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.store.record_webhook_delivery(event_id, url, at).await
    }
}
