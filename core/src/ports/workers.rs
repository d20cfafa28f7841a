//! What the workers record, as ports: which events each worker has processed (and, in the same
//! transaction, what handling them changed), in-app notifications and their webhook deliveries,
//! invoices, and the analytics aggregates. The tables live in the shop's database; the SQL
//! adapter implements these next to the shop's own ports.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::StoreResult;
use crate::domain::{AddressSnapshot, OrderId, OutboxEvent};

/// One in-app notification, as the REST API lists it and the webhooks receive it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Notification {
    /// UUIDv7: later notifications have greater ids.
    pub id: String,
    /// Whom it is for.
    pub user_id: String,
    /// `order_placed`, `order_paid`, `order_status_changed`, `order_cancelled`, `payment_failed`.
    pub kind: String,
    pub title: String,
    pub body: String,
    /// What it is about, e.g. `{"order_id": "…"}`.
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// When its owner marked it read; `None` while unread.
    pub read_at: Option<DateTime<Utc>>,
}

/// One page of a user's notifications, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    /// The id to pass as `before` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// Which of a user's notifications to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationQuery {
    pub user_id: String,
    pub unread_only: bool,
    /// Only notifications older than this one (a previous page's `next_cursor`).
    pub before: Option<String>,
    /// 1 to 100.
    pub limit: u32,
}

/// A stored invoice, as the download route reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRecord {
    pub invoice_number: String,
    pub location: String,
    pub size_bytes: i64,
}

/// What an invoice prints of an order and its customer.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceOrder {
    /// The readable order number (`SO-2026-000123`).
    pub order_number: String,
    pub currency: String,
    pub subtotal_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    /// Taken off the subtotal before tax by `coupon_code` (0 without a coupon).
    pub discount_minor: i64,
    pub coupon_code: Option<String>,
    pub shipping_address: Option<AddressSnapshot>,
    pub placed_at: DateTime<Utc>,
    pub email: String,
    pub full_name: String,
    pub lines: Vec<InvoiceOrderLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceOrderLine {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub line_total_minor: i64,
}

/// An invoice just issued, recorded with the event that announces it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInvoice {
    pub order_id: OrderId,
    pub invoice_number: String,
    pub location: String,
    pub size_bytes: i64,
    pub created_at: DateTime<Utc>,
    /// `InvoiceCreated`, for the email worker.
    pub event: OutboxEvent,
}

/// One event as the analytics worker keeps it, and what it adds to the aggregates of `day`.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsEvent {
    pub event_id: String,
    pub event_type: String,
    pub subject: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
    /// The UTC day whose aggregates it counts in.
    pub day: NaiveDate,
    pub effect: AnalyticsEffect,
}

/// What one event adds to the aggregates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalyticsEffect {
    /// An order placed: sales, products and the funnel's last stage.
    Order {
        user_id: String,
        currency: String,
        total_minor: i64,
        lines: Vec<ProductSales>,
    },
    /// A product view, by a signed-in user or not.
    View { user_id: Option<String> },
    /// A cart update that adds or keeps a line.
    Cart { user_id: String },
    /// Kept as an event only.
    None,
}

/// Units and revenue of one product in one currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct ProductSales {
    pub product_id: String,
    pub sku: String,
    pub currency: String,
    pub units: i64,
    pub revenue_minor: i64,
}

/// Orders placed and their totals on one day, in one currency.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DailySales {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub currency: String,
    pub orders: i64,
    pub revenue_minor: i64,
}

/// Product views → cart updates (adding or keeping a line) → orders placed on one day, as
/// events and as distinct signed-in users.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct FunnelDay {
    pub product_views: i64,
    pub viewers: i64,
    pub cart_updates: i64,
    pub cart_users: i64,
    pub orders: i64,
    pub buyers: i64,
}

/// The aggregates of a range of days, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalyticsFigures {
    /// By day, then currency.
    pub sales: Vec<DailySales>,
    /// Best sellers by units, then revenue.
    pub top_products: Vec<ProductSales>,
    /// Days (`YYYY-MM-DD`) that had any funnel event.
    pub funnel: Vec<(String, FunnelDay)>,
}

