//! The analytics worker: keeps every event (`analytics_events`) and, in the same transaction,
//! the aggregates the admin report reads:
//!
//! - sales per UTC day and currency: orders placed and their totals, from `OrderPlaced`
//!   (revenue is what was ordered, tax included, when it was ordered; payments are not waited for);
//! - products per day and currency: units and revenue (unit price × quantity) from the lines of
//!   `OrderPlaced`;
//! - the funnel per day: product views (`ProductViewed`) → cart updates that add or keep a line
//!   (`CartUpdated` with `quantity > 0`) → orders (`OrderPlaced`), each as an event count and as
//!   distinct signed-in users.
//!
//! The day is the UTC day of the event's `time` (when the change happened).

mod report;

pub use report::{
    AnalyticsReport, CurrencyTotals, DayReport, FunnelDay, ProductSales, ReportError, report,
};

use async_trait::async_trait;
use serde::Deserialize;
use shop_core::messaging::{CloudEvent, WorkerKind};
use sqlx::types::Json;

use crate::{
    handler::{Handler, HandlerError, payload},
    on_backend,
    store::{Db, Tx},
};

/// Event types the aggregates read.
pub const ORDER_PLACED: &str = "dev.shop.order.placed.v1";
pub const PRODUCT_VIEWED: &str = "dev.shop.product.viewed.v1";
pub const CART_UPDATED: &str = "dev.shop.cart.updated.v1";

/// The analytics worker's handler.
#[derive(Debug, Clone)]
pub struct Analytics {
    db: Db,
}

