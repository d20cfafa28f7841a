//! Domain values to protobuf messages and back, at the edge. Only shapes are translated here:
//! which values are acceptable is the application's business, so enum values become the names
//! the application parses and the application refuses what it refuses.

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret as _;
use shop_core::{
    app::{CartView, Page, Session},
    domain::{
        AddressSnapshot, ImageVariant, Money, Order, OrderStatus, Product, ProductImage, Role, User,
    },
    ports::StatusChange,
};
use tonic::Status;

use super::{error::invalid_argument, pb};
use crate::rest::images::variant_url;

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn duration(duration: std::time::Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(duration.subsec_nanos()).unwrap_or(0),
    }
}

pub fn money(money: Money) -> pb::Money {
    pb::Money {
        amount_minor: money.amount_minor(),
        currency: money.currency().code().to_owned(),
    }
}

/// A request's page size: 0 means "the default", anything else goes to the application, which
/// bounds it (negative sizes are refused here, as no `u32` holds them).
pub fn page_size(raw: i32) -> Result<Option<u32>, Status> {
    match raw {
        0 => Ok(None),
        size => u32::try_from(size)
            .map(Some)
            .map_err(|_| invalid_argument("page_size", "must be between 1 and 100")),
    }
}

/// A request's page token: empty means "the first page".
pub fn page_token(raw: String) -> Option<String> {
    Some(raw).filter(|token| !token.is_empty())
}

/// The next page token of an application page: empty on the last page.
pub fn next_page_token<T>(page: &Page<T>) -> String {
    page.next_cursor.clone().unwrap_or_default()
}

fn role(role: Role) -> pb::Role {
    match role {
        Role::Customer => pb::Role::Customer,
        Role::Admin => pb::Role::Admin,
    }
}

/// The role's name as the application parses it; unspecified is "not given".
pub fn role_name(field: &str, raw: i32) -> Result<Option<String>, Status> {
    match pb::Role::try_from(raw) {
        Ok(pb::Role::Unspecified) => Ok(None),
        Ok(pb::Role::Customer) => Ok(Some(Role::Customer.as_str().to_owned())),
        Ok(pb::Role::Admin) => Ok(Some(Role::Admin.as_str().to_owned())),
        Err(_) => Err(invalid_argument(
            field,
            "must be ROLE_CUSTOMER or ROLE_ADMIN",
        )),
    }
}

pub fn user(user: User) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        email: user.email.to_string(),
        full_name: user.full_name.to_string(),
        role: role(user.role).into(),
        disabled: user.disabled,
        email_verified: user.email_verified_at.is_some(),
        create_time: Some(timestamp(user.created_at)),
        update_time: Some(timestamp(user.updated_at)),
    }
}

pub fn session(session: Session) -> pb::LoginResponse {
    pb::LoginResponse {
        access_token: session.access_token,
        token_type: "Bearer".to_owned(),
        access_token_expires_in: Some(duration(session.access_expires_in)),
        refresh_token: session.refresh_token.expose_secret().to_owned(),
        refresh_token_expires_in: Some(duration(session.refresh_expires_in)),
        user: Some(user(session.user)),
    }
}

pub fn product(product: Product) -> pb::Product {
    pb::Product {
        id: product.id.to_string(),
        sku: product.sku.as_str().to_owned(),
        name: product.name.to_string(),
        slug: product.slug.as_str().to_owned(),
        description: product.description.to_string(),
        price: Some(money(product.price)),
        stock: product.stock.units(),
        in_stock: product.stock.units() > 0,
        active: product.active,
        category_id: product
            .category_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        create_time: Some(timestamp(product.created_at)),
        update_time: Some(timestamp(product.updated_at)),
        images: Vec::new(),
    }
}

/// `product` with its images (the same URLs the REST API lists).
pub fn product_with_images(product: Product, images: Vec<ProductImage>) -> pb::Product {
    pb::Product {
        images: images
            .into_iter()
            .map(|image| {
                let url = |variant| variant_url(&image, variant);
                pb::ProductImage {
                    id: image.id.to_string(),
                    position: image.position,
                    content_type: image.format.content_type().to_owned(),
                    width: image.width,
                    height: image.height,
                    url: url(ImageVariant::Original),
                    medium_url: url(ImageVariant::Medium),
                    thumbnail_url: url(ImageVariant::Thumbnail),
                }
            })
            .collect(),
        ..self::product(product)
    }
}

/// The sort's name as the application parses it; unspecified is "the default".
pub fn sort_name(raw: i32) -> Result<Option<String>, Status> {
    let name = match pb::ProductSort::try_from(raw) {
        Ok(pb::ProductSort::Unspecified) => return Ok(None),
        Ok(pb::ProductSort::Newest) => "newest",
        Ok(pb::ProductSort::PriceAsc) => "price_asc",
        Ok(pb::ProductSort::PriceDesc) => "price_desc",
        Ok(pb::ProductSort::Name) => "name",
        Err(_) => return Err(invalid_argument("sort", "is not a ProductSort value")),
    };
    Ok(Some(name.to_owned()))
}

