//! The two layers every request goes through, written as plain `tower` services rather than
//! `axum::middleware::from_fn`: a `from_fn` layer boxes the inner service and its own future
//! on every request (two allocations, and the nested futures are moved between the boxes),
//! which was a fifth of a cached catalog GET's instructions (docs/PERFORMANCE.md, issue 14).
//! These futures are plain structs, polled in place.
//!
//! - [`EdgeLayer`] wraps the whole router once: request ids, the request's span, the request
//!   timeout, problem bodies for errors raised outside handlers, and security headers (see
//!   [`super::middleware`]).
//! - [`RouteMetricsLayer`] sits inside the router, where the matched route template is known:
//!   requests in flight, and each answer counted and timed under its route.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::{Arc, PoisonError, RwLock},
    task::{Context, Poll, ready},
    time::{Duration, Instant},
};

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderName, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use pin_project_lite::pin_project;
use serde_json::json;
use tower::{Layer, Service};
use tracing::Span;

use super::middleware::{problem_body, with_security_headers};
use crate::{
    metrics::{HttpSeries, Metrics},
    problem::Problem,
};

/// What wraps everything: the request id (the caller's `x-request-id`, or a new random UUID;
/// echoed in the answer), the request's tracing span, the request timeout, problem bodies for
/// errors raised outside handlers and security headers. One layer where `tower_http` would
/// stack four (request id, trace, request-id echo, and a body wrapper per answer).
#[derive(Debug, Clone, Copy)]
pub struct EdgeLayer {
    pub request_timeout: Duration,
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            request_timeout: self.request_timeout,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Edge<S> {
    inner: S,
    request_timeout: Duration,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The log target of the request lines (`SHOP_LOG=info,shop_api::http=debug` shows one per
/// request; 5xx answers are logged as errors at any level).
const LOG_TARGET: &str = "shop_api::http";

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let request_id = match request.headers().get(REQUEST_ID) {
            Some(given) => given.clone(),
            None => {
                let made = new_request_id();
                request.headers_mut().insert(REQUEST_ID, made.clone());
                made
            }
        };
        let span = request_span(&request);
        // Entered, not only named as the parent: log lines carry the trace ids of the current
        // span (`shop_core::telemetry`).
        let answer = {
            let _entered = span.enter();
            tracing::debug!(target: LOG_TARGET, "started processing request");
            tokio::time::timeout(self.request_timeout, self.inner.call(request))
        };
        EdgeFuture {
            answer,
            span,
            request_id: Some(request_id),
            started,
        }
    }
}

pin_project! {
    pub struct EdgeFuture<F> {
        #[pin]
        answer: tokio::time::Timeout<F>,
        span: Span,
        request_id: Option<HeaderValue>,
        started: Instant,
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let span: &Span = this.span;
        let answer = {
            let _entered = span.enter();
            ready!(this.answer.poll(cx))
        };
        let response = match answer {
            Ok(Ok(response)) => problem_body(response),
            Ok(Err(never)) => match never {},
            Err(_elapsed) => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                .detail("the request took too long")
                .extension("code", json!("timeout"))
                .into_response(),
        };
        let mut response = with_security_headers(response);
        if let Some(request_id) = this.request_id.take() {
            response
                .headers_mut()
                .entry(REQUEST_ID)
                .or_insert(request_id);
        }
        let latency_ms = this.started.elapsed().as_secs_f64() * 1_000.0;
        let status = response.status().as_u16();
        span.in_scope(|| {
            if response.status().is_server_error() {
                tracing::error!(target: LOG_TARGET, latency_ms, status, "response failed");
            } else {
                tracing::debug!(target: LOG_TARGET, latency_ms, status, "finished processing request");
            }
        });
        Poll::Ready(Ok(response))
    }
}

/// A random (version 4) UUID, as `tower_http`'s `MakeRequestUuid` makes them, but drawn from the
/// thread's generator rather than one `getrandom` system call per request.
fn new_request_id() -> HeaderValue {
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut text = uuid::Uuid::encode_buffer();
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
        .unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// The request's span. The OpenTelemetry fields stay empty without tracing; the route metrics
/// fill in the route and the status once routing and the handler are done.
fn request_span(request: &Request) -> Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        uri = %request.uri(),
        request_id,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    shop_core::telemetry::continue_from_headers(&span, |name| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    });
    span
}

