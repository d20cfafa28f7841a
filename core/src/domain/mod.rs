//! The shop's entities, value objects and rules. Pure: no I/O, no clock, no randomness.
//!
//! Every value object is a newtype whose constructor parses raw input and refuses bad values, so a
//! value that exists is valid.

pub mod address;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod coupon;
pub mod events;
pub mod ids;
pub mod image;
pub mod money;
pub mod order;
pub mod order_number;
pub mod payment;
pub mod refund;
pub mod shipping;
pub mod text;
pub mod user;

pub use address::{Address, AddressFields, AddressSnapshot, CountryCode};
pub use cart::{CartItem, CartLine, Quantity};
pub use catalog::{Category, Product, Sku, Slug, Stock};
pub use coupon::{Coupon, CouponCode, CouponRejection, CouponValue};
pub use events::{CancelReason, DomainEvent, OutboxEvent};
pub use ids::{
    AddressId, CartItemId, CategoryId, EventId, ImageId, OrderId, PaymentId, ProductId, RefundId,
    UserId,
};
pub use ids::{CouponId, ShippingMethodId};
pub use image::{ImageFormat, ImageLimits, ImageVariant, ProductImage};
pub use money::{Currency, Money, MoneyError, TaxRate};
pub use order::{Order, OrderItem, OrderStatus, TransitionError};
pub use order_number::OrderNumber;
pub use payment::{Payment, PaymentStatus};
pub use refund::Refund;
pub use shipping::{Shipment, ShippingMethod, ShippingRule};
pub use text::{InvalidValue, Text};
pub use user::{Email, Password, PasswordHash, PersonName, Role, User};
