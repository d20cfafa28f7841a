//! Storage of shipping methods, and of the shipment recorded when an order ships.

use async_trait::async_trait;

use super::{OrderTransition, StoreResult};
use crate::domain::{Order, Shipment, ShippingMethod, ShippingMethodId};

#[async_trait]
pub trait ShippingStore: Send + Sync {
    async fn insert_shipping_method(&self, method: &ShippingMethod) -> StoreResult<()>;
    /// `NotFound` when there is no such method.
    async fn update_shipping_method(&self, method: &ShippingMethod) -> StoreResult<()>;
    /// Whether there was such a method. Orders keep the name of the method they used.
    async fn delete_shipping_method(&self, id: ShippingMethodId) -> StoreResult<bool>;
    async fn get_shipping_method(
        &self,
        id: ShippingMethodId,
    ) -> StoreResult<Option<ShippingMethod>>;
    /// Ordered by name; inactive ones too when `include_inactive`.
    async fn list_shipping_methods(
        &self,
        include_inactive: bool,
    ) -> StoreResult<Vec<ShippingMethod>>;
    /// Records the shipment and, when given, applies the transition (to `shipped`) in the same
    /// transaction; errors as [`super::OrderStore::transition_order`].
    async fn record_shipment(
        &self,
        transition: Option<&OrderTransition>,
        order_id: crate::domain::OrderId,
        shipment: &Shipment,
    ) -> StoreResult<Order>;
}
