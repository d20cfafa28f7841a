//! The operator's HTTP server: `/healthz`, `/readyz` and `/metrics` on one port.
//!
//! Readiness means "this replica is doing its job": the CRDs exist and, if it leads, its
//! controllers run. A standby replica (not leading) is ready too: waiting for the Lease is its
//! job, and marking it unready would only make `kubectl rollout status` and PodDisruptionBudgets
//! treat a correct standby as broken. Nothing routes traffic to the operator by readiness, so the
//! probe is purely a health signal. During shutdown the replica reports unready.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// Content type of the OpenMetrics text format that `prometheus-client` writes.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What readiness is computed from, updated by the startup sequence and the leader loop.
#[derive(Debug, Default)]
pub struct Health {
    crds_installed: AtomicBool,
    leading: AtomicBool,
    controllers_running: AtomicBool,
    shutting_down: AtomicBool,
}

impl Health {
    /// The CRD check passed.
    pub fn set_crds_installed(&self) {
        self.crds_installed.store(true, Ordering::Release);
    }

    /// This replica holds the Lease (its controllers are about to start) or no longer does.
    pub fn set_leading(&self, leading: bool) {
        self.leading.store(leading, Ordering::Release);
    }

    /// The controllers started or stopped.
    pub fn set_controllers_running(&self, running: bool) {
        self.controllers_running.store(running, Ordering::Release);
    }

    /// Shutdown began.
    pub fn set_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        let crds = self.crds_installed.load(Ordering::Acquire);
        let leading = self.leading.load(Ordering::Acquire);
        let running = self.controllers_running.load(Ordering::Acquire);
        let stopping = self.shutting_down.load(Ordering::Acquire);
        crds && (!leading || running) && !stopping
    }
}

#[derive(Clone, Debug)]
struct AppState {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

/// The routes, separate from the listener so tests can serve them on any port.
pub fn router(health: Arc<Health>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { health, metrics })
}

/// Binds the address now, so that a port in use fails startup instead of a background task.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--metrics-addr)"))
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server failed")
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.health.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        state.metrics.encode(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn a_standby_is_ready_and_a_leader_only_once_its_controllers_run() {
        let health = Health::default();
        assert!(!health.is_ready(), "not ready before the CRD check");
        health.set_crds_installed();
        assert!(health.is_ready(), "a standby is ready");
        health.set_leading(true);
        assert!(!health.is_ready(), "a leader without controllers is not");
        health.set_controllers_running(true);
        assert!(health.is_ready());
        health.set_shutting_down();
        assert!(!health.is_ready(), "a replica shutting down is not");
    }

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send request");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .await
            .expect("read response");
        response
    }

    #[tokio::test]
    async fn serves_probes_and_metrics_until_shutdown() {
        let health = Arc::new(Health::default());
        let metrics = Arc::new(Metrics::new());
        let listener = bind("127.0.0.1:0".parse().expect("address"))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            router(health.clone(), metrics),
            async move {
                let _ = stopped.await;
            },
        ));

        assert!(get(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 503"));
        health.set_crds_installed();
        assert!(get(addr, "/readyz").await.starts_with("HTTP/1.1 200"));
        let response = get(addr, "/metrics").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response.contains(&format!("content-type: {OPENMETRICS_CONTENT_TYPE}")),
            "{response}"
        );
        assert!(response.contains("shop_operator_leader 0"), "{response}");

        stop.send(()).expect("server still running");
        server
            .await
            .expect("server task")
            .expect("server stops cleanly");
    }
}