/// The handling of one event by one worker: a transaction that already holds the record that
/// the event was processed. What the handler changes goes through it and commits with that
/// record, or (dropped without [`EventWork::commit`]) not at all.
#[async_trait]
pub trait EventWork: Send {
    /// Stores the notification the event made.
    async fn insert_notification(
        &mut self,
        event_id: &str,
        notification: &Notification,
    ) -> StoreResult<()>;

    /// The number of the order's invoice, if it has one.
    async fn invoice_number(&mut self, order_id: OrderId) -> StoreResult<Option<String>>;
    /// The order as its invoice prints it; `None` when there is no such order.
    async fn invoice_order(&mut self, order_id: OrderId) -> StoreResult<Option<InvoiceOrder>>;
    /// The next invoice number of `year` (1, 2, …): the counter stays locked until the
    /// transaction ends, so numbers are issued without gaps.
    async fn next_invoice_number(&mut self, year: i32) -> StoreResult<i64>;
    /// Records the invoice and writes its event to the outbox.
    async fn insert_invoice(&mut self, invoice: &NewInvoice) -> StoreResult<()>;

    /// Keeps the event (once per event id) and adds it to the aggregates.
    async fn record_analytics(&mut self, event: &AnalyticsEvent) -> StoreResult<()>;

    /// Commits the changes and the processed record together.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// Which events each worker has processed (`processed_messages`).
#[async_trait]
pub trait ProcessedMessages: Send + Sync {
    /// Starts the handling of `event_id` by `consumer` and records it as processed; `None` when
    /// it was processed before (the caller does nothing). Two deliveries handled at once cannot
    /// both claim the event: on Postgres the second waits for the first transaction and then
    /// finds its record; on SQLite writers are serialised.
    async fn claim(
        &self,
        consumer: &str,
        event_id: &str,
    ) -> StoreResult<Option<Box<dyn EventWork>>>;
    async fn is_processed(&self, consumer: &str, event_id: &str) -> StoreResult<bool>;
}

/// In-app notifications (written through [`EventWork::insert_notification`]) and the webhook
/// deliveries made for them.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// The notification an event made, if any.
    async fn notification_of_event(&self, event_id: &str) -> StoreResult<Option<Notification>>;
    /// Newest first, with the cursor of the next page.
    async fn list_notifications(&self, query: &NotificationQuery) -> StoreResult<NotificationPage>;
    /// Marks `id` read at `at` if it is `user_id`'s (a second time keeps the first time) and
    /// returns it; `None` when that user has no such notification.
    async fn mark_notification_read(
        &self,
        user_id: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Notification>>;
    /// The URLs that have received `event_id`'s notification.
    async fn delivered_webhooks(&self, event_id: &str) -> StoreResult<Vec<String>>;
    /// Records that `url` received `event_id`'s notification (again is harmless).
    async fn record_webhook_delivery(
        &self,
        event_id: &str,
        url: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// Issued invoices (written through [`EventWork::insert_invoice`]).
#[async_trait]
pub trait InvoiceStore: Send + Sync {
    async fn find_invoice(&self, order_id: OrderId) -> StoreResult<Option<InvoiceRecord>>;
}

/// Where the invoice worker keeps the PDFs (a folder or a bucket), read back by the location it
/// recorded.
#[async_trait]
pub trait InvoiceFiles: std::fmt::Debug + Send + Sync + 'static {
    /// The bytes stored at `location`. The email worker takes an error as transient: the event
    /// is retried, and dead-lettered after the delivery limit.
    async fn fetch(
        &self,
        location: &str,
    ) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>>;
}

/// The analytics aggregates (written through [`EventWork::record_analytics`]).
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// The aggregates from `first` to `last` (both included), with the `top` best sellers.
    async fn analytics(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        top: u32,
    ) -> StoreResult<AnalyticsFigures>;
}