pub fn cart(cart: CartView) -> pb::Cart {
    let item_count = cart
        .lines
        .iter()
        .map(|line| line.item.quantity.units())
        .sum();
    pb::Cart {
        items: cart
            .lines
            .into_iter()
            .map(|line| pb::CartItem {
                line_total: line.line_total().ok().map(money),
                id: line.item.id.to_string(),
                product_id: line.product.id.to_string(),
                name: line.product.name.to_string(),
                slug: line.product.slug.as_str().to_owned(),
                unit_price: Some(money(line.product.price)),
                quantity: line.item.quantity.units(),
                stock: line.product.stock.units(),
                available: line.product.active,
            })
            .collect(),
        subtotal: cart.subtotal.map(money),
        item_count,
    }
}

pub fn order_status(status: OrderStatus) -> pb::OrderStatus {
    match status {
        OrderStatus::PendingPayment => pb::OrderStatus::PendingPayment,
        OrderStatus::Paid => pb::OrderStatus::Paid,
        OrderStatus::Fulfilling => pb::OrderStatus::Fulfilling,
        OrderStatus::Shipped => pb::OrderStatus::Shipped,
        OrderStatus::Delivered => pb::OrderStatus::Delivered,
        OrderStatus::Cancelled => pb::OrderStatus::Cancelled,
        OrderStatus::Refunded => pb::OrderStatus::Refunded,
    }
}

/// The status's name as the application parses it; unspecified is "not given".
pub fn order_status_name(field: &str, raw: i32) -> Result<Option<String>, Status> {
    let status = match pb::OrderStatus::try_from(raw) {
        Ok(pb::OrderStatus::Unspecified) => return Ok(None),
        Ok(pb::OrderStatus::PendingPayment) => OrderStatus::PendingPayment,
        Ok(pb::OrderStatus::Paid) => OrderStatus::Paid,
        Ok(pb::OrderStatus::Fulfilling) => OrderStatus::Fulfilling,
        Ok(pb::OrderStatus::Shipped) => OrderStatus::Shipped,
        Ok(pb::OrderStatus::Delivered) => OrderStatus::Delivered,
        Ok(pb::OrderStatus::Cancelled) => OrderStatus::Cancelled,
        Ok(pb::OrderStatus::Refunded) => OrderStatus::Refunded,
        Err(_) => return Err(invalid_argument(field, "is not an OrderStatus value")),
    };
    Ok(Some(status.as_str().to_owned()))
}

fn shipping_address(address: AddressSnapshot) -> pb::ShippingAddress {
    pb::ShippingAddress {
        recipient: address.recipient,
        line1: address.line1,
        line2: address.line2,
        city: address.city,
        region: address.region,
        postal_code: address.postal_code,
        country: address.country,
        phone: address.phone,
    }
}

pub fn order(order: Order) -> pb::Order {
    pb::Order {
        id: order.id.to_string(),
        number: order.number.to_string(),
        user_id: order.user_id.to_string(),
        status: order_status(order.status).into(),
        items: order
            .items
            .into_iter()
            .map(|item| pb::OrderItem {
                product_id: item.product_id.to_string(),
                sku: item.sku,
                name: item.name,
                unit_price: Some(money(item.unit_price)),
                quantity: item.quantity.units(),
                line_total: Some(money(item.line_total)),
            })
            .collect(),
        subtotal: Some(money(order.subtotal)),
        tax: Some(money(order.tax)),
        total: Some(money(order.total)),
        discount: Some(money(order.discount)),
        coupon_code: order.coupon_code,
        shipping: Some(money(order.shipping)),
        shipping_method: order.shipping_method,
        shipment: order.shipment.map(|shipment| pb::Shipment {
            carrier: shipment.carrier,
            tracking_number: shipment.tracking_number,
            tracking_url: shipment.tracking_url,
        }),
        shipping_address: order.shipping_address.map(shipping_address),
        place_time: Some(timestamp(order.placed_at)),
        update_time: Some(timestamp(order.updated_at)),
    }
}

pub fn status_change(change: &StatusChange) -> pb::WatchOrderResponse {
    pb::WatchOrderResponse {
        status: order_status(change.to).into(),
        previous_status: change
            .from
            .map_or(pb::OrderStatus::Unspecified, order_status)
            .into(),
        change_time: Some(timestamp(change.at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_status_round_trips_through_its_name() {
        for status in OrderStatus::ALL {
            let raw = i32::from(order_status(status));
            assert_eq!(
                order_status_name("status", raw).ok().flatten().as_deref(),
                Some(status.as_str())
            );
        }
        assert_eq!(order_status_name("status", 0).ok(), Some(None));
        assert!(order_status_name("status", 99).is_err());
    }

    #[test]
    fn page_sizes_pass_through_and_zero_means_default() {
        assert_eq!(page_size(0).ok(), Some(None));
        assert_eq!(page_size(7).ok(), Some(Some(7)));
        assert!(page_size(-1).is_err());
    }
}
