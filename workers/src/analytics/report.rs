//! The analytics report over a range of UTC days, read from the aggregates the worker keeps.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{on_backend, store::Db};

/// The longest range one report covers.
pub const MAX_DAYS: u64 = 366;
/// How many products the top list holds.
pub const TOP_PRODUCTS: i64 = 10;

/// Sales, top products and the funnel from `from` to `to`, both included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AnalyticsReport {
    /// First day (UTC), `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// Last day (UTC), included.
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// Orders placed and revenue per currency over the whole range (revenue: the totals of the
    /// orders placed, tax included, in minor units).
    pub totals: Vec<CurrencyTotals>,
    /// Best-selling products by units, then revenue.
    pub top_products: Vec<ProductSales>,
    /// Every day of the range, days without events included.
    pub days: Vec<DayReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CurrencyTotals {
    pub currency: String,
    pub orders: i64,
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProductSales {
    pub product_id: String,
    pub sku: String,
    pub currency: String,
    pub units: i64,
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DayReport {
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    pub sales: Vec<CurrencyTotals>,
    pub funnel: FunnelDay,
}

/// Product views → cart updates (adding or keeping a line) → orders placed, as events and as
/// distinct signed-in users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct FunnelDay {
    pub product_views: i64,
    pub viewers: i64,
    pub cart_updates: i64,
    pub cart_users: i64,
    pub orders: i64,
    pub buyers: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `from` is after `to`, or the range is longer than [`MAX_DAYS`].
    #[error("{0}")]
    InvalidRange(String),
    #[error("cannot read the analytics tables: {0}")]
    Database(#[from] sqlx::Error),
}

type SalesRow = (String, String, i64, i64);
type ProductRow = (String, String, String, i64, i64);
type FunnelRow = (String, i64, i64, i64, i64, i64, i64);

/// The report from `from` to `to` (UTC days, both included).
pub async fn report(
    db: &Db,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<AnalyticsReport, ReportError> {
    if from > to {
        return Err(ReportError::InvalidRange(format!(
            "from ({from}) is after to ({to})"
        )));
    }
    let days = u64::try_from((to - from).num_days()).unwrap_or(u64::MAX) + 1;
    if days > MAX_DAYS {
        return Err(ReportError::InvalidRange(format!(
            "the range covers {days} days; at most {MAX_DAYS}"
        )));
    }
    let (first, last) = (day_key(from), day_key(to));
    let sales: Vec<SalesRow> = on_backend!(pool db, conn => sqlx::query_as(
        "SELECT day, currency, orders, revenue_minor FROM analytics_daily_sales \
         WHERE day >= $1 AND day <= $2 ORDER BY day, currency",
    )
    .bind(&first)
    .bind(&last)
    .fetch_all(conn)
    .await)?;
    let top_products: Vec<ProductRow> = on_backend!(pool db, conn => sqlx::query_as(
        "SELECT product_id, MAX(sku), currency, CAST(SUM(units) AS BIGINT), \
                CAST(SUM(revenue_minor) AS BIGINT) \
         FROM analytics_daily_products WHERE day >= $1 AND day <= $2 \
         GROUP BY product_id, currency \
         ORDER BY SUM(units) DESC, SUM(revenue_minor) DESC, product_id LIMIT $3",
    )
    .bind(&first)
    .bind(&last)
    .bind(TOP_PRODUCTS)
    .fetch_all(conn)
    .await)?;
    let funnel: Vec<FunnelRow> = on_backend!(pool db, conn => sqlx::query_as(
        "SELECT day, product_views, viewers, cart_updates, cart_users, orders, buyers \
         FROM analytics_daily_funnel WHERE day >= $1 AND day <= $2",
    )
    .bind(&first)
    .bind(&last)
    .fetch_all(conn)
    .await)?;

    let mut totals: BTreeMap<String, CurrencyTotals> = BTreeMap::new();
    let mut sales_by_day: BTreeMap<String, Vec<CurrencyTotals>> = BTreeMap::new();
    for (day, currency, orders, revenue_minor) in sales {
        let total = totals
            .entry(currency.clone())
            .or_insert_with(|| CurrencyTotals {
                currency: currency.clone(),
                orders: 0,
                revenue_minor: 0,
            });
        total.orders += orders;
        total.revenue_minor += revenue_minor;
        sales_by_day.entry(day).or_default().push(CurrencyTotals {
            currency,
            orders,
            revenue_minor,
        });
    }
    let mut funnel_by_day: BTreeMap<String, FunnelDay> = funnel
        .into_iter()
        .map(
            |(day, product_views, viewers, cart_updates, cart_users, orders, buyers)| {
                (
                    day,
                    FunnelDay {
                        product_views,
                        viewers,
                        cart_updates,
                        cart_users,
                        orders,
                        buyers,
                    },
                )
            },
        )
        .collect();
    let days = (0..days)
        .filter_map(|offset| from.checked_add_days(Days::new(offset)))
        .map(|day| {
            let key = day_key(day);
            DayReport {
                day,
                sales: sales_by_day.remove(&key).unwrap_or_default(),
                funnel: funnel_by_day.remove(&key).unwrap_or_default(),
            }
        })
        .collect();
    Ok(AnalyticsReport {
        from,
        to,
        totals: totals.into_values().collect(),
        top_products: top_products
            .into_iter()
            .map(
                |(product_id, sku, currency, units, revenue_minor)| ProductSales {
                    product_id,
                    sku,
                    currency,
                    units,
                    revenue_minor,
                },
            )
            .collect(),
        days,
    })
}

/// How the aggregates name a day.
fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}
