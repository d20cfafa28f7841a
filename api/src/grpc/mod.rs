//! The gRPC API (`shop.v1`, protos in `api/proto/shop/v1`): a thin transport over
//! `shop_core::app`, like REST. Handlers parse the request into the same commands and queries,
//! call the application (which decides authorization from the [`Actor`]) and map the answer;
//! errors become statuses in [`error`] only. Served next to the HTTP server by `shop-api serve`,
//! sharing its [`AppState`]: the shop, sessions, the per-client rate limit and the metrics.
//!
//! Besides the shop's services the server answers `grpc.health.v1.Health` (SERVING while the
//! database answers, re-checked periodically; usable by Kubernetes' native gRPC probes) and
//! server reflection (v1 and v1alpha), so `grpcurl` works without the protos.

mod cart;
mod convert;
pub mod error;
mod middleware;
mod orders;
mod products;
mod users;

use std::{future::Future, time::Duration};

use anyhow::Context as _;
use shop_core::app::{Actor, AppError, Shop};
use tokio::{net::TcpListener, sync::watch};
use tonic::{
    Request, Status,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::server::AppState;

/// The generated messages, services and clients of package `shop.v1`.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_debug_implementations,
    unused_qualifications,
    missing_docs
)]
pub mod pb {
    tonic::include_proto!("shop.v1");
}

/// The encoded `FileDescriptorSet` of `shop.v1` and its imports, as reflection serves it.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/shop_v1_descriptor.bin"));

/// The shop's services, by their full names.
pub const SERVICE_NAMES: [&str; 4] = [
    pb::user_service_server::SERVICE_NAME,
    pb::product_service_server::SERVICE_NAME,
    pb::cart_service_server::SERVICE_NAME,
    pb::order_service_server::SERVICE_NAME,
];

const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a database check may take before the health service calls it failed.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Timings of the gRPC server; the defaults are what `shop-api serve` uses.
#[derive(Debug, Clone)]
pub struct GrpcSettings {
    /// How often `WatchOrder` looks for status changes. Replicas share no memory, so a change
    /// made through another replica can only be seen in the database.
    pub watch_poll_interval: Duration,
    /// How often the health service re-checks the database.
    pub health_check_interval: Duration,
}

impl Default for GrpcSettings {
    fn default() -> Self {
        Self {
            watch_poll_interval: Duration::from_millis(250),
            health_check_interval: Duration::from_secs(5),
        }
    }
}

/// What every handler can reach.
#[derive(Debug, Clone)]
struct Context {
    state: AppState,
    settings: GrpcSettings,
    /// Turns true when the server starts shutting down: open streams end then.
    stopping: watch::Receiver<bool>,
}

impl Context {
    fn shop(&self) -> &Shop {
        &self.state.shop
    }

    /// Whoever is asking: the user of the bearer token in the `authorization` metadata, or
    /// anonymous without one. A token that is present but wrong is refused, never treated as
    /// anonymous.
    fn actor<T>(&self, request: &Request<T>) -> Result<Actor, Status> {
        let Some(value) = request.metadata().get("authorization") else {
            return Ok(Actor::Anonymous);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token)
            })
            .ok_or_else(|| error::status(AppError::Unauthenticated))?;
        self.shop()
            .actor_from_access_token(token.trim())
            .map_err(error::status)
    }
}

/// Serves the gRPC API on `listener` until `shutdown` resolves, then stops accepting calls, ends
/// open streams and lets calls in flight finish for at most `grace`. `shop-api serve` and the
/// tests both run the server through here.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    settings: GrpcSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> anyhow::Result<()> {
    let (stopping_sender, stopping) = watch::channel(false);
    let (health, health_service) = tonic_health::server::health_reporter();
    // The first answer is known before the first call is accepted.
    let mut serving = database_status(&state.shop).await;
    report(&health, serving).await;
    tokio::spawn({
        let (health, shop, mut stopping) = (health.clone(), state.shop.clone(), stopping.clone());
        let interval = settings.health_check_interval;
        async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(interval) => {}
                    () = stopped(&mut stopping) => return,
                }
                let now = database_status(&shop).await;
                if now != serving {
                    tracing::info!(status = ?now, "gRPC health changed");
                    serving = now;
                }
                report(&health, now).await;
            }
        }
    });

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("cannot build the gRPC reflection service")?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("cannot build the gRPC reflection service")?;

    let context = Context {
        state: state.clone(),
        settings,
        stopping: stopping.clone(),
    };
    let signal = {
        let health = health.clone();
        async move {
            shutdown.await;
            let _ = stopping_sender.send(true);
            report(&health, ServingStatus::NotServing).await;
        }
    };
    let server = Server::builder()
        .timeout(state.limits.request_timeout)
        // Pings find clients that vanished without closing their streams (and keep idle
        // streams alive through proxies).
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .layer(middleware::GrpcLayer::new(state.clone()))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(pb::user_service_server::UserServiceServer::new(
            users::UserApi(context.clone()),
        ))
        .add_service(pb::product_service_server::ProductServiceServer::new(
            products::ProductApi(context.clone()),
        ))
        .add_service(pb::cart_service_server::CartServiceServer::new(
            cart::CartApi(context.clone()),
        ))
        .add_service(pb::order_service_server::OrderServiceServer::new(
            orders::OrderApi(context),
        ))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), signal);
    let grace_over = {
        let mut stopping = stopping;
        async move {
            if stopping.wait_for(|stopping| *stopping).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace).await;
        }
    };
    tokio::select! {
        result = server => result.context("the gRPC server failed")?,
        () = grace_over => {
            tracing::warn!(?grace, "grace period over: closing the gRPC calls still open");
        }
    }
    Ok(())
}

/// Resolves once the server is stopping (or gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stopping| *stopping).await;
}

async fn database_status(shop: &Shop) -> ServingStatus {
    match tokio::time::timeout(HEALTH_CHECK_TIMEOUT, shop.ping()).await {
        Ok(Ok(())) => ServingStatus::Serving,
        Ok(Err(error)) => {
            tracing::warn!(error = ?error, "gRPC health: the database check failed");
            ServingStatus::NotServing
        }
        Err(_) => {
            tracing::warn!(timeout = ?HEALTH_CHECK_TIMEOUT, "gRPC health: the database did not answer");
            ServingStatus::NotServing
        }
    }
}

/// The whole server (`""`) and each shop service report the same status: they all stand or fall
/// with the database.
async fn report(health: &HealthReporter, status: ServingStatus) {
    for service in std::iter::once("").chain(SERVICE_NAMES) {
        health.set_service_status(service, status).await;
    }
}
