//! What the application layer needs from the outside world, as traits. Adapters implement them
//! (`adapters::postgres`, `adapters::sqlite`); the same contract tests run against each.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    Address, AddressId, AddressSnapshot, CartItemId, CartLine, Category, CategoryId, Email, Order,
    OrderId, OrderNumber, OrderStatus, OutboxEvent, Payment, Product, ProductId, Quantity, Refund,
    Slug, TaxRate, User, UserId, checkout::CheckoutError,
};
use crate::messaging::CloudEvent;

mod account_tokens;
mod coupons;
mod images;
mod payments;
mod shipping;
mod workers;

pub use coupons::CouponStore;
pub use shipping::ShippingStore;

pub use account_tokens::{AccountToken, AccountTokenStore, TokenPurpose};
pub use images::{AddedImage, BlobError, ImageFiles, ProductDeletion, ProductImageStore};

pub use payments::{
    NotificationError, NotificationStatus, PaymentCustomer, PaymentEffect, PaymentItem,
    PaymentNotification, PaymentOutcome, PaymentProvider, PaymentRequest, PaymentSession,
    PaymentStore, ProviderError, ProviderEvent, ProviderKind, ProviderSecret, RawNotification,
    RefundReceipt, RefundRequest, StoredPaymentSession,
};
pub use workers::{
    AnalyticsEffect, AnalyticsEvent, AnalyticsFigures, AnalyticsStore, DailySales, EventWork,
    FunnelDay, InvoiceFiles, InvoiceOrder, InvoiceOrderLine, InvoiceRecord, InvoiceStore,
    NewInvoice, Notification, NotificationPage, NotificationQuery, NotificationStore,
    ProcessedMessages, ProductSales,
};

