//! The HTTP server: the router (probes now, `/api/v1` as it arrives) and a serve loop that shuts
//! down gracefully on SIGTERM (Kubernetes) or Ctrl-C (a developer), within a bounded grace period.

use std::{future::IntoFuture as _, time::Duration};

use anyhow::Context as _;
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use shop_core::app::Shop;
use tokio::{net::TcpListener, sync::watch};
use tower_http::trace::TraceLayer;

use crate::problem::Problem;

/// How long `/readyz` waits for the database: a probe must answer even when the database hangs.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub shop: Shop,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Liveness: the process answers. Deliberately checks no dependency, so a database outage makes
/// pods unready (taken out of the Service) rather than restarted in a loop.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the shop can serve requests, i.e. its database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    let failure = match tokio::time::timeout(READINESS_TIMEOUT, state.shop.ping()).await {
        Ok(Ok(())) => {
            return Json(json!({ "status": "ready", "checks": { "database": "ok" } }))
                .into_response();
        }
        Ok(Err(error)) => format!("{error:?}"),
        Err(_) => format!("no answer within {READINESS_TIMEOUT:?}"),
    };
    // The cause goes to the log only: a probe's body is readable by anyone who can reach it.
    tracing::warn!(error = %failure, "not ready: the database check failed");
    Problem::new(StatusCode::SERVICE_UNAVAILABLE)
        .detail("the shop cannot reach its database")
        .extension("checks", json!({ "database": "failing" }))
        .into_response()
}

/// SIGTERM and SIGINT, caught from the moment this is created (not from the first poll), so a
/// signal that arrives while the server is still starting is not lost.
#[derive(Debug)]
pub struct ShutdownSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    pub fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Resolves when the first of the signals arrives.
    pub async fn received(mut self) {
        #[cfg(unix)]
        {
            let signal = tokio::select! {
                _ = self.terminate.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            };
            tracing::info!(signal, "shutting down: finishing requests in flight");
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down: finishing requests in flight");
        }
    }
}

/// Serves until a shutdown signal, then stops accepting connections and lets requests in flight
/// finish for at most `grace` (Kubernetes kills the pod after its own grace period anyway; ours
/// should be shorter so the exit is clean).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    signals: ShutdownSignals,
    grace: Duration,
) -> anyhow::Result<()> {
    let (stopping, mut stopping_seen) = watch::channel(false);
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            signals.received().await;
            let _ = stopping.send(true);
        })
        .into_future();
    let grace_over = async move {
        // The sender lives as long as the server; if it is gone the server has ended anyway.
        if stopping_seen.wait_for(|stopping| *stopping).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result.context("the HTTP server failed")?,
        () = grace_over => {
            tracing::warn!(?grace, "grace period over: closing the connections still open");
        }
    }
    Ok(())
}
