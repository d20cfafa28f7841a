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

use async_trait::async_trait;
use serde::Deserialize;
use shop_core::{
    app::WorkerData,
    messaging::{CloudEvent, WorkerKind},
    ports::{AnalyticsEffect, AnalyticsEvent, ProductSales, StoreError},
};

use crate::handler::{Handler, HandlerError, claim, payload};

/// Event types the aggregates read.
pub const ORDER_PLACED: &str = "dev.shop.order.placed.v1";
pub const PRODUCT_VIEWED: &str = "dev.shop.product.viewed.v1";
pub const CART_UPDATED: &str = "dev.shop.cart.updated.v1";

/// The analytics worker's handler.
#[derive(Debug, Clone)]
pub struct Analytics {
    data: WorkerData,
}

impl Analytics {
    pub fn new(data: WorkerData) -> Self {
        Self { data }
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

fn database(error: StoreError) -> HandlerError {
    HandlerError::database(WorkerKind::Analytics, error)
}

#[async_trait]
impl Handler for Analytics {
    fn kind(&self) -> WorkerKind {
        WorkerKind::Analytics
    }

    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        // Decode before touching the database: a malformed event is rejected, not retried.
        let event = analytics_event(event)?;
        let Some(mut work) = claim(&self.data, WorkerKind::Analytics, &event.event_id).await?
        else {
            return Ok(());
        };
        work.record_analytics(&event).await.map_err(database)?;
        work.commit().await.map_err(database)
    }
}

/// The event as the aggregates count it, on the UTC day of its `time`.
fn analytics_event(event: &CloudEvent) -> Result<AnalyticsEvent, HandlerError> {
    let effect = match event.event_type.as_str() {
        ORDER_PLACED => {
            let order: OrderPlaced = payload(event)?;
            let lines = order
                .items
                .into_iter()
                .map(|line| ProductSales {
                    revenue_minor: line.quantity.saturating_mul(line.unit_price_minor),
                    product_id: line.product_id,
                    sku: line.sku,
                    currency: order.currency.clone(),
                    units: line.quantity,
                })
                .collect();
            AnalyticsEffect::Order {
                user_id: order.user_id,
                currency: order.currency,
                total_minor: order.total_minor,
                lines,
            }
        }
        PRODUCT_VIEWED => {
            let view: ProductViewed = payload(event)?;
            AnalyticsEffect::View {
                user_id: view.user_id,
            }
        }
        CART_UPDATED => {
            let cart: CartUpdated = payload(event)?;
            // Only a line added or kept moves a user along the funnel.
            if cart.quantity > 0 {
                AnalyticsEffect::Cart {
                    user_id: cart.user_id,
                }
            } else {
                AnalyticsEffect::None
            }
        }
        _ => AnalyticsEffect::None,
    };
    Ok(AnalyticsEvent {
        event_id: event.id.clone(),
        event_type: event.event_type.clone(),
        subject: event.subject.clone(),
        occurred_at: event.time,
        data: event.data.clone(),
        day: event.time.date_naive(),
        effect,
    })
}
