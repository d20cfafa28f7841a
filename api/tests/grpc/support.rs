//! The harness: the gRPC server (`shop_api::grpc::serve`, the code `shop-api serve` runs) and the
//! HTTP server on one shared `AppState`, in-process on 127.0.0.1 port 0, over a fresh store;
//! tonic clients on a real connection; the `Shop` for direct setup; and helpers for checking
//! statuses and their details.
//!
//! Two backends: **embedded** (SQLite in a temporary directory, in-process key-value store) and
//! **postgres_redis** (a Postgres database of its own, dropped WITH (FORCE) when the test ends,
//! even on panic, and Redis under a key prefix of its own).

#![allow(dead_code)] // Not every test module uses every helper.

use std::{fmt::Debug, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use secrecy::SecretString;
use shop_api::{
    grpc::{
        self, GrpcSettings,
        pb::{
            self, cart_service_client::CartServiceClient, order_service_client::OrderServiceClient,
            product_service_client::ProductServiceClient, user_service_client::UserServiceClient,
        },
    },
    server::{self, AppState, Limits},
};
use shop_core::{
    adapters::{connect_and_migrate, memory::MemoryKeyValue, redis::RedisKeyValue},
    app::{Actor, AuthSettings, RegisterUser, Shop, ShopSettings},
    config::DatabaseUrl,
    ports::KeyValueStore,
};
pub use shop_testing::Backend;
use shop_testing::{PgDatabase, redis_url, unique_redis_prefix};
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tonic::{
    Code, Request, Status,
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};
use tonic_types::StatusExt as _;

pub const PASSWORD: &str = "correct horse battery";
const JWT_SECRET: &str = "grpc-api-tests-secret-long-enough-for-hs256";
const POOL_SIZE: u32 = 5;
/// Bounds every call and every wait, so a hang fails the test instead of stalling the run.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Short, so status changes reach `WatchOrder` streams quickly.
const WATCH_POLL_INTERVAL: Duration = Duration::from_millis(50);
const HEALTH_CHECK_INTERVAL: Duration = Duration::from_millis(100);

enum Database {
    Sqlite(TempDir),
    Postgres(PgDatabase),
}

/// The gRPC and HTTP servers of one shop, running until this is dropped.
pub struct TestServer {
    pub grpc_address: SocketAddr,
    pub http_address: SocketAddr,
    pub state: AppState,
    pub channel: Channel,
    stop: watch::Sender<bool>,
    grpc: Option<JoinHandle<anyhow::Result<()>>>,
    http: JoinHandle<anyhow::Result<()>>,
    database: Database,
}

impl Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("grpc_address", &self.grpc_address)
            .finish_non_exhaustive()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(grpc) = &self.grpc {
            grpc.abort();
        }
        self.http.abort();
    }
}

pub async fn start(backend: Backend) -> TestServer {
    start_with(backend, 0).await
}

/// A server whose clients may make `rate_limit_per_minute` calls a minute (0: no limit).
pub async fn start_with(backend: Backend, rate_limit_per_minute: u64) -> TestServer {
    let (store, database, kv): (_, _, Arc<dyn KeyValueStore>) = match backend {
        Backend::Embedded => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let url = DatabaseUrl::parse(&format!("sqlite://{}/shop.db", dir.path().display()))
                .expect("an SQLite URL");
            let store = connect_and_migrate(&url, POOL_SIZE)
                .await
                .expect("create and migrate the SQLite database");
            (
                store,
                Database::Sqlite(dir),
                Arc::new(MemoryKeyValue::new()),
            )
        }
        Backend::PostgresRedis => {
            let database = PgDatabase::create().await;
            let url = DatabaseUrl::parse(database.url()).expect("a Postgres URL");
            let store = connect_and_migrate(&url, POOL_SIZE)
                .await
                .expect("connect to and migrate the test database");
            let kv = RedisKeyValue::connect(&redis_url(), unique_redis_prefix())
                .await
                .expect("Redis runs at 127.0.0.1:6379 (or SHOP_TEST_REDIS_URL)");
            (store, Database::Postgres(database), Arc::new(kv))
        }
    };
    let shop = Shop::new(store, ShopSettings::default())
        .with_auth(AuthSettings::new(SecretString::from(JWT_SECRET)))
        .with_key_value(kv);
    let limits = Limits {
        rate_limit_per_minute,
        trust_forwarded_for: false,
        request_timeout: TIMEOUT,
        cors_allowed_origins: Vec::new(),
    };
    let state = AppState::new(shop, limits);
    let (stop, stopping) = watch::channel(false);
    let shutdown = move || {
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        }
    };
    let settings = GrpcSettings {
        watch_poll_interval: WATCH_POLL_INTERVAL,
        health_check_interval: HEALTH_CHECK_INTERVAL,
    };

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port for gRPC");
    let grpc_address = listener.local_addr().expect("the bound address");
    // Bound before the task starts, so calls queue in the backlog until it accepts them.
    let grpc = tokio::spawn(grpc::serve(
        listener,
        state.clone(),
        settings,
        shutdown(),
        Duration::from_secs(5),
    ));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port for HTTP");
    let http_address = listener.local_addr().expect("the bound address");
    let http = tokio::spawn(server::serve(
        listener,
        server::router(state.clone()),
        shutdown(),
        Duration::from_secs(5),
    ));
    TestServer {
        grpc_address,
        http_address,
        channel: channel(grpc_address).await,
        state,
        stop,
        grpc: Some(grpc),
        http,
        database,
    }
}

/// A connection to a gRPC server.
pub async fn channel(address: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{address}"))
        .expect("an endpoint")
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .connect()
        .await
        .expect("connect to the gRPC server")
}

