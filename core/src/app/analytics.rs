//! The analytics report: sales, best sellers and the funnel over a range of UTC days, read from
//! the aggregates the analytics worker keeps ([`AnalyticsStore`](crate::ports::AnalyticsStore)).

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::Serialize;

use super::{Actor, AppResult, Shop};
use crate::{
    domain::InvalidValue,
    ports::{FunnelDay, ProductSales},
};

/// The longest range one report covers.
pub const MAX_DAYS: u64 = 366;
/// How many products the top list holds.
pub const TOP_PRODUCTS: u32 = 10;

/// From `from` to `to` (UTC days, both included), at most [`MAX_DAYS`] long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyticsRange {
    from: NaiveDate,
    to: NaiveDate,
    days: u64,
}

impl AnalyticsRange {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, InvalidValue> {
        if from > to {
            return Err(InvalidValue(format!("from ({from}) is after to ({to})")));
        }
        let days = u64::try_from((to - from).num_days()).unwrap_or(u64::MAX) + 1;
        if days > MAX_DAYS {
            return Err(InvalidValue(format!(
                "the range covers {days} days; at most {MAX_DAYS}"
            )));
        }
        Ok(Self { from, to, days })
    }
}

/// Sales, top products and the funnel from `from` to `to`, both included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnalyticsReport {
    /// First day (UTC).
    pub from: NaiveDate,
    /// Last day (UTC), included.
    pub to: NaiveDate,
    /// Orders placed and revenue per currency over the whole range (revenue: the totals of the
    /// orders placed, tax included, in minor units).
    pub totals: Vec<CurrencyTotals>,
    /// Best-selling products by units, then revenue.
    pub top_products: Vec<ProductSales>,
    /// Every day of the range, days without events included.
    pub days: Vec<DayReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrencyTotals {
    pub currency: String,
    pub orders: i64,
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayReport {
    pub day: NaiveDate,
    pub sales: Vec<CurrencyTotals>,
    pub funnel: FunnelDay,
}

impl Shop {
    /// The analytics report over `range`; staff only.
    pub async fn analytics_report(
        &self,
        actor: &Actor,
        range: AnalyticsRange,
    ) -> AppResult<AnalyticsReport> {
        actor.require_staff()?;
        let figures = self
            .store
            .analytics(range.from, range.to, TOP_PRODUCTS)
            .await?;
        let mut totals: BTreeMap<String, CurrencyTotals> = BTreeMap::new();
        let mut sales_by_day: BTreeMap<String, Vec<CurrencyTotals>> = BTreeMap::new();
        for sale in figures.sales {
            let total = totals
                .entry(sale.currency.clone())
                .or_insert_with(|| CurrencyTotals {
                    currency: sale.currency.clone(),
                    orders: 0,
                    revenue_minor: 0,
                });
            total.orders += sale.orders;
            total.revenue_minor += sale.revenue_minor;
            sales_by_day
                .entry(sale.day)
                .or_default()
                .push(CurrencyTotals {
                    currency: sale.currency,
                    orders: sale.orders,
                    revenue_minor: sale.revenue_minor,
                });
        }
        let mut funnel_by_day: BTreeMap<String, FunnelDay> = figures.funnel.into_iter().collect();
        let days = (0..range.days)
            .filter_map(|offset| range.from.checked_add_days(Days::new(offset)))
            .map(|day| {
                let key = day.format("%Y-%m-%d").to_string();
                DayReport {
                    day,
                    sales: sales_by_day.remove(&key).unwrap_or_default(),
                    funnel: funnel_by_day.remove(&key).unwrap_or_default(),
                }
            })
            .collect();
        Ok(AnalyticsReport {
            from: range.from,
            to: range.to,
            totals: totals.into_values().collect(),
            top_products: figures.top_products,
            days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(raw: &str) -> NaiveDate {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").expect("a date")
    }

    #[test]
    fn a_range_runs_forward_and_covers_at_most_a_leap_year() {
        assert!(AnalyticsRange::new(day("2026-11-21"), day("2026-11-21")).is_ok());
        assert!(AnalyticsRange::new(day("2024-01-01"), day("2024-12-31")).is_ok());
        let backwards = AnalyticsRange::new(day("2026-11-22"), day("2026-11-21"));
        assert!(backwards.is_err_and(|error| error.0.contains("after")));
        let long = AnalyticsRange::new(day("2024-01-01"), day("2025-01-01"));
        assert!(long.is_err_and(|error| error.0.contains("367 days")));
    }
}
