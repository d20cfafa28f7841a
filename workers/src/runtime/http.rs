//! `/healthz` (the process answers), `/readyz` (connected to the broker and the database, and
//! every selected worker consuming) and `/metrics` on the metrics address.

use std::{
    collections::BTreeMap,
    future::Future,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use shop_core::messaging::WorkerKind;
use tokio::net::TcpListener;

use super::metrics::Metrics;

/// Content type of the OpenMetrics text format that `prometheus-client` writes.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What readiness is computed from.
#[derive(Debug, Default)]
pub struct Health {
    /// Each selected worker and whether it is consuming now.
    consuming: Mutex<BTreeMap<WorkerKind, bool>>,
    database: AtomicBool,
    stopping: AtomicBool,
}

impl Health {
    pub fn new(workers: &[WorkerKind]) -> Self {
        Self {
            consuming: Mutex::new(workers.iter().map(|kind| (*kind, false)).collect()),
            ..Self::default()
        }
    }

    pub fn set_consuming(&self, kind: WorkerKind, consuming: bool) {
        self.consuming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(kind, consuming);
    }

    pub fn set_database(&self, up: bool) {
        self.database.store(up, Ordering::Release);
    }

    pub fn database(&self) -> bool {
        self.database.load(Ordering::Acquire)
    }

    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// Whether `/readyz` answers 200, and the state of each part.
    pub fn readiness(&self) -> (bool, serde_json::Value) {
        let consuming = self
            .consuming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let database = self.database();
        let stopping = self.stopping.load(Ordering::Acquire);
        let ready = database && !stopping && consuming.values().all(|up| *up);
        let workers: serde_json::Map<String, serde_json::Value> = consuming
            .iter()
            .map(|(kind, up)| {
                (
                    kind.name().to_owned(),
                    json!(if *up { "consuming" } else { "not consuming" }),
                )
            })
            .collect();
        (
            ready,
            json!({
                "status": if ready { "ready" } else { "not ready" },
                "database": if database { "up" } else { "down" },
                "stopping": stopping,
                "workers": workers,
            }),
        )
    }
}

#[derive(Clone, Debug)]
struct HttpState {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

/// The routes, separate from the listener so tests can serve them anywhere.
pub fn router(health: Arc<Health>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(HttpState { health, metrics })
}

/// Binds `address` (port 0 picks a free one) and returns the bound address with the server.
pub async fn bind(
    address: SocketAddr,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, impl Future<Output = std::io::Result<()>>)> {
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let server = axum::serve(listener, router(health, metrics)).with_graceful_shutdown(shutdown);
    Ok((bound, server.into_future()))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<HttpState>) -> Response {
    let (ready, body) = state.health.readiness();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics_text(State(state): State<HttpState>) -> Response {
    (
        [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        state.metrics.render(),
    )
        .into_response()
}
