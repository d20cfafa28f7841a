//! The JSON shapes the REST API speaks. Domain values are mapped here, at the edge; the domain
//! types themselves stay free of transport concerns.

use chrono::{DateTime, Utc};
use serde::Serialize;
use shop_core::{
    app::{CartView, Page, Session},
    domain::{Address, AddressSnapshot, Category, Money, Order, Payment, Product, User},
    ports::StatusChange,
};
use utoipa::ToSchema;

/// An amount of money: integer minor units (cents for USD) and an ISO-4217 code.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoneyDto {
    #[schema(example = 1999)]
    pub amount_minor: i64,
    #[schema(example = "USD")]
    pub currency: String,
    /// For display only: `19.99 USD`.
    #[schema(example = "19.99 USD")]
    pub formatted: String,
}

impl From<Money> for MoneyDto {
    fn from(money: Money) -> Self {
        Self {
            amount_minor: money.amount_minor(),
            currency: money.currency().code().to_owned(),
            formatted: money.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDto {
    pub id: String,
    pub email: String,
    pub full_name: String,
    /// `customer` or `admin`.
    pub role: String,
    pub disabled: bool,
    /// Whether the account proved it receives mail at `email` (see `/auth/verify-email`).
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserDto {
    fn from(user: User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.to_string(),
            full_name: user.full_name.to_string(),
            role: user.role.as_str().to_owned(),
            disabled: user.disabled,
            email_verified: user.email_verified_at.is_some(),
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDto {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; trade it once at `/auth/refresh` for a new session.
    pub refresh_token: String,
    pub refresh_expires_in: u64,
    pub user: UserDto,
}

impl From<Session> for SessionDto {
    fn from(session: Session) -> Self {
        use secrecy::ExposeSecret as _;
        Self {
            access_token: session.access_token,
            token_type: "Bearer",
            expires_in: session.access_expires_in.as_secs(),
            refresh_token: session.refresh_token.expose_secret().to_owned(),
            refresh_expires_in: session.refresh_expires_in.as_secs(),
            user: session.user.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddressDto {
    pub id: String,
    pub recipient: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
    pub phone: String,
    pub is_default: bool,
}

impl From<Address> for AddressDto {
    fn from(address: Address) -> Self {
        let f = address.fields;
        Self {
            id: address.id.to_string(),
            recipient: f.recipient.to_string(),
            line1: f.line1.to_string(),
            line2: f.line2.to_string(),
            city: f.city.to_string(),
            region: f.region.to_string(),
            postal_code: f.postal_code.to_string(),
            country: f.country.as_str().to_owned(),
            phone: f.phone.to_string(),
            is_default: address.is_default,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryDto {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub parent_id: Option<String>,
    pub description: String,
}

impl From<Category> for CategoryDto {
    fn from(category: Category) -> Self {
        Self {
            id: category.id.to_string(),
            name: category.name.to_string(),
            slug: category.slug.as_str().to_owned(),
            parent_id: category.parent_id.map(|id| id.to_string()),
            description: category.description.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductDto {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub price: MoneyDto,
    pub stock: i64,
    pub in_stock: bool,
    pub active: bool,
    pub category_id: Option<String>,
    /// For shipping by weight; 0 when not given.
    pub weight_grams: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// In the order staff gave them; the first is the product's main picture.
    pub images: Vec<super::images::ProductImageDto>,
}

impl ProductDto {
    /// With `images` (the product's own, in order).
    pub fn with_images(mut self, images: Vec<shop_core::domain::ProductImage>) -> Self {
        self.images = images.into_iter().map(Into::into).collect();
        self
    }
}

impl From<Product> for ProductDto {
    fn from(product: Product) -> Self {
        Self {
            id: product.id.to_string(),
            sku: product.sku.as_str().to_owned(),
            name: product.name.to_string(),
            slug: product.slug.as_str().to_owned(),
            description: product.description.to_string(),
            price: product.price.into(),
            stock: product.stock.units(),
            in_stock: product.stock.units() > 0,
            active: product.active,
            category_id: product.category_id.map(|id| id.to_string()),
            weight_grams: product.weight_grams,
            created_at: product.created_at,
            updated_at: product.updated_at,
            images: Vec::new(),
        }
    }
}

/// One page of a listing; pass `next_cursor` back as `cursor` for the next one.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageDto<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> PageDto<T> {
    pub fn from_page<D>(page: Page<D>) -> Self
    where
        T: From<D>,
    {
        Self {
            items: page.items.into_iter().map(T::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartItemDto {
    pub id: String,
    pub product_id: String,
    pub name: String,
    pub slug: String,
    pub unit_price: MoneyDto,
    pub quantity: i64,
    pub line_total: Option<MoneyDto>,
    /// Units on hand now; checkout fails if it is below `quantity`.
    pub stock: i64,
    pub available: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CartDto {
    pub items: Vec<CartItemDto>,
    /// Absent for an empty cart or one that mixes currencies.
    pub subtotal: Option<MoneyDto>,
    pub item_count: i64,
    /// The coupon applied to the cart, with the discount it gives now.
    pub coupon: Option<super::coupons::CartCouponDto>,
}

impl From<CartView> for CartDto {
    fn from(cart: CartView) -> Self {
        let item_count = cart
            .lines
            .iter()
            .map(|line| line.item.quantity.units())
            .sum();
        Self {
            items: cart
                .lines
                .into_iter()
                .map(|line| CartItemDto {
                    line_total: line.line_total().ok().map(MoneyDto::from),
                    id: line.item.id.to_string(),
                    product_id: line.product.id.to_string(),
                    name: line.product.name.to_string(),
                    slug: line.product.slug.as_str().to_owned(),
                    unit_price: line.product.price.into(),
                    quantity: line.item.quantity.units(),
                    stock: line.product.stock.units(),
                    available: line.product.active,
                })
                .collect(),
            subtotal: cart.subtotal.map(MoneyDto::from),
            item_count,
            coupon: cart.coupon.map(Into::into),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderItemDto {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub unit_price: MoneyDto,
    pub quantity: i64,
    pub line_total: MoneyDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingAddressDto {
    pub recipient: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
    pub phone: String,
}

impl From<AddressSnapshot> for ShippingAddressDto {
    fn from(a: AddressSnapshot) -> Self {
        Self {
            recipient: a.recipient,
            line1: a.line1,
            line2: a.line2,
            city: a.city,
            region: a.region,
            postal_code: a.postal_code,
            country: a.country,
            phone: a.phone,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDto {
    pub id: String,
    /// The number people read and type, unique in the shop; `id` stays the key.
    #[schema(example = "SO-2026-000123")]
    pub number: String,
    pub user_id: String,
    /// `pending_payment`, `paid`, `fulfilling`, `shipped`, `delivered`, `cancelled` or `refunded`.
    pub status: String,
    pub items: Vec<OrderItemDto>,
    pub subtotal: MoneyDto,
    pub tax: MoneyDto,
    pub total: MoneyDto,
    /// Taken off the subtotal before tax by `coupon_code` (zero without a coupon).
    pub discount: MoneyDto,
    pub coupon_code: Option<String>,
    /// What delivery costs (zero without a shipping method), taxed like the goods.
    pub shipping: MoneyDto,
    /// The name of the shipping method chosen at checkout.
    pub shipping_method: Option<String>,
    /// Carrier and tracking, once the order has shipped.
    pub shipment: Option<super::shipping::ShipmentDto>,
    pub shipping_address: Option<ShippingAddressDto>,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Order> for OrderDto {
    fn from(order: Order) -> Self {
        Self {
            id: order.id.to_string(),
            number: order.number.to_string(),
            user_id: order.user_id.to_string(),
            status: order.status.as_str().to_owned(),
            items: order
                .items
                .into_iter()
                .map(|item| OrderItemDto {
                    product_id: item.product_id.to_string(),
                    sku: item.sku,
                    name: item.name,
                    unit_price: item.unit_price.into(),
                    quantity: item.quantity.units(),
                    line_total: item.line_total.into(),
                })
                .collect(),
            subtotal: order.subtotal.into(),
            tax: order.tax.into(),
            total: order.total.into(),
            discount: order.discount.into(),
            coupon_code: order.coupon_code,
            shipping: order.shipping.into(),
            shipping_method: order.shipping_method,
            shipment: order.shipment.map(Into::into),
            shipping_address: order.shipping_address.map(ShippingAddressDto::from),
            placed_at: order.placed_at,
            updated_at: order.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusChangeDto {
    pub from: Option<String>,
    pub to: String,
    pub at: DateTime<Utc>,
}

impl From<StatusChange> for StatusChangeDto {
    fn from(change: StatusChange) -> Self {
        Self {
            from: change.from.map(|status| status.as_str().to_owned()),
            to: change.to.as_str().to_owned(),
            at: change.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentDto {
    pub id: String,
    pub order_id: String,
    pub amount: MoneyDto,
    pub provider: String,
    pub reference: String,
    pub status: String,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Payment> for PaymentDto {
    fn from(payment: Payment) -> Self {
        Self {
            id: payment.id.to_string(),
            order_id: payment.order_id.to_string(),
            amount: payment.amount.into(),
            provider: payment.provider.to_string(),
            reference: payment.reference.to_string(),
            status: payment.status.as_str().to_owned(),
            failure_reason: payment.failure_reason,
            created_at: payment.created_at,
        }
    }
}