/// Why storage refused or failed an operation. Backend details stay inside `Backend` and are
/// logged, never shown to users.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{field} is already taken")]
    Duplicate { field: &'static str },
    #[error(transparent)]
    Checkout(#[from] CheckoutError),
    #[error("only {available} units in stock")]
    InsufficientStock { available: i64 },
    #[error("the idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("the record was changed by someone else meanwhile")]
    Conflict,
    #[error("storage failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProductSort {
    #[default]
    Newest,
    PriceAsc,
    PriceDesc,
    NameAsc,
}

/// Where the previous page ended, as the sort key of its last row plus the id as tie-breaker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ProductAfter {
    Newest(ProductId),
    Price(i64, ProductId),
    Name(String, ProductId),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    /// This category and every category below it.
    pub category: Option<CategoryId>,
    pub min_price_minor: Option<i64>,
    pub max_price_minor: Option<i64>,
    pub in_stock_only: bool,
    pub include_inactive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductQuery {
    pub filter: ProductFilter,
    pub sort: ProductSort,
    pub after: Option<ProductAfter>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Words to find, already split and stripped of query syntax.
    pub terms: Vec<String>,
    pub include_inactive: bool,
    pub offset: u32,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQuery {
    pub user_id: Option<UserId>,
    pub status: Option<OrderStatus>,
    /// Only the order with this number (year and sequential part both match).
    pub number: Option<OrderNumber>,
    pub after: Option<OrderId>,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub order_id: OrderId,
    pub user_id: UserId,
    pub idempotency_key: String,
    /// Digest of the request the key was first used with; a different request under the same key
    /// is refused instead of replayed.
    pub fingerprint: String,
    pub shipping_address: Option<AddressSnapshot>,
    /// The shipping method the customer chose (priced in the checkout transaction).
    pub shipping_method: Option<crate::domain::ShippingMethod>,
    pub tax_rate: TaxRate,
    pub now: DateTime<Utc>,
    /// A product whose stock ends at or below this after the sale gets a `StockLow` event.
    pub low_stock_threshold: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutOutcome {
    pub order: Order,
    /// The key had been used before: this is the order it created then.
    pub replayed: bool,
}

/// An order status change, applied only if the order is still in `from` (optimistic locking).
#[derive(Debug, Clone)]
pub struct OrderTransition {
    pub order_id: OrderId,
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub actor: Option<UserId>,
    pub at: DateTime<Utc>,
    pub events: Vec<OutboxEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    pub actor: Option<UserId>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct StockAdjustment {
    pub product_id: ProductId,
    pub delta: i64,
    pub reason: String,
    pub actor: Option<UserId>,
    pub at: DateTime<Utc>,
}

/// Sales per day and best sellers, for the admin dashboard.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SalesStats {
    pub days: Vec<DaySales>,
    pub top_products: Vec<TopProduct>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct DaySales {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub currency: String,
    /// Orders placed that day, whatever became of them.
    pub orders: i64,
    /// Totals of the day's orders that were paid and not cancelled or refunded.
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct TopProduct {
    pub product_id: uuid::Uuid,
    pub sku: String,
    pub name: String,
    pub currency: String,
    pub units: i64,
    pub revenue_minor: i64,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Fails with `Duplicate { field: "email" }` when the e-mail is taken.
    async fn insert_user(&self, user: &User, events: &[OutboxEvent]) -> StoreResult<()>;
    async fn get_user(&self, id: UserId) -> StoreResult<Option<User>>;
    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    /// Newest first, after `after`.
    async fn list_users(&self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<User>>;
    async fn count_users(&self) -> StoreResult<u64>;

    /// Marking an address default clears the flag on the user's other addresses.
    async fn insert_address(&self, address: &Address) -> StoreResult<()>;
    async fn update_address(&self, address: &Address) -> StoreResult<()>;
    /// Whether the user had such an address.
    async fn delete_address(&self, user_id: UserId, id: AddressId) -> StoreResult<bool>;
    async fn get_address(&self, user_id: UserId, id: AddressId) -> StoreResult<Option<Address>>;
    async fn list_addresses(&self, user_id: UserId) -> StoreResult<Vec<Address>>;
}

#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Fails with `Duplicate { field: "slug" }` when the slug is taken.
    async fn insert_category(&self, category: &Category) -> StoreResult<()>;
    async fn update_category(&self, category: &Category) -> StoreResult<()>;
    async fn get_category(&self, id: CategoryId) -> StoreResult<Option<Category>>;
    /// All categories, ordered by name.
    async fn list_categories(&self) -> StoreResult<Vec<Category>>;

    /// Fails with `Duplicate { field: "sku" | "slug" }`.
    async fn insert_product(&self, product: &Product) -> StoreResult<()>;
    /// Writes everything but stock, which changes only through adjustments and orders.
    async fn update_product(&self, product: &Product) -> StoreResult<()>;
    async fn get_product(&self, id: ProductId) -> StoreResult<Option<Product>>;
    async fn get_product_by_slug(&self, slug: &Slug) -> StoreResult<Option<Product>>;
    async fn list_products(&self, query: &ProductQuery) -> StoreResult<Vec<Product>>;
    /// Best matches first.
    async fn search_products(&self, query: &SearchQuery) -> StoreResult<Vec<Product>>;
    /// Applies a stock change atomically; `InsufficientStock` if it would go below zero.
    async fn adjust_stock(&self, adjustment: &StockAdjustment) -> StoreResult<Product>;
}

#[async_trait]
pub trait CartStore: Send + Sync {
    /// The user's cart, oldest line first, each with its product as it is now.
    async fn cart_lines(&self, user_id: UserId) -> StoreResult<Vec<CartLine>>;
    /// Adds `quantity` to the product's line (creating it); refuses (`Conflict`) a line that would
    /// exceed [`Quantity::MAX`]. Returns the line's new quantity.
    async fn add_to_cart(
        &self,
        user_id: UserId,
        product_id: ProductId,
        quantity: Quantity,
        at: DateTime<Utc>,
    ) -> StoreResult<Quantity>;
    /// Whether the user had such a line.
    async fn set_cart_quantity(
        &self,
        user_id: UserId,
        item_id: CartItemId,
        quantity: Quantity,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn remove_cart_item(
        &self,
        user_id: UserId,
        item_id: CartItemId,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn clear_cart(&self, user_id: UserId) -> StoreResult<()>;
}

#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Turns the user's cart into an order in one transaction: stock is decremented under lock,
    /// prices are snapshotted, the cart is cleared, `OrderPlaced` goes to the outbox and the
    /// idempotency key is recorded. A key seen before returns the order it created.
    async fn checkout(&self, request: &CheckoutRequest) -> StoreResult<CheckoutOutcome>;
    async fn get_order(&self, id: OrderId) -> StoreResult<Option<Order>>;
    /// Newest first.
    async fn list_orders(&self, query: &OrderQuery) -> StoreResult<Vec<Order>>;
    /// Applies the transition if the order is still in `from`, else `Conflict`. Entering a status
    /// that returns stock puts the items back on the shelf in the same transaction.
    async fn transition_order(&self, transition: &OrderTransition) -> StoreResult<Order>;
    async fn status_history(&self, id: OrderId) -> StoreResult<Vec<StatusChange>>;
    /// Sales since `since` (per UTC day and currency) and the `top` products by units sold.
    async fn sales_stats(&self, since: DateTime<Utc>, top: u32) -> StoreResult<SalesStats>;

    /// Records a payment and, in the same transaction, the transition it causes.
    /// `Duplicate { field: "reference" }` when the provider reference was recorded before.
    async fn record_payment(
        &self,
        payment: &Payment,
        transition: Option<&OrderTransition>,
        events: &[OutboxEvent],
    ) -> StoreResult<()>;
    async fn find_payment(&self, provider: &str, reference: &str) -> StoreResult<Option<Payment>>;
    async fn list_payments(&self, order_id: OrderId) -> StoreResult<Vec<Payment>>;
}

/// A refund to store, with what it does to the order, in one transaction.
#[derive(Debug, Clone)]
pub struct RefundWrite {
    pub refund: Refund,
    /// The order's refunded total (minor units) the refund was computed against: if other refunds
    /// were recorded meanwhile the write is refused with `Conflict`, so two refunds can never
    /// together exceed what was paid.
    pub refunded_before: i64,
    /// To `refunded`, when this refund completes the order's.
    pub transition: Option<OrderTransition>,
    /// Put every item of the order back into stock (with a stock movement per line).
    pub restock: bool,
    pub events: Vec<OutboxEvent>,
}

/// Cancels orders whose payment time ran out.
pub struct OrderExpiry<'a> {
    /// Orders placed before this that are still `pending_payment`.
    pub placed_before: DateTime<Utc>,
    pub limit: u32,
    pub at: DateTime<Utc>,
    /// The events of one expired order (`order_id`, `user_id`).
    pub events: &'a (dyn Fn(OrderId, UserId) -> Vec<OutboxEvent> + Send + Sync),
}

impl std::fmt::Debug for OrderExpiry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderExpiry")
            .field("placed_before", &self.placed_before)
            .field("limit", &self.limit)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait RefundStore: Send + Sync {
    /// Records the refund, completing its reservation (same id, still pending) when there is
    /// one, else inserting it. `Duplicate { field: "sequence" }` when the order already has a
    /// refund with this sequence number, `Duplicate { field: "refund_key" }` when the order
    /// has a refund with this key (for a reservation: it was completed meanwhile),
    /// `Duplicate { field: "provider_reference" }` when the provider's refund was recorded
    /// before, `Conflict` when the order's refunded total (its other refunds, pending ones
    /// included) is no longer `refunded_before` or its status is not the transition's `from`.
    async fn record_refund(&self, write: &RefundWrite) -> StoreResult<()>;
    /// Reserves `refund` (which is `pending`) before the provider is asked: it counts in the
    /// order's refunded total, so a concurrent refund or a provider notification of this very
    /// refund sees it. Errors as `record_refund`.
    async fn reserve_refund(&self, refund: &Refund, refunded_before: i64) -> StoreResult<()>;
    /// Drops a reservation the provider refused (nothing if it is no longer pending).
    async fn release_refund(&self, id: crate::domain::RefundId) -> StoreResult<()>;
    /// Oldest first.
    async fn list_refunds(&self, order_id: OrderId) -> StoreResult<Vec<Refund>>;
    async fn find_refund(&self, provider: &str, reference: &str) -> StoreResult<Option<Refund>>;
    /// Cancels up to `limit` of the oldest expired orders, returns their stock and writes their
    /// status change and events, in one transaction. Concurrent callers take disjoint orders
    /// (Postgres: `FOR UPDATE SKIP LOCKED`; SQLite: one writer at a time), and the change is
    /// conditional on `pending_payment`, so a payment that commits first keeps its order.
    /// Returns the orders cancelled.
    async fn expire_unpaid_orders(&self, expiry: &OrderExpiry<'_>) -> StoreResult<Vec<OrderId>>;
}

/// The outbox: events written with the changes they report, published later by the relay.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Unpublished events, oldest first.
    async fn pending_events(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>>;
    /// How many events wait to be published (the relay's backlog).
    async fn pending_count(&self) -> StoreResult<u64>;
    /// When the oldest event waiting to be published occurred (`None`: none waits), for the
    /// relay's age gauge.
    async fn oldest_pending_at(&self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Events that report no change of their own (product views), in one transaction.
    async fn append_events(&self, events: &[OutboxEvent]) -> StoreResult<()>;
    /// Claims up to `limit` unpublished events, oldest first, hands them to `publisher` and marks
    /// them published once it returns `Ok` (the broker confirmed them all). The claim is held for
    /// the whole publish: Postgres locks the rows (`FOR UPDATE SKIP LOCKED`, so concurrent relays
    /// take disjoint batches), SQLite holds its write lock. When publishing fails nothing is
    /// marked and each claimed event's `attempts` goes up by one. Returns how many were published
    /// (0: nothing was pending).
    async fn publish_pending(
        &self,
        limit: u32,
        publisher: &dyn EventPublisher,
    ) -> Result<usize, RelayError>;
    /// Puts published events back in the outbox (unpublished), for the relay to publish again:
    /// the embedded default's workers return the events they had not handled when they stopped,
    /// so that a restart handles them (each handler deduplicates on the event id). Waits for a
    /// relay still holding their claim. Returns how many were put back.
    async fn return_unhandled(&self, ids: &[uuid::Uuid]) -> StoreResult<u64>;
}

/// Why the broker did not take a batch of events. Nothing was marked published; the relay tries
/// again later.
#[derive(Debug, thiserror::Error)]
#[error("publishing failed: {0}")]
pub struct PublishError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl PublishError {
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}

/// Where the relay sends events: RabbitMQ, or the in-process bus of the embedded default.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// `rabbitmq` or `in-process`, for logs.
    fn backend(&self) -> &'static str;
    /// Publishes every event, returning only once the broker has confirmed each of them; an
    /// error means some may or may not have been delivered (consumers deduplicate on the id).
    async fn publish(&self, events: &[CloudEvent]) -> Result<(), PublishError>;
}

/// Why a relay step failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{count} events were not published: {source}")]
    Publish {
        count: usize,
        #[source]
        source: PublishError,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub size: u32,
    pub idle: u32,
}

/// Everything the shop and its workers store, behind one handle.
#[async_trait]
pub trait Store:
    UserStore
    + CatalogStore
    + CartStore
    + OrderStore
    + PaymentStore
    + RefundStore
    + OutboxStore
    + ProcessedMessages
    + NotificationStore
    + InvoiceStore
    + AnalyticsStore
    + CouponStore
    + ShippingStore
    + ProductImageStore
    + AccountTokenStore
{
    /// `postgres` or `sqlite`, for logs and the start-up banner.
    fn backend(&self) -> &'static str;
    /// Succeeds when the database answers a query.
    async fn ping(&self) -> StoreResult<()>;
    /// Connections open in the pool, and how many of them are idle.
    fn pool_status(&self) -> PoolStatus;
}

/// The time, injectable so that tests can pin it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Truncated to microseconds, the resolution every backend stores, so a value reads back equal.
    fn now(&self) -> DateTime<Utc> {
        use chrono::SubsecRound;
        Utc::now().trunc_subsecs(6)
    }
}

/// Why the key-value store failed. Callers decide whether to fail open (a cache) or closed.
#[derive(Debug, thiserror::Error)]
#[error("key-value store failure: {0}")]
pub struct KvError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Short-lived shared state: cache entries, rate-limit counters and refresh tokens. Redis when
/// `REDIS_URL` is set, so replicas share it; in-process on the embedded default.
#[async_trait]
pub trait KeyValueStore: Send + Sync {
    /// `redis` or `in-process`.
    fn backend(&self) -> &'static str;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    async fn set(&self, key: &str, value: &[u8], ttl: std::time::Duration) -> Result<(), KvError>;
    /// Stores only if the key is absent; whether it stored.
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: std::time::Duration,
    ) -> Result<bool, KvError>;
    /// Whether the key existed.
    async fn delete(&self, key: &str) -> Result<bool, KvError>;
    /// Reads and deletes in one step, so two callers can never both take the same value.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Adds one to a counter that expires `window` after it was created. Returns the new count
    /// and the time until the counter expires.
    async fn increment(
        &self,
        key: &str,
        window: std::time::Duration,
    ) -> Result<(u64, std::time::Duration), KvError>;
    async fn ping(&self) -> Result<(), KvError>;
}
