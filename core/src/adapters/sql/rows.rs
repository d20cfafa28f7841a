//! Rows as both SQL backends return them, and their conversion into domain values.
//!
//! Columns are read into plain types and parsed with the same constructors the application uses,
//! so a row that violates a domain rule (edited by hand, say) is reported instead of trusted.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{
    domain::{
        Address, AddressFields, AddressId, AddressSnapshot, CartItem, CartItemId, CartLine,
        Category, CategoryId, CountryCode, Currency, Email, EventId, InvalidValue, Money, Order,
        OrderId, OrderItem, OrderNumber, OrderStatus, OutboxEvent, PasswordHash, Payment,
        PaymentId, PaymentStatus, PersonName, Product, ProductId, Quantity, Role, Sku, Slug, Stock,
        Text, User, UserId,
        catalog::{CategoryName, Description, ProductName},
    },
    ports::{StatusChange, StoreError},
};

fn corrupt(table: &str, column: &str, error: InvalidValue) -> StoreError {
    StoreError::Backend(format!("stored {table}.{column} is invalid: {error}").into())
}

pub(super) fn parse<T>(
    table: &str,
    column: &str,
    result: Result<T, InvalidValue>,
) -> Result<T, StoreError> {
    result.map_err(|error| corrupt(table, column, error))
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct UserRow {
    id: Uuid,
    email: String,
    full_name: String,
    role: String,
    password_hash: String,
    disabled: bool,
    email_verified_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: UserId::from_uuid(row.id),
            email: parse("users", "email", Email::parse(&row.email))?,
            full_name: parse("users", "full_name", PersonName::parse(&row.full_name))?,
            role: parse("users", "role", Role::parse(&row.role))?,
            password_hash: PasswordHash::from_phc(row.password_hash),
            disabled: row.disabled,
            email_verified_at: row.email_verified_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct AddressRow {
    id: Uuid,
    user_id: Uuid,
    recipient: String,
    line1: String,
    line2: String,
    city: String,
    region: String,
    postal_code: String,
    country: String,
    phone: String,
    is_default: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<AddressRow> for Address {
    type Error = StoreError;
    fn try_from(row: AddressRow) -> Result<Self, StoreError> {
        let t = "addresses";
        Ok(Self {
            id: AddressId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            fields: AddressFields {
                recipient: parse(t, "recipient", Text::parse(&row.recipient))?,
                line1: parse(t, "line1", Text::parse(&row.line1))?,
                line2: parse(t, "line2", Text::parse(&row.line2))?,
                city: parse(t, "city", Text::parse(&row.city))?,
                region: parse(t, "region", Text::parse(&row.region))?,
                postal_code: parse(t, "postal_code", Text::parse(&row.postal_code))?,
                country: parse(t, "country", CountryCode::parse(&row.country))?,
                phone: parse(t, "phone", Text::parse(&row.phone))?,
            },
            is_default: row.is_default,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct CategoryRow {
    id: Uuid,
    name: String,
    slug: String,
    parent_id: Option<Uuid>,
    description: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<CategoryRow> for Category {
    type Error = StoreError;
    fn try_from(row: CategoryRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: CategoryId::from_uuid(row.id),
            name: parse("categories", "name", CategoryName::parse(&row.name))?,
            slug: parse("categories", "slug", Slug::parse(&row.slug))?,
            parent_id: row.parent_id.map(CategoryId::from_uuid),
            description: parse(
                "categories",
                "description",
                Description::parse(&row.description),
            )?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct ProductRow {
    id: Uuid,
    sku: String,
    name: String,
    slug: String,
    description: String,
    price_minor: i64,
    currency: String,
    stock: i64,
    active: bool,
    category_id: Option<Uuid>,
    weight_grams: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(super) fn money(
    table: &str,
    column: &str,
    amount_minor: i64,
    currency: &str,
) -> Result<Money, StoreError> {
    let currency = parse(table, "currency", Currency::parse(currency))?;
    parse(table, column, Money::price(amount_minor, currency))
}

impl TryFrom<ProductRow> for Product {
    type Error = StoreError;
    fn try_from(row: ProductRow) -> Result<Self, StoreError> {
        let t = "products";
        Ok(Self {
            id: ProductId::from_uuid(row.id),
            sku: parse(t, "sku", Sku::parse(&row.sku))?,
            name: parse(t, "name", ProductName::parse(&row.name))?,
            slug: parse(t, "slug", Slug::parse(&row.slug))?,
            description: parse(t, "description", Description::parse(&row.description))?,
            price: money(t, "price_minor", row.price_minor, &row.currency)?,
            stock: parse(t, "stock", Stock::new(row.stock))?,
            active: row.active,
            category_id: row.category_id.map(CategoryId::from_uuid),
            weight_grams: row.weight_grams,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct CartLineRow {
    item_id: Uuid,
    item_user_id: Uuid,
    item_quantity: i64,
    item_added_at: DateTime<Utc>,
    #[sqlx(flatten)]
    product: ProductRow,
}

impl TryFrom<CartLineRow> for CartLine {
    type Error = StoreError;
    fn try_from(row: CartLineRow) -> Result<Self, StoreError> {
        let product = Product::try_from(row.product)?;
        Ok(Self {
            item: CartItem {
                id: CartItemId::from_uuid(row.item_id),
                user_id: UserId::from_uuid(row.item_user_id),
                product_id: product.id,
                quantity: parse("cart_items", "quantity", Quantity::new(row.item_quantity))?,
                added_at: row.item_added_at,
            },
            product,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct OrderRow {
    pub(super) id: Uuid,
    number: i64,
    user_id: Uuid,
    status: String,
    currency: String,
    subtotal_minor: i64,
    tax_minor: i64,
    total_minor: i64,
    shipping_address: Option<Json<AddressSnapshot>>,
    placed_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    discount_minor: i64,
    coupon_code: Option<String>,
    shipping_minor: i64,
    shipping_method: Option<String>,
    shipment_carrier: Option<String>,
    shipment_tracking_number: Option<String>,
    shipment_tracking_url: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct OrderItemRow {
    pub(super) order_id: Uuid,
    product_id: Uuid,
    sku: String,
    name: String,
    unit_price_minor: i64,
    quantity: i64,
    line_total_minor: i64,
}

/// Joins orders with their items (fetched for all the orders at once, ordered by line).
pub(super) fn assemble_orders(
    orders: Vec<OrderRow>,
    items: Vec<OrderItemRow>,
) -> Result<Vec<Order>, StoreError> {
    let mut items_by_order: std::collections::HashMap<Uuid, Vec<OrderItemRow>> =
        std::collections::HashMap::new();
    for item in items {
        items_by_order.entry(item.order_id).or_default().push(item);
    }
    orders
        .into_iter()
        .map(|row| {
            let t = "orders";
            let items = items_by_order.remove(&row.id).unwrap_or_default();
            let items = items
                .into_iter()
                .map(|item| {
                    Ok(OrderItem {
                        product_id: ProductId::from_uuid(item.product_id),
                        sku: item.sku,
                        name: item.name,
                        unit_price: money(
                            "order_items",
                            "unit_price_minor",
                            item.unit_price_minor,
                            &row.currency,
                        )?,
                        quantity: parse("order_items", "quantity", Quantity::new(item.quantity))?,
                        line_total: money(
                            "order_items",
                            "line_total_minor",
                            item.line_total_minor,
                            &row.currency,
                        )?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok(Order {
                id: OrderId::from_uuid(row.id),
                number: OrderNumber::new(row.number, row.placed_at),
                user_id: UserId::from_uuid(row.user_id),
                status: parse(t, "status", OrderStatus::parse(&row.status))?,
                items,
                subtotal: money(t, "subtotal_minor", row.subtotal_minor, &row.currency)?,
                tax: money(t, "tax_minor", row.tax_minor, &row.currency)?,
                total: money(t, "total_minor", row.total_minor, &row.currency)?,
                discount: money(t, "discount_minor", row.discount_minor, &row.currency)?,
                coupon_code: row.coupon_code,
                shipping: money(t, "shipping_minor", row.shipping_minor, &row.currency)?,
                shipping_method: row.shipping_method,
                shipment: row.shipment_carrier.zip(row.shipment_tracking_number).map(
                    |(carrier, tracking_number)| crate::domain::Shipment {
                        carrier,
                        tracking_number,
                        tracking_url: row.shipment_tracking_url,
                    },
                ),
                shipping_address: row.shipping_address.map(|json| json.0),
                placed_at: row.placed_at,
                updated_at: row.updated_at,
            })
        })
        .collect()
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct StatusChangeRow {
    from_status: Option<String>,
    to_status: String,
    actor_id: Option<Uuid>,
    changed_at: DateTime<Utc>,
}

impl TryFrom<StatusChangeRow> for StatusChange {
    type Error = StoreError;
    fn try_from(row: StatusChangeRow) -> Result<Self, StoreError> {
        let t = "order_status_history";
        Ok(Self {
            from: row
                .from_status
                .map(|s| parse(t, "from_status", OrderStatus::parse(&s)))
                .transpose()?,
            to: parse(t, "to_status", OrderStatus::parse(&row.to_status))?,
            actor: row.actor_id.map(UserId::from_uuid),
            at: row.changed_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct PaymentRow {
    id: Uuid,
    order_id: Uuid,
    amount_minor: i64,
    currency: String,
    provider: String,
    reference: String,
    status: String,
    failure_reason: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<PaymentRow> for Payment {
    type Error = StoreError;
    fn try_from(row: PaymentRow) -> Result<Self, StoreError> {
        let t = "payments";
        Ok(Self {
            id: PaymentId::from_uuid(row.id),
            order_id: OrderId::from_uuid(row.order_id),
            amount: money(t, "amount_minor", row.amount_minor, &row.currency)?,
            provider: parse(t, "provider", Text::parse(&row.provider))?,
            reference: parse(t, "reference", Text::parse(&row.reference))?,
            status: parse(t, "status", PaymentStatus::parse(&row.status))?,
            failure_reason: row.failure_reason,
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(super) struct OutboxRow {
    id: Uuid,
    event_type: String,
    subject: String,
    payload: Json<serde_json::Value>,
    occurred_at: DateTime<Utc>,
    traceparent: Option<String>,
}

impl OutboxRow {
    pub(super) fn id(&self) -> Uuid {
        self.id
    }
}

impl From<OutboxRow> for OutboxEvent {
    fn from(row: OutboxRow) -> Self {
        Self {
            id: EventId::from_uuid(row.id),
            event_type: row.event_type,
            subject: row.subject,
            payload: row.payload.0,
            occurred_at: row.occurred_at,
            traceparent: row.traceparent,
        }
    }
}
