//! Shipping methods (staff define them, customers choose one at checkout) and shipments (staff
//! record carrier and tracking when an order ships).
//!
//! Choosing a method is required as soon as one active method exists; a shop without methods
//! checks out as before, with free shipping. The method's price is computed inside the checkout
//! transaction on the locked cart, added to the total and taxed like the goods.

use super::{Actor, AppError, AppResult, FieldErrors, Shop};
use crate::{
    domain::{
        Currency, Money, Order, OrderId, OrderStatus, Shipment, ShippingMethod, ShippingMethodId,
        ShippingRule, shipping::MethodName,
    },
    ports::StoreError,
};

/// A shipping method as staff write it; an update replaces every field.
#[derive(Debug, Clone, Default)]
pub struct ShippingMethodInput {
    pub name: String,
    /// `flat`, `free_above` or `by_weight`.
    pub kind: String,
    pub currency: String,
    pub rate_minor: i64,
    /// `free_above` only (ignored by the other kinds): the goods amount from which shipping is free.
    pub free_above_minor: Option<i64>,
    /// `by_weight` only (ignored by the other kinds): added per started kilogram.
    pub per_kg_minor: Option<i64>,
    /// Default true.
    pub active: Option<bool>,
}

/// Carrier and tracking of a shipment.
#[derive(Debug, Clone, Default)]
pub struct ShipOrder {
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
}

impl Shop {
    fn method_from(
        &self,
        input: ShippingMethodInput,
        existing: Option<&ShippingMethod>,
    ) -> AppResult<ShippingMethod> {
        let mut errors = FieldErrors::default();
        let name = errors.check("name", MethodName::parse(&input.name));
        let currency = errors.check("currency", Currency::parse(&input.currency));
        let amount = |errors: &mut FieldErrors, field: &str, minor: i64| {
            currency.and_then(|currency| errors.check(field, Money::price(minor, currency)))
        };
        let rate = amount(&mut errors, "rate_minor", input.rate_minor);
        // Checked even when the kind does not use it: a bad amount is a mistake either way.
        let free_above = input
            .free_above_minor
            .map(|minor| amount(&mut errors, "free_above_minor", minor));
        let per_kg = input
            .per_kg_minor
            .map(|minor| amount(&mut errors, "per_kg_minor", minor));
        let extra = |errors: &mut FieldErrors, field: &str, checked: Option<Option<Money>>| {
            checked.unwrap_or_else(|| {
                errors.add(field, format!("is required for {} methods", input.kind));
                None
            })
        };
        let rule = match input.kind.as_str() {
            "flat" => Some(ShippingRule::Flat),
            "free_above" => {
                extra(&mut errors, "free_above_minor", free_above).map(ShippingRule::FreeAbove)
            }
            "by_weight" => extra(&mut errors, "per_kg_minor", per_kg)
                .map(|per_kg| ShippingRule::ByWeight { per_kg }),
            _ => {
                errors.add("kind", "must be flat, free_above or by_weight");
                None
            }
        };
        let (Some(name), Some(rate), Some(rule)) = (name, rate, rule) else {
            return Err(errors.into_error());
        };
        if !errors.is_empty() {
            return Err(errors.into_error());
        }
        let now = self.clock.now();
        Ok(ShippingMethod {
            id: existing.map_or_else(ShippingMethodId::new, |m| m.id),
            name,
            rate,
            rule,
            active: input.active.unwrap_or(true),
            created_at: existing.map_or(now, |m| m.created_at),
            updated_at: now,
        })
    }

    pub async fn create_shipping_method(
        &self,
        actor: &Actor,
        input: ShippingMethodInput,
    ) -> AppResult<ShippingMethod> {
        actor.require_staff()?;
        let method = self.method_from(input, None)?;
        self.store.insert_shipping_method(&method).await?;
        tracing::info!(shipping_method_id = %method.id, "shipping method created");
        Ok(method)
    }

    pub async fn update_shipping_method(
        &self,
        actor: &Actor,
        id: ShippingMethodId,
        input: ShippingMethodInput,
    ) -> AppResult<ShippingMethod> {
        actor.require_staff()?;
        let existing = self
            .store
            .get_shipping_method(id)
            .await?
            .ok_or(AppError::NotFound("shipping method"))?;
        let method = self.method_from(input, Some(&existing))?;
        match self.store.update_shipping_method(&method).await {
            Err(StoreError::NotFound) => Err(AppError::NotFound("shipping method")),
            other => Ok(other?),
        }?;
        Ok(method)
    }

    pub async fn delete_shipping_method(
        &self,
        actor: &Actor,
        id: ShippingMethodId,
    ) -> AppResult<()> {
        actor.require_staff()?;
        if self.store.delete_shipping_method(id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("shipping method"))
        }
    }

    /// The active methods (what customers may choose); with `all`, staff only, inactive ones too.
    pub async fn list_shipping_methods(
        &self,
        actor: &Actor,
        all: bool,
    ) -> AppResult<Vec<ShippingMethod>> {
        if all {
            actor.require_staff()?;
        }
        Ok(self.store.list_shipping_methods(all).await?)
    }

    /// The method a checkout names: it must exist and be active; when none is named, none may be
    /// on offer.
    pub(super) async fn shipping_method_for_checkout(
        &self,
        raw: Option<&str>,
    ) -> AppResult<Option<ShippingMethod>> {
        let Some(raw) = raw else {
            if self.store.list_shipping_methods(false).await?.is_empty() {
                return Ok(None);
            }
            return Err(AppError::validation(
                "shipping_method_id",
                "choose a shipping method",
            ));
        };
        let id = ShippingMethodId::parse(raw)
            .map_err(|error| AppError::validation("shipping_method_id", error.0))?;
        self.store
            .get_shipping_method(id)
            .await?
            .filter(|method| method.active)
            .map(Some)
            .ok_or_else(|| AppError::validation("shipping_method_id", "no such shipping method"))
    }

    /// Records how a `fulfilling` order travels and marks it `shipped` (the shipped email and
    /// notification follow from the status change); on a `shipped` order, corrects the tracking.
    pub async fn ship_order(
        &self,
        actor: &Actor,
        id: OrderId,
        command: ShipOrder,
    ) -> AppResult<Order> {
        actor.require_staff()?;
        let shipment = Shipment::parse(
            &command.carrier,
            &command.tracking_number,
            command.tracking_url.as_deref(),
        )
        .map_err(|(field, error)| AppError::validation(field, error.0))?;
        let order = self
            .store
            .get_order(id)
            .await?
            .ok_or(AppError::NotFound("order"))?;
        let transition = if order.status == OrderStatus::Shipped {
            None
        } else {
            Some(self.transition_for(actor, &order, OrderStatus::Shipped)?)
        };
        let shipped = match self
            .store
            .record_shipment(transition.as_ref(), id, &shipment)
            .await
        {
            Err(StoreError::NotFound) => return Err(AppError::NotFound("order")),
            other => other?,
        };
        tracing::info!(order_id = %id, carrier = shipment.carrier.as_str(), "order shipped");
        Ok(shipped)
    }
}
