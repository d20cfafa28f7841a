//! The harness: a fresh, migrated database per test (its own Postgres database, or an SQLite file
//! in a temporary directory), the `Shop` on top of it, and helpers that set up the usual data.

use std::{fmt::Debug, ops::Deref};

use shop_core::{
    adapters::connect_and_migrate,
    app::{
        Actor, AddToCart, AddressInput, AppError, AppResult, Checkout, CheckoutResult,
        CreateProduct, RegisterUser, Shop, ShopSettings,
    },
    config::DatabaseUrl,
    domain::{
        Address, Category, Order, OutboxEvent, Product, ProductId, Role, TaxRate, User, UserId,
    },
    ports::{OrderQuery, ProductFilter, ProductQuery, ProductSort},
};
use shop_testing::PgDatabase;
use tempfile::TempDir;
use uuid::Uuid;

/// Instantiates each contract test once per backend, as `<module>::postgres::<name>` and
/// `<module>::sqlite::<name>`, so a failure names the backend it happened on.
macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::support::postgres().await).await
                }
            )*
        }

        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::support::sqlite().await).await
                }
            )*
        }
    };
}

/// Every password the helpers register with.
pub const PASSWORD: &str = "correct horse battery";

const POOL_SIZE: u32 = 20;

/// A shop on its own empty database, which lives as long as this value.
pub struct TestShop {
    pub shop: Shop,
    /// The database's URL, for tests that look at what the ports do not show.
    pub url: DatabaseUrl,
    // Dropped after the shop, so the pool goes first.
    _postgres: Option<PgDatabase>,
    _sqlite: Option<TempDir>,
}

impl Debug for TestShop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestShop")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Deref for TestShop {
    type Target = Shop;
    fn deref(&self) -> &Shop {
        &self.shop
    }
}

impl TestShop {
    pub fn backend(&self) -> &'static str {
        self.shop.store().backend()
    }

    /// The same storage behind a shop that charges `basis_points` of tax.
    pub fn with_tax(&self, basis_points: u32) -> Shop {
        let tax_rate = TaxRate::from_basis_points(basis_points).expect("a valid tax rate");
        Shop::new(self.shop.store().clone(), ShopSettings { tax_rate })
    }
}

/// A shop on a fresh Postgres database of its own.
pub async fn postgres() -> TestShop {
    let database = PgDatabase::create().await;
    let url = DatabaseUrl::parse(database.url()).expect("a Postgres URL");
    let store = connect_and_migrate(&url, POOL_SIZE)
        .await
        .expect("connect to and migrate the test database");
    TestShop {
        shop: Shop::new(store, ShopSettings::default()),
        url,
        _postgres: Some(database),
        _sqlite: None,
    }
}

/// A shop on a fresh SQLite file in a temporary directory.
pub async fn sqlite() -> TestShop {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("shop.db");
    let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).expect("an SQLite URL");
    let store = connect_and_migrate(&url, POOL_SIZE)
        .await
        .expect("create and migrate the SQLite database");
    TestShop {
        shop: Shop::new(store, ShopSettings::default()),
        url,
        _postgres: None,
        _sqlite: Some(dir),
    }
}

// ---------------------------------------------------------------------------------------------
// Actors and users

/// The operator's own tools: staff without a user account.
pub fn admin() -> Actor {
    Actor::System
}

pub fn actor_of(user: &User) -> Actor {
    Actor::user(user.id, user.role)
}

pub async fn register(shop: &Shop, email: &str, role: Role) -> (User, Actor) {
    let user = shop
        .register_user(
            &Actor::System,
            RegisterUser {
                email: email.to_owned(),
                password: PASSWORD.to_owned(),
                full_name: format!("Test {email}"),
                role: Some(role.as_str().to_owned()),
            },
        )
        .await
        .unwrap_or_else(|error| panic!("register {email}: {error:?}"));
    let actor = actor_of(&user);
    (user, actor)
}

pub async fn register_customer(shop: &Shop, email: &str) -> (User, Actor) {
    register(shop, email, Role::Customer).await
}

pub async fn register_admin(shop: &Shop, email: &str) -> (User, Actor) {
    register(shop, email, Role::Admin).await
}

