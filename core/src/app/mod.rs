//! The application layer: commands that change the shop and queries that read it (CQRS). Both
//! transports (REST, gRPC), the CLI and the workers go through here and nowhere else; this is
//! also where authorization is decided, from the [`Actor`] each call names.

mod account_tokens;
mod analytics;
mod auth;
mod cart;
mod catalog;
mod coupons;
mod error;
mod orders;
mod pagination;
pub mod password;
mod payment_expiry;
mod payment_notifications;
mod payment_sessions;
mod payments;
mod product_images;
mod records;
mod refunds;
mod shipping;
mod users;
mod views;

use std::sync::Arc;

pub use account_tokens::{
    EMAIL_VERIFICATION_TTL, PASSWORD_RESET_TTL, REQUEST_WINDOW, RESET_REQUESTS_PER_ADDRESS,
    VERIFICATION_RESENDS_PER_ACCOUNT,
};
pub use analytics::{
    AnalyticsRange, AnalyticsReport, CurrencyTotals, DayReport, MAX_DAYS, TOP_PRODUCTS,
};
pub use auth::{AuthSettings, Session};
pub use cart::{AddToCart, CartView, UpdateCartItem};
pub use catalog::{
    AdjustStock, CreateCategory, CreateProduct, ListProducts, SearchProducts, UpdateCategory,
    UpdateProduct, name_sort_key,
};
pub use coupons::{CartCoupon, CouponInput};
pub use error::{AppError, AppResult, FieldErrors, SignatureProblem};
pub use orders::{ChangeOrderStatus, Checkout, CheckoutResult, ListOrders};
pub use pagination::Page;
pub use payment_notifications::NotificationOutcome;
pub use payment_sessions::{PaymentSessionView, SandboxPayment};
pub use payments::RecordPayment;
pub use product_images::ImageDownload;
pub use records::{ListNotifications, WorkerData};
pub use refunds::{IDEMPOTENCY_KEY_MAX, ProviderRefund, RefundCommand, valid_idempotency_key};
pub use shipping::{ShipOrder, ShippingMethodInput};
pub use users::{
    AddressInput, ChangePassword, ListUsers, RegisterUser, UpdateProfile, UpdateUserAdmin,
};
pub use views::{DEFAULT_VIEW_CAPACITY, ProductViews, ViewCounts, ViewWriter};

use crate::{
    adapters::{memory::MemoryKeyValue, payments::sandbox::SandboxProvider},
    config::PaymentSettings,
    domain::{Role, TaxRate, UserId},
    ports::{Clock, InvoiceFiles, KeyValueStore, PaymentProvider, Store, SystemClock},
};

/// Who is asking. Transports build it from a verified token; the CLI acts as `System`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Anonymous,
    User {
        id: UserId,
        role: Role,
    },
    /// The operator's own tools (migrations, seeding, the `user create` command).
    System,
}

impl Actor {
    pub const fn user(id: UserId, role: Role) -> Self {
        Self::User { id, role }
    }

    /// The signed-in user, or `Unauthenticated`.
    fn user_id(&self) -> AppResult<UserId> {
        match self {
            Self::User { id, .. } => Ok(*id),
            Self::Anonymous | Self::System => Err(AppError::Unauthenticated),
        }
    }

    fn is_staff(&self) -> bool {
        matches!(
            self,
            Self::System
                | Self::User {
                    role: Role::Admin,
                    ..
                }
        )
    }

    /// Staff (an admin or the system), or `Unauthenticated`/`Forbidden`.
    fn require_staff(&self) -> AppResult<()> {
        match self {
            _ if self.is_staff() => Ok(()),
            Self::Anonymous => Err(AppError::Unauthenticated),
            _ => Err(AppError::Forbidden),
        }
    }

    fn acting_user(&self) -> Option<UserId> {
        match self {
            Self::User { id, .. } => Some(*id),
            Self::Anonymous | Self::System => None,
        }
    }
}

const CATALOG_GENERATION: &str = "catalog:generation";
/// How long a replica trusts the catalog generation it last read.
pub const GENERATION_REFRESH: std::time::Duration = std::time::Duration::from_millis(500);

/// The catalog generation as last read or written by this process, and when.
#[derive(Debug, Default)]
struct GenerationHint(std::sync::Mutex<Option<(u64, std::time::Instant)>>);

impl GenerationHint {
    fn fresh(&self) -> Option<u64> {
        let seen = *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.filter(|(_, at)| at.elapsed() < GENERATION_REFRESH)
            .map(|(generation, _)| generation)
    }

    fn remember(&self, generation: u64) {
        let mut seen = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Never step back: a slow read must not undo a newer local write.
        let newest = seen.map_or(generation, |(known, _)| known.max(generation));
        *seen = Some((newest, std::time::Instant::now()));
    }
}
const GENERATION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 60 * 60);

/// `SHOP_LOW_STOCK_THRESHOLD`'s default.
pub const DEFAULT_LOW_STOCK_THRESHOLD: i64 = 5;

/// Business settings that are configuration rather than code.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShopSettings {
    pub tax_rate: TaxRate,
}

