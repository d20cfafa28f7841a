//! Checkout and the life of an order.

use sha2::{Digest, Sha256};

use super::{Actor, AppError, AppResult, FieldErrors, Page, Shop, pagination};
use crate::{
    domain::{
        AddressId, AddressSnapshot, DomainEvent, Order, OrderId, OrderNumber, OrderStatus, Text,
    },
    ports::{CheckoutRequest, OrderQuery, OrderTransition, SalesStats, StatusChange, StoreError},
};

#[derive(Debug, Clone, Default)]
pub struct Checkout {
    /// Chosen by the client; retrying with the same key never creates a second order.
    pub idempotency_key: String,
    /// An address from the user's address book; the default address when absent.
    pub shipping_address_id: Option<String>,
    /// Required once staff offer shipping methods (see [`Shop::shipping_method_for_checkout`]).
    pub shipping_method_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutResult {
    pub order: Order,
    /// The key was used before and this is the order it created then.
    pub replayed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ListOrders {
    /// Staff only: every user's orders instead of one's own.
    pub all_users: bool,
    pub status: Option<String>,
    /// Only the order with this readable number (`SO-2026-000123`).
    pub number: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ChangeOrderStatus {
    pub status: String,
}

/// Printable ASCII, as HTTP headers carry it.
type IdempotencyKey = Text<1, 255>;

impl Shop {
    /// A span of its own in traces (debug level: not in the logs at `info`).
    #[tracing::instrument(level = "debug", name = "checkout", skip_all)]
    pub async fn checkout(&self, actor: &Actor, command: Checkout) -> AppResult<CheckoutResult> {
        let user_id = actor.user_id()?;
        self.ensure_may_check_out(user_id).await?;
        let mut errors = FieldErrors::default();
        let key = errors.check(
            "idempotency_key",
            parse_idempotency_key(&command.idempotency_key),
        );
        let address_id = errors.check_opt(
            "shipping_address_id",
            command.shipping_address_id.as_deref(),
            AddressId::parse,
        );
        let (Some(key), Some(address_id)) = (key, address_id) else {
            return Err(errors.into_error());
        };
        let addresses = self.store.list_addresses(user_id).await?;
        let shipping_address = match address_id {
            Some(id) => Some(
                addresses
                    .iter()
                    .find(|address| address.id == id)
                    .ok_or_else(|| {
                        AppError::validation("shipping_address_id", "no such address")
                    })?,
            ),
            None => addresses.iter().find(|address| address.is_default),
        };
        let shipping_method = self
            .shipping_method_for_checkout(command.shipping_method_id.as_deref())
            .await?;
        let request = CheckoutRequest {
            order_id: OrderId::new(),
            user_id,
            idempotency_key: key.to_string(),
            fingerprint: fingerprint(&command),
            shipping_address: shipping_address
                .map(|address| AddressSnapshot::from(&address.fields)),
            shipping_method,
            tax_rate: self.settings.tax_rate,
            now: self.clock.now(),
            low_stock_threshold: self.low_stock_threshold,
        };
        let outcome = self.store.checkout(&request).await?;
        if !outcome.replayed {
            self.catalog_changed().await;
            tracing::info!(
                order_id = %outcome.order.id,
                total = %outcome.order.total,
                lines = outcome.order.items.len(),
                "order placed"
            );
        }
        Ok(CheckoutResult {
            order: outcome.order,
            replayed: outcome.replayed,
        })
    }

    /// An order its owner or staff may see. Anyone else's order is "not found", not "forbidden",
    /// so order ids cannot be probed.
    pub async fn get_order(&self, actor: &Actor, id: OrderId) -> AppResult<Order> {
        let order = self
            .store
            .get_order(id)
            .await?
            .ok_or(AppError::NotFound("order"))?;
        if actor.is_staff() || actor.user_id()? == order.user_id {
            Ok(order)
        } else {
            Err(AppError::NotFound("order"))
        }
    }

    pub async fn order_history(&self, actor: &Actor, id: OrderId) -> AppResult<Vec<StatusChange>> {
        self.get_order(actor, id).await?;
        Ok(self.store.status_history(id).await?)
    }

    pub async fn list_orders(&self, actor: &Actor, query: ListOrders) -> AppResult<Page<Order>> {
        let user_id = if query.all_users {
            actor.require_staff()?;
            None
        } else {
            Some(actor.user_id()?)
        };
        let status = OrderStatus::parse_opt(query.status.as_deref())?;
        let number = query
            .number
            .as_deref()
            .map(OrderNumber::parse)
            .transpose()
            .map_err(|error| AppError::validation("number", error.0))?;
        let limit = pagination::page_size(query.limit)?;
        let after = pagination::decode::<OrderId>(query.cursor.as_deref())?;
        let rows = self
            .store
            .list_orders(&OrderQuery {
                user_id,
                status,
                number,
                after,
                limit: limit + 1,
            })
            .await?;
        Ok(Page::from_rows(rows, limit, |order| order.id))
    }

    /// Orders and revenue per day over the last `days` days (default 30, at most 366), and the ten
    /// best-selling products in that time. Staff only.
    pub async fn sales_stats(&self, actor: &Actor, days: Option<u32>) -> AppResult<SalesStats> {
        actor.require_staff()?;
        let days = match days {
            None => 30,
            Some(days @ 1..=366) => days,
            Some(_) => return Err(AppError::validation("days", "must be between 1 and 366")),
        };
        let today = self.clock.now().date_naive();
        let first_day = today - chrono::Days::new(u64::from(days - 1));
        let since = first_day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        Ok(self.store.sales_stats(since, 10).await?)
    }

    /// Customers may cancel their own orders until they are being fulfilled; staff until shipped.
    /// The items go back into stock.
    pub async fn cancel_order(&self, actor: &Actor, id: OrderId) -> AppResult<Order> {
        let order = self.get_order(actor, id).await?;
        // An order that can never be cancelled says so, whoever asks.
        order.status.transition(OrderStatus::Cancelled)?;
        if !actor.is_staff() && !order.status.customer_may_cancel() {
            return Err(AppError::NotCancellable(order.status));
        }
        self.transition(actor, &order, OrderStatus::Cancelled).await
    }

    pub async fn change_order_status(
        &self,
        actor: &Actor,
        id: OrderId,
        command: ChangeOrderStatus,
    ) -> AppResult<Order> {
        actor.require_staff()?;
        let to = OrderStatus::parse(&command.status)
            .map_err(|error| AppError::validation("status", error.0))?;
        let order = self
            .store
            .get_order(id)
            .await?
            .ok_or(AppError::NotFound("order"))?;
        self.transition(actor, &order, to).await
    }

    pub(super) fn transition_for(
        &self,
        actor: &Actor,
        order: &Order,
        to: OrderStatus,
    ) -> AppResult<OrderTransition> {
        order.status.transition(to)?;
        let at = self.clock.now();
        let mut events = vec![DomainEvent::OrderStatusChanged {
            order_id: order.id,
            order_number: Some(order.number),
            user_id: order.user_id,
            from: order.status,
            to,
        }];
        if to == OrderStatus::Cancelled {
            events.push(DomainEvent::OrderCancelled {
                order_id: order.id,
                order_number: Some(order.number),
                user_id: order.user_id,
                previous_status: order.status,
                reason: crate::domain::CancelReason::Requested,
            });
        }
        Ok(OrderTransition {
            order_id: order.id,
            from: order.status,
            to,
            actor: actor.acting_user(),
            at,
            events: events
                .into_iter()
                .map(|event| event.into_outbox(at))
                .collect(),
        })
    }

    async fn transition(&self, actor: &Actor, order: &Order, to: OrderStatus) -> AppResult<Order> {
        let transition = self.transition_for(actor, order, to)?;
        let updated = match self.store.transition_order(&transition).await {
            Err(StoreError::NotFound) => return Err(AppError::NotFound("order")),
            other => other?,
        };
        if to.returns_stock() {
            self.catalog_changed().await;
        }
        tracing::info!(order_id = %order.id, from = order.status.as_str(), to = to.as_str(), "order status changed");
        Ok(updated)
    }
}

impl OrderStatus {
    fn parse_opt(raw: Option<&str>) -> AppResult<Option<Self>> {
        raw.map(Self::parse)
            .transpose()
            .map_err(|error| AppError::validation("status", error.0))
    }
}

fn parse_idempotency_key(raw: &str) -> Result<IdempotencyKey, crate::domain::InvalidValue> {
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(crate::domain::InvalidValue::new(
            "must be printable ASCII without spaces",
        ));
    }
    IdempotencyKey::parse(raw)
}

/// What a replay must match: everything in the request except the key itself.
fn fingerprint(command: &Checkout) -> String {
    let mut canonical = format!(
        "shipping_address_id={}",
        command.shipping_address_id.as_deref().unwrap_or("")
    );
    // Only when given, so the fingerprints of requests from before shipping methods still match.
    if let Some(method) = &command.shipping_method_id {
        canonical.push_str("&shipping_method_id=");
        canonical.push_str(method);
    }
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_printable_and_bounded() {
        assert!(parse_idempotency_key("3f6c-11ef-9a").is_ok());
        for raw in ["", "has space", "tab\there", "é", &"k".repeat(256)] {
            assert!(parse_idempotency_key(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn fingerprints_differ_when_requests_differ() {
        let plain = Checkout {
            idempotency_key: "a".into(),
            ..Checkout::default()
        };
        let other_key = Checkout {
            idempotency_key: "b".into(),
            ..plain.clone()
        };
        let with_address = Checkout {
            shipping_address_id: Some("x".into()),
            ..plain.clone()
        };
        assert_eq!(fingerprint(&plain), fingerprint(&other_key));
        assert_ne!(fingerprint(&plain), fingerprint(&with_address));
    }
}