/// `count` customers, registered concurrently (each costs a password hash).
pub async fn register_customers(shop: &Shop, prefix: &str, count: usize) -> Vec<(User, Actor)> {
    futures::future::join_all(
        (0..count).map(|n| async move {
            register_customer(shop, &format!("{prefix}{n}@example.com")).await
        }),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Catalog

pub fn product_command(sku: &str, price_minor: i64, stock: i64) -> CreateProduct {
    CreateProduct {
        sku: sku.to_owned(),
        name: format!("Product {sku}"),
        slug: None,
        description: None,
        price_minor,
        currency: "USD".to_owned(),
        stock: Some(stock),
        category_id: None,
        active: None,
        weight_grams: None,
    }
}

pub async fn create_product(shop: &Shop, sku: &str, price_minor: i64, stock: i64) -> Product {
    create_product_with(shop, product_command(sku, price_minor, stock)).await
}

pub async fn create_product_with(shop: &Shop, command: CreateProduct) -> Product {
    let sku = command.sku.clone();
    shop.create_product(&admin(), command)
        .await
        .unwrap_or_else(|error| panic!("create product {sku}: {error:?}"))
}

/// The product as stored now, whether active or not.
pub async fn product_now(shop: &Shop, id: ProductId) -> Product {
    shop.store()
        .get_product(id)
        .await
        .expect("read the product")
        .expect("the product exists")
}

pub async fn stock_of(shop: &Shop, id: ProductId) -> i64 {
    product_now(shop, id).await.stock.units()
}

// ---------------------------------------------------------------------------------------------
// Addresses, cart and checkout

pub fn address_input(recipient: &str) -> AddressInput {
    AddressInput {
        recipient: recipient.to_owned(),
        line1: "1 Main Street".to_owned(),
        line2: None,
        city: "Springfield".to_owned(),
        region: Some("IL".to_owned()),
        postal_code: "62701".to_owned(),
        country: "us".to_owned(),
        phone: None,
        is_default: false,
    }
}

pub async fn add_address(shop: &Shop, actor: &Actor, recipient: &str) -> Address {
    shop.add_address(actor, address_input(recipient))
        .await
        .expect("add an address")
}

pub async fn add_to_cart(shop: &Shop, actor: &Actor, product: ProductId, quantity: i64) {
    shop.add_to_cart(
        actor,
        AddToCart {
            product_id: product.to_string(),
            quantity,
        },
    )
    .await
    .expect("add to the cart");
}

pub fn checkout_command(key: &str) -> Checkout {
    Checkout {
        idempotency_key: key.to_owned(),
        shipping_address_id: None,
        shipping_method_id: None,
    }
}

pub async fn checkout(shop: &Shop, actor: &Actor, key: &str) -> CheckoutResult {
    shop.checkout(actor, checkout_command(key))
        .await
        .expect("checkout")
}

/// Puts `quantity` of `product` in the cart and checks out.
pub async fn place_order(shop: &Shop, actor: &Actor, product: ProductId, quantity: i64) -> Order {
    add_to_cart(shop, actor, product, quantity).await;
    checkout(shop, actor, &Uuid::new_v4().to_string())
        .await
        .order
}

// ---------------------------------------------------------------------------------------------
// Reading storage directly, to check what a command did (or did not do)

pub async fn all_events(shop: &Shop) -> Vec<OutboxEvent> {
    shop.store()
        .pending_events(100_000)
        .await
        .expect("read the outbox")
}

pub async fn events_of_type(shop: &Shop, event_type: &str) -> Vec<OutboxEvent> {
    all_events(shop)
        .await
        .into_iter()
        .filter(|event| event.event_type == event_type)
        .collect()
}

pub async fn all_products(shop: &Shop) -> Vec<Product> {
    shop.store()
        .list_products(&ProductQuery {
            filter: ProductFilter {
                include_inactive: true,
                ..ProductFilter::default()
            },
            sort: ProductSort::Newest,
            after: None,
            limit: 100_000,
        })
        .await
        .expect("list every product")
}

pub async fn all_orders(shop: &Shop) -> Vec<Order> {
    orders_where(shop, None).await
}

pub async fn orders_where(shop: &Shop, user_id: Option<UserId>) -> Vec<Order> {
    shop.store()
        .list_orders(&OrderQuery {
            user_id,
            status: None,
            number: None,
            after: None,
            limit: 100_000,
        })
        .await
        .expect("list every order")
}

pub async fn all_users(shop: &Shop) -> Vec<User> {
    shop.store()
        .list_users(None, 100_000)
        .await
        .expect("list every user")
}

pub async fn all_categories(shop: &Shop) -> Vec<Category> {
    shop.list_categories().await.expect("list categories")
}

/// Everything storage holds that a refused command might have touched by mistake.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    users: Vec<User>,
    categories: Vec<Category>,
    products: Vec<Product>,
    orders: Vec<Order>,
    events: Vec<OutboxEvent>,
}

pub async fn snapshot(shop: &Shop) -> Snapshot {
    Snapshot {
        users: all_users(shop).await,
        categories: all_categories(shop).await,
        products: all_products(shop).await,
        orders: all_orders(shop).await,
        events: all_events(shop).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Assertions

/// Asserts that `result` is a validation error naming exactly `fields`.
#[track_caller]
pub fn expect_validation<T: Debug>(result: AppResult<T>, fields: &[&str]) {
    match result {
        Err(AppError::Validation(errors)) => {
            let named: Vec<&str> = errors.fields().keys().map(String::as_str).collect();
            let mut expected = fields.to_vec();
            expected.sort_unstable();
            assert_eq!(named, expected, "fields named by {errors:?}");
        }
        other => panic!("expected a validation error on {fields:?}, got {other:?}"),
    }
}