/// Counts and times every request under its route template (`/api/v1/orders/{id}`).
#[derive(Debug, Clone)]
pub struct RouteMetricsLayer {
    pub metrics: Arc<Metrics>,
}

impl<S> Layer<S> for RouteMetricsLayer {
    type Service = RouteMetrics<S>;

    /// `Router::layer` calls this once per route (and for the fallback), so each route gets a
    /// series list of its own.
    fn layer(&self, inner: S) -> RouteMetrics<S> {
        RouteMetrics {
            inner,
            series: Arc::new(RouteSeries {
                metrics: Arc::clone(&self.metrics),
                known: RwLock::default(),
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RouteMetrics<S> {
    inner: S,
    series: Arc<RouteSeries>,
}

/// One route's series, one per method and status it has answered with: found by comparing a
/// few entries, where the metric families would hash two owned label strings per request.
#[derive(Debug)]
struct RouteSeries {
    metrics: Arc<Metrics>,
    known: RwLock<Vec<KnownSeries>>,
}

#[derive(Debug)]
struct KnownSeries {
    method: Method,
    route: Option<MatchedPath>,
    status: StatusCode,
    series: HttpSeries,
}

/// More than this many (method, status, route) answers on one route are looked up in the
/// families each time: a route answers with a handful.
const KNOWN_SERIES_PER_ROUTE: usize = 32;

impl RouteSeries {
    fn observe(
        &self,
        method: &Method,
        route: Option<&MatchedPath>,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let same = |known: &&KnownSeries| {
            known.status == status
                && known.method == method
                && known.route.as_ref().map(MatchedPath::as_str) == route.map(MatchedPath::as_str)
        };
        let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = known.iter().find(same) {
            known.series.observe(elapsed);
            return;
        }
        drop(known);
        let series = self.metrics.http_series(
            method.as_str(),
            route.map_or("unmatched", MatchedPath::as_str),
            status.as_u16(),
        );
        series.observe(elapsed);
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        if known.len() < KNOWN_SERIES_PER_ROUTE && !known.iter().any(|entry| same(&entry)) {
            known.push(KnownSeries {
                method: method.clone(),
                route: route.cloned(),
                status,
                series,
            });
        }
    }
}

impl<S> Service<Request> for RouteMetrics<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RouteMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // A standard method is cloned without allocation; the route template is shared.
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        let in_flight = InFlight::start(&self.series);
        RouteMetricsFuture {
            answer: self.inner.call(request),
            method,
            route,
            started: Instant::now(),
            in_flight,
        }
    }
}

pin_project! {
    pub struct RouteMetricsFuture<F> {
        #[pin]
        answer: F,
        method: Method,
        route: Option<MatchedPath>,
        started: Instant,
        in_flight: InFlight,
    }
}

impl<F> Future for RouteMetricsFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.answer.poll(cx));
        let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let status = response.status();
        if shop_core::telemetry::enabled() {
            // The request span (server.rs) learns its route template and status only here.
            let span = Span::current();
            shop_core::telemetry::rename(&span, format!("{} {route}", this.method));
            span.record("http.route", route);
            span.record("http.response.status_code", status.as_u16());
            if status.is_server_error() {
                span.record("otel.status_code", "error");
            }
        }
        this.in_flight.series.observe(
            this.method,
            this.route.as_ref(),
            status,
            this.started.elapsed(),
        );
        Poll::Ready(Ok(response))
    }
}

/// One request in the `http_requests_in_flight` gauge, until its answer is ready or the client
/// goes away (the future is dropped unfinished): the gauge never keeps a request that left.
struct InFlight {
    series: Arc<RouteSeries>,
}

impl InFlight {
    fn start(series: &Arc<RouteSeries>) -> Self {
        series.metrics.http_in_flight.inc();
        Self {
            series: Arc::clone(series),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.series.metrics.http_in_flight.dec();
    }
}
