//! [`AnalyticsStore`]: every event the analytics worker saw, and the aggregates the admin report
//! reads (sales and products per day and currency, the funnel per day).

use async_trait::async_trait;
use chrono::NaiveDate;

use super::{Sql, SqlStore, Tx};
use crate::ports::{
    AnalyticsEffect, AnalyticsEvent, AnalyticsFigures, AnalyticsStore, DailySales, FunnelDay,
    ProductSales, StoreResult,
};

/// A stage of the funnel.
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

fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Keeps `event` (once per id) and adds it to the aggregates of its day.
pub(super) async fn record(tx: &mut Tx, event: &AnalyticsEvent) -> StoreResult<()> {
    Sql::new(include_str!("queries/workers/analytics_event.sql"))
        .bind(event.event_id.as_str())
        .bind(event.event_type.as_str())
        .bind(event.subject.as_str())
        .bind(event.occurred_at)
        .bind(&event.data)
        .execute(&mut *tx)
        .await?;
    let day = day_key(event.day);
    match &event.effect {
        AnalyticsEffect::Order {
            user_id,
            currency,
            total_minor,
            lines,
        } => {
            Sql::new(include_str!("queries/workers/analytics_sale.sql"))
                .bind(day.as_str())
                .bind(currency.as_str())
                .bind(*total_minor)
                .execute(&mut *tx)
                .await?;
            for line in lines {
                Sql::new(include_str!("queries/workers/analytics_product.sql"))
                    .bind(day.as_str())
                    .bind(line.product_id.as_str())
                    .bind(line.currency.as_str())
                    .bind(line.sku.as_str())
                    .bind(line.units)
                    .bind(line.revenue_minor)
                    .execute(&mut *tx)
                    .await?;
            }
            funnel(tx, &day, Stage::Order, Some(user_id)).await
        }
        AnalyticsEffect::View { user_id } => {
            funnel(tx, &day, Stage::View, user_id.as_deref()).await
        }
        AnalyticsEffect::Cart { user_id } => funnel(tx, &day, Stage::Cart, Some(user_id)).await,
        AnalyticsEffect::None => Ok(()),
    }
}

/// Counts one event at `stage` on `day`, and its user when this is their first there that day.
async fn funnel(tx: &mut Tx, day: &str, stage: Stage, user_id: Option<&str>) -> StoreResult<()> {
    let first_for_user = match user_id {
        None => false,
        Some(user_id) => {
            Sql::new(include_str!("queries/workers/analytics_funnel_user.sql"))
                .bind(day)
                .bind(stage.name())
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                == 1
        }
    };
    let (events, users) = stage.columns();
    let sql = include_str!("queries/workers/analytics_funnel.sql")
        .replace("{events}", events)
        .replace("{users}", users);
    Sql::new(sql)
        .bind(day)
        .bind(i64::from(first_for_user))
        .execute(tx)
        .await
        .map(drop)
}

#[derive(Debug, sqlx::FromRow)]
struct FunnelRow {
    day: String,
    #[sqlx(flatten)]
    funnel: FunnelDay,
}

#[async_trait]
impl AnalyticsStore for SqlStore {
    async fn analytics(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        top: u32,
    ) -> StoreResult<AnalyticsFigures> {
        let (first, last) = (day_key(first), day_key(last));
        let sales: Vec<DailySales> = Sql::new(include_str!("queries/workers/analytics_sales.sql"))
            .bind(first.as_str())
            .bind(last.as_str())
            .fetch_all(&self.db)
            .await?;
        let top_products: Vec<ProductSales> =
            Sql::new(include_str!("queries/workers/analytics_top_products.sql"))
                .bind(first.as_str())
                .bind(last.as_str())
                .bind(i64::from(top))
                .fetch_all(&self.db)
                .await?;
        let funnel: Vec<FunnelRow> =
            Sql::new(include_str!("queries/workers/analytics_funnel_days.sql"))
                .bind(first.as_str())
                .bind(last.as_str())
                .fetch_all(&self.db)
                .await?;
        Ok(AnalyticsFigures {
            sales,
            top_products,
            funnel: funnel
                .into_iter()
                .map(|row| (row.day, row.funnel))
                .collect(),
        })
    }
}