/// The shop's application service: every command and query is a method on it.
#[derive(Clone)]
pub struct Shop {
    store: Arc<dyn Store>,
    kv: Arc<dyn KeyValueStore>,
    clock: Arc<dyn Clock>,
    settings: ShopSettings,
    auth: Arc<AuthSettings>,
    generation: Arc<GenerationHint>,
    views: Option<ProductViews>,
    low_stock_threshold: i64,
    /// Where the invoice PDFs are read from; none until [`Self::with_invoice_files`].
    invoice_files: Option<Arc<dyn InvoiceFiles>>,
    /// The payment provider and its settings; the sandbox until [`Self::with_payments`].
    payments: Arc<Payments>,
    /// `SHOP_REQUIRE_VERIFIED_EMAIL`: checkout needs a verified address.
    require_verified_email: bool,
    /// Where product images are kept; none until [`Self::with_images`].
    images: Option<product_images::Images>,
}

/// The provider money is taken through, and how.
#[derive(Debug)]
struct Payments {
    provider: Arc<dyn PaymentProvider>,
    settings: PaymentSettings,
}

impl Payments {
    fn sandbox(settings: PaymentSettings) -> Self {
        Self {
            provider: Arc::new(SandboxProvider::from_settings(&settings)),
            settings,
        }
    }
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop")
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}

impl Shop {
    /// A shop on `store`, with in-process sessions signed by an ephemeral key until
    /// [`Self::with_key_value`] and [`Self::with_auth`] say otherwise.
    pub fn new(store: Arc<dyn Store>, settings: ShopSettings) -> Self {
        Self {
            store,
            kv: Arc::new(MemoryKeyValue::new()),
            clock: Arc::new(SystemClock),
            settings,
            auth: Arc::new(AuthSettings::ephemeral()),
            generation: Arc::default(),
            views: None,
            low_stock_threshold: DEFAULT_LOW_STOCK_THRESHOLD,
            invoice_files: None,
            payments: Arc::new(Payments::sandbox(PaymentSettings::default())),
            require_verified_email: false,
            images: None,
        }
    }

    /// Takes payments through `provider` (see
    /// [`provider_from_settings`](crate::adapters::payments::provider_from_settings)).
    #[must_use]
    pub fn with_payments(
        mut self,
        provider: Arc<dyn PaymentProvider>,
        settings: PaymentSettings,
    ) -> Self {
        self.payments = Arc::new(Payments { provider, settings });
        self
    }

    pub fn payment_provider(&self) -> &Arc<dyn PaymentProvider> {
        &self.payments.provider
    }

    pub fn payment_settings(&self) -> &PaymentSettings {
        &self.payments.settings
    }

    /// A sale that leaves a product with this many units or fewer (coming from more) emits
    /// `StockLow`; [`DEFAULT_LOW_STOCK_THRESHOLD`] unless set.
    #[must_use]
    pub fn with_low_stock_threshold(mut self, threshold: i64) -> Self {
        self.low_stock_threshold = threshold;
        self
    }

    /// Reads invoice PDFs from `files` (see [`Self::order_invoice_pdf`]).
    #[must_use]
    pub fn with_invoice_files(mut self, files: Arc<dyn InvoiceFiles>) -> Self {
        self.invoice_files = Some(files);
        self
    }

    #[must_use]
    pub fn with_key_value(mut self, kv: Arc<dyn KeyValueStore>) -> Self {
        self.kv = kv;
        self.generation = Arc::default();
        self
    }

    #[must_use]
    pub fn with_auth(mut self, auth: AuthSettings) -> Self {
        self.auth = Arc::new(auth);
        self
    }

    pub fn key_value(&self) -> &Arc<dyn KeyValueStore> {
        &self.kv
    }

    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// A number that changes whenever anything a catalog reader sees changes (products, prices,
    /// stock, categories). Caches key their entries by it, so a write invalidates them all at once.
    ///
    /// The value is re-read from the key-value store at most every [`GENERATION_REFRESH`]:
    /// this replica's own writes are seen at once, other replicas' within that interval.
    pub async fn catalog_generation(&self) -> AppResult<u64> {
        if let Some(generation) = self.generation.fresh() {
            return Ok(generation);
        }
        let stored = self
            .kv
            .get(CATALOG_GENERATION)
            .await
            .map_err(|e| AppError::Internal(Box::new(e)))?;
        let generation = stored
            .and_then(|bytes| String::from_utf8(bytes).ok()?.parse().ok())
            .unwrap_or(0);
        self.generation.remember(generation);
        Ok(generation)
    }

    /// Called after every catalog write. A failure is logged, not returned: the write itself
    /// succeeded, and cached entries expire on their own shortly.
    async fn catalog_changed(&self) {
        match self
            .kv
            .increment(CATALOG_GENERATION, GENERATION_LIFETIME)
            .await
        {
            Ok((generation, _)) => self.generation.remember(generation),
            Err(error) => tracing::error!(error = %error, "could not invalidate the catalog cache"),
        }
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> AppResult<()> {
        Ok(self.store.ping().await?)
    }
}
