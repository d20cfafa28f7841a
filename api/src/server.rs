//! The HTTP server: the router (probes now, `/api/v1` as it arrives) and a serve loop that shuts
//! down gracefully on SIGTERM (Kubernetes) or Ctrl-C (a developer), within a bounded grace period.

use std::{
    convert::Infallible,
    future::{Future, IntoFuture as _},
    time::Duration,
};

use anyhow::Context as _;
use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router, ServiceExt as _,
    extract::{DefaultBodyLimit, Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use shop_core::app::Shop;
use shop_core::config::Config;
use tokio::{net::TcpListener, sync::watch};
use tower::{Service, ServiceBuilder};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{metrics::Metrics, problem::Problem, rest};

/// How long `/readyz` waits for the database: a probe must answer even when the database hangs.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// Limits and network settings the middleware applies.
#[derive(Debug, Clone)]
pub struct Limits {
    pub rate_limit_per_minute: u64,
    /// The payment webhooks' own per-client budget.
    pub webhook_rate_limit_per_minute: u64,
    pub trust_forwarded_for: bool,
    pub request_timeout: Duration,
    pub cors_allowed_origins: Vec<String>,
    /// `SHOP_MAINTENANCE=read-only`: writes are refused (see [`crate::maintenance`]).
    pub maintenance_read_only: bool,
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            rate_limit_per_minute: config.rate_limit_per_minute,
            webhook_rate_limit_per_minute: config.webhook_rate_limit_per_minute,
            trust_forwarded_for: config.trust_forwarded_for,
            request_timeout: Duration::from_secs(config.request_timeout_seconds),
            cors_allowed_origins: config.cors_allowed_origins.clone(),
            maintenance_read_only: config.maintenance_read_only,
        }
    }
}

/// What every handler can reach. Cloned by every middleware layer for every request, so it is
/// one reference count, not a copy of its parts.
#[derive(Debug, Clone)]
pub struct AppState(Arc<AppStateInner>);

#[derive(Debug)]
pub struct AppStateInner {
    pub shop: Shop,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    pub catalog_cache: rest::cache::LocalCatalogCache,
    /// The embedded workers' counters, served on `/metrics` with the API's own.
    worker_metrics: std::sync::OnceLock<Arc<shop_workers::runtime::metrics::Metrics>>,
}

impl std::ops::Deref for AppState {
    type Target = AppStateInner;

    fn deref(&self) -> &AppStateInner {
        &self.0
    }
}

impl AppState {
    pub fn new(shop: Shop, limits: Limits) -> Self {
        let mut metrics = Metrics::new(Arc::clone(shop.store()));
        if let Some(views) = shop.product_views() {
            metrics.observe_product_views(Arc::clone(views.counts()));
        }
        let metrics = Arc::new(metrics);
        Self(Arc::new(AppStateInner {
            shop,
            metrics,
            limits,
            catalog_cache: Default::default(),
            worker_metrics: std::sync::OnceLock::new(),
        }))
    }

    /// Serves the embedded workers' metrics (`shop_workers_…`) on `/metrics` too.
    #[must_use]
    pub fn with_worker_metrics(
        self,
        metrics: Arc<shop_workers::runtime::metrics::Metrics>,
    ) -> Self {
        let _ = self.0.worker_metrics.set(metrics);
        self
    }
}

/// The whole HTTP surface: the REST API under `/api/v1` (rate limited), the OpenAPI document and
/// its docs page, metrics, and the probes. Every answer carries a request id and security
/// headers; every error is a problem document.
///
/// A service rather than a `Router`: an outer `Router` would box the layered stack as its
/// fallback and clone that box on every request, for nothing.
pub fn router(
    state: AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ Sync
+ 'static {
    let (api, openapi) = rest::api();
    // Maintenance refuses writes before the rate limit counts them; no layer at all otherwise.
    let api = if state.limits.maintenance_read_only {
        api.layer(middleware::from_fn(crate::maintenance::refuse_rest_writes))
    } else {
        api
    };
    // Without a budget (all limits 0) there is nothing to count: no layer at all.
    let limits = &state.limits;
    let rate_limited = limits.rate_limit_per_minute > 0 || limits.webhook_rate_limit_per_minute > 0;
    let api = if rate_limited {
        api.layer(middleware::from_fn_with_state(
            state.clone(),
            rest::middleware::rate_limit,
        ))
    } else {
        api
    };
    let openapi_json = Arc::new(openapi.to_pretty_json().unwrap_or_default());
    // Route metrics need the matched route, so they are the one layer inside the router (each
    // `Router::layer` is boxed per route and cloned on every request).
    let routes = Router::new()
        .merge(api)
        // Swagger UI from assets embedded in the binary: works offline, CSP names no other origin.
        .merge(crate::docs_page::router())
        .route(
            "/openapi.json",
            get(move || serve_openapi(Arc::clone(&openapi_json))),
        )
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(rest::layers::RouteMetricsLayer {
            metrics: Arc::clone(&state.metrics),
        })
        .with_state(state.clone());
    // Everything else wraps the router once, as one service. The router's fallback (404, 405)
    // goes through these layers too.
    ServiceBuilder::new()
        .layer(rest::layers::EdgeLayer {
            request_timeout: state.limits.request_timeout,
        })
        .option_layer(cors(&state.limits.cors_allowed_origins))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .service(routes)
}

/// Requests bodies above this are refused with 413.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// No layer at all without allowed origins: no CORS headers, so browsers keep other origins out.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| origin.parse().ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(Duration::from_secs(600));
    Some(layer)
}

async fn serve_openapi(json: Arc<String>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        json.as_ref().clone(),
    )
        .into_response()
}

/// The API's metrics, then the embedded workers' (one exposition: a single `# EOF`).
fn render_metrics(state: &AppState) -> String {
    let mut text = state.metrics.render();
    if let Some(workers) = state.worker_metrics.get() {
        if let Some(kept) = text.strip_suffix("# EOF\n").map(str::len) {
            text.truncate(kept);
        }
        text.push_str(&workers.render());
    }
    text
}

/// Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        render_metrics(&state),
    )
        .into_response()
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
    pub async fn received(&mut self) {
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

/// Serves until `shutdown` resolves (a signal, see [`ShutdownSignals`]), then stops accepting
/// connections and lets requests in flight finish for at most `grace` (Kubernetes kills the pod
/// after its own grace period anyway; ours should be shorter so the exit is clean).
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> anyhow::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
        + Clone
        + Send
        + Sync
        + 'static,
{
    let (stopping, mut stopping_seen) = watch::channel(false);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
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