impl TestServer {
    pub fn shop(&self) -> &Shop {
        &self.state.shop
    }

    pub fn users(&self) -> UserServiceClient<Channel> {
        UserServiceClient::new(self.channel.clone())
    }

    pub fn products(&self) -> ProductServiceClient<Channel> {
        ProductServiceClient::new(self.channel.clone())
    }

    pub fn cart(&self) -> CartServiceClient<Channel> {
        CartServiceClient::new(self.channel.clone())
    }

    pub fn orders(&self) -> OrderServiceClient<Channel> {
        OrderServiceClient::new(self.channel.clone())
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http_address)
    }

    /// Tells both servers to shut down, as a signal would, and waits for the gRPC server to
    /// end.
    pub async fn shut_down(&mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let grpc = self.grpc.take().expect("the gRPC server still runs");
        tokio::time::timeout(TIMEOUT, grpc)
            .await
            .expect("the gRPC server stops in time")
            .expect("the gRPC server task ends normally")
    }

    /// Drops the Postgres database under the running server (Postgres only).
    pub async fn drop_database(&self) {
        match &self.database {
            Database::Postgres(database) => database.drop_now().await,
            Database::Sqlite(_) => panic!("only a Postgres database can be dropped"),
        }
    }

    /// An administrator, registered directly (the system's own tool, like `shop-api user
    /// create`), and signed in through gRPC.
    pub async fn admin(&self) -> Session {
        let email = format!("admin-{}@example.com", uuid::Uuid::new_v4().simple());
        let command = RegisterUser {
            email: email.clone(),
            password: PASSWORD.to_owned(),
            full_name: "Ada Admin".to_owned(),
            role: Some("admin".to_owned()),
        };
        self.shop()
            .register_user(&Actor::System, command)
            .await
            .expect("register an administrator");
        self.login(&email).await
    }

    /// A customer, registered and signed in through gRPC.
    pub async fn customer(&self, name: &str) -> Session {
        let email = format!("{name}-{}@example.com", uuid::Uuid::new_v4().simple());
        let created = self
            .users()
            .create_user(pb::CreateUserRequest {
                email: email.clone(),
                password: PASSWORD.to_owned(),
                full_name: format!("{name} Customer"),
                role: pb::Role::Unspecified.into(),
            })
            .await
            .expect("CreateUser")
            .into_inner();
        assert_eq!(created.user.expect("the user").role(), pb::Role::Customer);
        self.login(&email).await
    }

    pub async fn login(&self, email: &str) -> Session {
        let response = self
            .users()
            .login(pb::LoginRequest {
                email: email.to_owned(),
                password: PASSWORD.to_owned(),
            })
            .await
            .expect("Login")
            .into_inner();
        let user = response.user.expect("the signed-in user");
        Session {
            token: response.access_token,
            user_id: user.id,
            email: email.to_owned(),
        }
    }

    /// A product created by `admin` through gRPC.
    pub async fn product(
        &self,
        admin: &Session,
        name: &str,
        price_minor: i64,
        stock: i64,
    ) -> pb::Product {
        let sku =
            format!("SKU-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]).to_uppercase();
        self.products()
            .create_product(admin.request(pb::CreateProductRequest {
                sku,
                name: name.to_owned(),
                slug: None,
                description: Some(format!("A fine {name}.")),
                price: Some(pb::Money {
                    amount_minor: price_minor,
                    currency: "USD".to_owned(),
                }),
                stock: Some(stock),
                category_id: None,
                active: None,
            }))
            .await
            .expect("CreateProduct")
            .into_inner()
            .product
            .expect("the product")
    }

    /// Puts `quantity` of `product` into the customer's cart and checks out with `key`.
    pub async fn order(
        &self,
        customer: &Session,
        product: &pb::Product,
        quantity: i64,
        key: &str,
    ) -> pb::Order {
        self.cart()
            .add_cart_item(customer.request(pb::AddCartItemRequest {
                product_id: product.id.clone(),
                quantity,
            }))
            .await
            .expect("AddCartItem");
        let response = self
            .orders()
            .create_order(customer.request(pb::CreateOrderRequest {
                idempotency_key: key.to_owned(),
                shipping_address_id: None,
            }))
            .await
            .expect("CreateOrder")
            .into_inner();
        assert!(!response.replayed);
        response.order.expect("the order")
    }
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub token: String,
    pub user_id: String,
    pub email: String,
}

impl Session {
    /// `message` with this user's bearer token in the `authorization` metadata.
    pub fn request<T>(&self, message: T) -> Request<T> {
        with_token(message, &self.token)
    }
}

pub fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).expect("a metadata value"),
    );
    request
}

/// The call failed with `code`; the status, for closer looks.
#[track_caller]
pub fn expect_code<T: Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got a success: {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            for leak in ["sqlx", "SELECT", "INSERT", "postgres", "sqlite", "panicked"] {
                assert!(!status.message().contains(leak), "{status:?}");
            }
            status
        }
    }
}

/// The call failed with INVALID_ARGUMENT, and its `google.rpc.BadRequest` names `field`.
#[track_caller]
pub fn expect_invalid<T: Debug>(result: Result<T, Status>, field: &str) -> Status {
    let status = expect_code(result, Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<&str> = details
        .bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .iter()
                .map(|violation| violation.field.as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        fields.contains(&field),
        "BadRequest names {fields:?}, not {field:?}: {status:?}"
    );
    status
}

/// Awaits `future`, failing the test when it takes longer than [`TIMEOUT`].
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, future)
        .await
        .expect("finished in time")
}
