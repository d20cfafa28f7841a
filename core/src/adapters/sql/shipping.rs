//! [`ShippingStore`]: shipping methods and shipments, plus the checkout step that writes what
//! delivery costs ([`record_shipping`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Sql, SqlStore, Tx,
    orders::{apply_transition, order_in},
    rows::{money, parse},
};
use crate::{
    domain::{
        InvalidValue, Order, OrderId, Shipment, ShippingMethod, ShippingMethodId, ShippingRule,
        shipping::MethodName,
    },
    ports::{OrderTransition, ShippingStore, StoreError, StoreResult},
};

const SELECT: &str = "SELECT id, name, kind, currency, rate_minor, extra_minor, active, \
                      created_at, updated_at FROM shipping_methods";

#[derive(Debug, sqlx::FromRow)]
struct MethodRow {
    id: Uuid,
    name: String,
    kind: String,
    currency: String,
    rate_minor: i64,
    extra_minor: Option<i64>,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<MethodRow> for ShippingMethod {
    type Error = StoreError;
    fn try_from(row: MethodRow) -> Result<Self, StoreError> {
        let t = "shipping_methods";
        let extra = |minor: Option<i64>| match minor {
            Some(minor) => money(t, "extra_minor", minor, &row.currency),
            None => parse(t, "extra_minor", Err(InvalidValue::new("is missing"))),
        };
        let rule = match row.kind.as_str() {
            "flat" => ShippingRule::Flat,
            "free_above" => ShippingRule::FreeAbove(extra(row.extra_minor)?),
            "by_weight" => ShippingRule::ByWeight {
                per_kg: extra(row.extra_minor)?,
            },
            _ => parse(t, "kind", Err(InvalidValue::new("is unknown")))?,
        };
        Ok(Self {
            id: ShippingMethodId::from_uuid(row.id),
            name: parse(t, "name", MethodName::parse(&row.name))?,
            rate: money(t, "rate_minor", row.rate_minor, &row.currency)?,
            rule,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// `$1`..`$7`: id, name, kind, currency, rate, extra, active.
fn bind_method(sql: Sql, method: &ShippingMethod) -> Sql {
    let extra = match method.rule {
        ShippingRule::Flat => None,
        ShippingRule::FreeAbove(threshold) => Some(threshold.amount_minor()),
        ShippingRule::ByWeight { per_kg } => Some(per_kg.amount_minor()),
    };
    sql.bind(method.id.as_uuid())
        .bind(method.name.as_str())
        .bind(method.rule.kind())
        .bind(method.rate.currency().code())
        .bind(method.rate.amount_minor())
        .bind(extra)
        .bind(method.active)
}

/// Checkout step, after the order is written: what delivery costs and by which method. Written
/// here rather than by the order's insert so that checkout's statements stay the orders' own;
/// orders without a method skip it.
pub(super) async fn record_shipping(tx: &mut Tx, order: &Order) -> StoreResult<()> {
    if order.shipping_method.is_none() {
        return Ok(());
    }
    Sql::new("UPDATE orders SET shipping_minor = $2, shipping_method = $3 WHERE id = $1")
        .bind(order.id.as_uuid())
        .bind(order.shipping.amount_minor())
        .bind(order.shipping_method.as_deref())
        .execute(tx)
        .await
        .map(drop)
}

#[async_trait]
impl ShippingStore for SqlStore {
    async fn insert_shipping_method(&self, method: &ShippingMethod) -> StoreResult<()> {
        bind_method(
            Sql::new(
                "INSERT INTO shipping_methods (id, name, kind, currency, rate_minor, extra_minor, \
                 active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            ),
            method,
        )
        .bind(method.created_at)
        .bind(method.updated_at)
        .execute(&self.db)
        .await
        .map(drop)
    }

    async fn update_shipping_method(&self, method: &ShippingMethod) -> StoreResult<()> {
        bind_method(
            Sql::new(
                "UPDATE shipping_methods SET name = $2, kind = $3, currency = $4, \
                 rate_minor = $5, extra_minor = $6, active = $7, updated_at = $8 WHERE id = $1",
            ),
            method,
        )
        .bind(method.updated_at)
        .execute_found(&self.db)
        .await
    }

    async fn delete_shipping_method(&self, id: ShippingMethodId) -> StoreResult<bool> {
        let deleted = Sql::new("DELETE FROM shipping_methods WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.db)
            .await?;
        Ok(deleted > 0)
    }

    async fn get_shipping_method(
        &self,
        id: ShippingMethodId,
    ) -> StoreResult<Option<ShippingMethod>> {
        Sql::new(format!("{SELECT} WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_parsed::<MethodRow, _>(&self.db)
            .await
    }

    async fn list_shipping_methods(
        &self,
        include_inactive: bool,
    ) -> StoreResult<Vec<ShippingMethod>> {
        let filter = if include_inactive {
            ""
        } else {
            " WHERE active"
        };
        Sql::new(format!("{SELECT}{filter} ORDER BY name, id"))
            .fetch_all_parsed::<MethodRow, _>(&self.db)
            .await
    }

    async fn record_shipment(
        &self,
        transition: Option<&OrderTransition>,
        order_id: OrderId,
        shipment: &Shipment,
    ) -> StoreResult<Order> {
        let mut tx = self.db.begin().await?;
        if let Some(transition) = transition {
            apply_transition(&mut tx, transition).await?;
        }
        Sql::new(
            "UPDATE orders SET shipment_carrier = $2, shipment_tracking_number = $3, \
             shipment_tracking_url = $4 WHERE id = $1",
        )
        .bind(order_id.as_uuid())
        .bind(shipment.carrier.as_str())
        .bind(shipment.tracking_number.as_str())
        .bind(shipment.tracking_url.as_deref())
        .execute_found(&mut tx)
        .await?;
        let order = order_in(&mut tx, order_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        tx.commit().await?;
        Ok(order)
    }
}
