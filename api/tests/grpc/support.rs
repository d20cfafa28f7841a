//! The gRPC suite's helpers over the shared [`TestApp`] (`tests/common/app.rs`: the application
//! `shop-api serve` runs, its gRPC and HTTP servers on one shared `AppState`, in-process on
//! 127.0.0.1 port 0 over a fresh store): tonic clients on a real connection, sign-in through
//! gRPC, and helpers for checking statuses and their details.

#![allow(dead_code)] // Not every test module uses every helper.

use std::{fmt::Debug, future::Future, net::SocketAddr};

use shop_api::grpc::pb::{
    self, cart_service_client::CartServiceClient, order_service_client::OrderServiceClient,
    product_service_client::ProductServiceClient, user_service_client::UserServiceClient,
};
use tonic::{
    Code, Request, Status,
    metadata::MetadataValue,
    transport::{Channel, Endpoint},
};
use tonic_types::StatusExt as _;

pub use crate::app::{Backend, PASSWORD, TIMEOUT, TestApp};

/// The application of a test: both servers of one shop, running until this is dropped.
pub type TestServer = TestApp;

pub async fn start(backend: Backend) -> TestServer {
    TestApp::spawn(backend).await
}

/// A server whose clients may make `rate_limit_per_minute` calls a minute (0: no limit).
pub async fn start_with(backend: Backend, rate_limit_per_minute: u64) -> TestServer {
    TestApp::builder(backend)
        .rate_limit(rate_limit_per_minute)
        .spawn()
        .await
}

/// A connection to a gRPC server, made now.
pub async fn channel(address: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{address}"))
        .expect("an endpoint")
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .connect()
        .await
        .expect("connect to the gRPC server")
}

impl TestApp {
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

    /// An administrator, registered directly (the system's own tool, like `shop-api user
    /// create`), and signed in through gRPC.
    pub async fn admin(&self) -> Session {
        let email = self.register_admin().await;
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
                shipping_method_id: None,
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