impl Analytics {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[derive(Debug, Deserialize)]
struct OrderPlaced {
    user_id: String,
    currency: String,
    total_minor: i64,
    items: Vec<OrderLine>,
}

#[derive(Debug, Deserialize)]
struct OrderLine {
    product_id: String,
    sku: String,
    quantity: i64,
    unit_price_minor: i64,
}

#[derive(Debug, Deserialize)]
struct ProductViewed {
    user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CartUpdated {
    user_id: String,
    quantity: i64,
}

fn database(error: sqlx::Error) -> HandlerError {
    // Any database failure may pass (a restart, a serialisation failure, a full pool); a
    // statement that can never succeed would be a bug in this module, not in the event. The
    // runtime tells an unreachable database apart and waits for it before trying again.
    HandlerError::Retry(anyhow::Error::new(error).context("analytics database"))
}

#[async_trait]
impl Handler for Analytics {
    fn kind(&self) -> WorkerKind {
        WorkerKind::Analytics
    }

    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        // Decode before touching the database: a malformed event is rejected, not retried.
        let effect = Effect::of(event)?;
        let Some(mut claim) = self
            .db
            .claim(WorkerKind::Analytics.name(), &event.id)
            .await
            .map_err(database)?
        else {
            tracing::debug!(id = %event.id, "analytics: duplicate event skipped");
            return Ok(());
        };
        record(claim.tx(), event, &effect).await.map_err(database)?;
        claim.commit().await.map_err(database)
    }
}

/// What one event changes in the aggregates.
#[derive(Debug)]
enum Effect {
    Order(OrderPlaced),
    View(ProductViewed),
    Cart(CartUpdated),
    /// Kept in `analytics_events` only.
    None,
}

impl Effect {
    fn of(event: &CloudEvent) -> Result<Self, HandlerError> {
        Ok(match event.event_type.as_str() {
            ORDER_PLACED => Self::Order(payload(event)?),
            PRODUCT_VIEWED => Self::View(payload(event)?),
            CART_UPDATED => Self::Cart(payload(event)?),
            _ => Self::None,
        })
    }
}

async fn record(tx: &mut Tx, event: &CloudEvent, effect: &Effect) -> Result<(), sqlx::Error> {
    on_backend!(&mut *tx, conn => sqlx::query(
        "INSERT INTO analytics_events (event_id, event_type, subject, occurred_at, data) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(&event.id)
    .bind(&event.event_type)
    .bind(&event.subject)
    .bind(event.time)
    .bind(Json(&event.data))
    .execute(conn)
    .await
    .map(|done| done.rows_affected()))?;
    let day = event.time.date_naive().format("%Y-%m-%d").to_string();
    match effect {
        Effect::Order(order) => {
            on_backend!(&mut *tx, conn => sqlx::query(
                "INSERT INTO analytics_daily_sales (day, currency, orders, revenue_minor) \
                 VALUES ($1, $2, 1, $3) ON CONFLICT (day, currency) DO UPDATE SET \
                 orders = analytics_daily_sales.orders + 1, \
                 revenue_minor = analytics_daily_sales.revenue_minor + excluded.revenue_minor",
            )
            .bind(&day)
            .bind(&order.currency)
            .bind(order.total_minor)
            .execute(conn)
            .await
            .map(|done| done.rows_affected()))?;
            for line in &order.items {
                on_backend!(&mut *tx, conn => sqlx::query(
                    "INSERT INTO analytics_daily_products \
                     (day, product_id, currency, sku, units, revenue_minor) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (day, product_id, currency) DO UPDATE SET \
                     sku = excluded.sku, \
                     units = analytics_daily_products.units + excluded.units, \
                     revenue_minor = analytics_daily_products.revenue_minor + excluded.revenue_minor",
                )
                .bind(&day)
                .bind(&line.product_id)
                .bind(&order.currency)
                .bind(&line.sku)
                .bind(line.quantity)
                .bind(line.quantity.saturating_mul(line.unit_price_minor))
                .execute(conn)
                .await
                .map(|done| done.rows_affected()))?;
            }
            funnel(tx, &day, Stage::Order, Some(&order.user_id)).await
        }
        Effect::View(view) => funnel(tx, &day, Stage::View, view.user_id.as_deref()).await,
        Effect::Cart(cart) if cart.quantity > 0 => {
            funnel(tx, &day, Stage::Cart, Some(&cart.user_id)).await
        }
        Effect::Cart(_) | Effect::None => Ok(()),
    }
}

#[derive(Debug, Clone, Copy)]
enum Stage {
    View,
    Cart,
    Order,
}

impl Stage {
    const fn name(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Cart => "cart",
            Self::Order => "order",
        }
    }

    /// The funnel's (event count, distinct users) columns.
    const fn columns(self) -> (&'static str, &'static str) {
        match self {
            Self::View => ("product_views", "viewers"),
            Self::Cart => ("cart_updates", "cart_users"),
            Self::Order => ("orders", "buyers"),
        }
    }
}

/// Counts one event at `stage` on `day`, and its user when this is their first there that day.
async fn funnel(
    tx: &mut Tx,
    day: &str,
    stage: Stage,
    user_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    let first_for_user = match user_id {
        None => false,
        Some(user_id) => {
            on_backend!(&mut *tx, conn => sqlx::query(
                "INSERT INTO analytics_funnel_users (day, stage, user_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (day, stage, user_id) DO NOTHING",
            )
            .bind(day)
            .bind(stage.name())
            .bind(user_id)
            .execute(conn)
            .await
            .map(|done| done.rows_affected()))?
                == 1
        }
    };
    let (events, users) = stage.columns();
    // Column names come from the `Stage` table above, never from input.
    let sql = format!(
        "INSERT INTO analytics_daily_funnel (day, {events}, {users}) VALUES ($1, 1, $2) \
         ON CONFLICT (day) DO UPDATE SET \
         {events} = analytics_daily_funnel.{events} + 1, \
         {users} = analytics_daily_funnel.{users} + excluded.{users}"
    );
    on_backend!(&mut *tx, conn => sqlx::query(&sql)
        .bind(day)
        .bind(i64::from(first_for_user))
        .execute(conn)
        .await
        .map(|done| done.rows_affected()))?;
    Ok(())
}
