//! What every gRPC call goes through before and after its handler: a request id (taken from
//! `x-request-id` metadata or made up, put in the tracing span and echoed in the response
//! metadata), the per-client rate limit shared with REST (health checks and reflection are not
//! limited, like REST's probes), and the per-method metrics
//! `shop_grpc_requests_total{method,code}` and `shop_grpc_request_duration_seconds{method}`.
//!
//! The status of a call is known only at its very end: in the headers of a trailers-only answer
//! (which is how errors come back), else in the trailers after the last message. The response
//! body is wrapped to see it; a stream the client abandons counts as CANCELLED.

use std::{
    collections::HashSet,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::Frame;
use prost::Message as _;
use tonic::{Code, body::Body, transport::server::TcpConnectInfo};
use tower::{Layer, Service};
use tracing::Instrument as _;

use super::error;
use crate::{
    rate_limit::{self, Decision},
    server::AppState,
};

const REQUEST_ID: &str = "x-request-id";
/// Where a status's details (`google.rpc.Status`) travel.
const STATUS_DETAILS: &str = "grpc-status-details-bin";
/// Longer client-chosen request ids are replaced, so a log line stays a log line.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The layer for `tonic::transport::Server::layer`.
#[derive(Debug, Clone)]
pub struct GrpcLayer {
    state: AppState,
    /// Every method the server implements (`shop.v1.UserService/GetUser`, ...). Anything else
    /// is labelled `unknown`, so made-up paths cannot multiply the metric series.
    methods: Arc<HashSet<String>>,
}

impl GrpcLayer {
    pub fn new(state: AppState) -> Self {
        let methods = [
            super::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ]
        .into_iter()
        .filter_map(|encoded| prost_types::FileDescriptorSet::decode(encoded).ok())
        .flat_map(|set| set.file)
        .flat_map(|file| {
            let package = file.package().to_owned();
            file.service.into_iter().flat_map(move |service| {
                let prefix = format!("{package}.{}", service.name());
                service
                    .method
                    .into_iter()
                    .map(move |method| format!("{prefix}/{}", method.name()))
            })
        })
        .collect();
        Self {
            state,
            methods: Arc::new(methods),
        }
    }
}

impl<S> Layer<S> for GrpcLayer {
    type Service = GrpcMiddleware<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMiddleware {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GrpcMiddleware<S> {
    inner: S,
    layer: GrpcLayer,
}

impl<S> Service<Request<Body>> for GrpcMiddleware<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The clone that was polled ready handles this call; the fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.layer.state.clone();
        let path = request.uri().path().trim_start_matches('/');
        let method = if self.layer.methods.contains(path) {
            path.to_owned()
        } else {
            "unknown".to_owned()
        };
        let request_id = request_id(request.headers());
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            request.headers_mut().insert(REQUEST_ID, value);
        }
        let span = tracing::info_span!(
            "grpc",
            method = %method,
            request_id = %request_id,
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.grpc.status_code = tracing::field::Empty,
        );
        shop_core::telemetry::continue_from_headers(&span, |name| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
        });
        Box::pin(
            async move {
                let started = Instant::now();
                let decision = if !is_probe(&method) {
                    let peer = request
                        .extensions()
                        .get::<TcpConnectInfo>()
                        .and_then(TcpConnectInfo::remote_addr);
                    let ip = rate_limit::client_ip(
                        request.headers(),
                        peer,
                        state.limits.trust_forwarded_for,
                    );
                    rate_limit::check(&state, ip).await
                } else {
                    Decision::Allow
                };
                let refused = if Decision::Allow == decision {
                    refused_session(&state, request.headers()).await
                } else {
                    None
                };
                let mut response = match decision {
                    Decision::Allow if refused.is_some() => {
                        let error = refused.unwrap_or(shop_core::app::AppError::Unauthenticated);
                        error::status(error).into_http()
                    }
                    // Read-only maintenance: writes are refused before their handler runs.
                    Decision::Allow
                        if state.limits.maintenance_read_only
                            && crate::maintenance::is_grpc_write(&method) =>
                    {
                        crate::maintenance::grpc_refusal().into_http()
                    }
                    Decision::Allow => malformed_as_invalid(inner.call(request).await?),
                    Decision::Limit { limit, retry_after } => {
                        error::rate_limited(limit, retry_after).into_http()
                    }
                };
                if let Ok(value) = HeaderValue::from_str(&request_id) {
                    response.headers_mut().insert(REQUEST_ID, value);
                }
                let recorder = Recorder {
                    state,
                    method,
                    started,
                    span: tracing::Span::current(),
                };
                // Trailers-only: the call is over.
                if let Some(code) = status_code(response.headers()) {
                    recorder.finish(code);
                    return Ok(response);
                }
                Ok(response.map(|body| {
                    Body::new(MeteredBody {
                        inner: body,
                        recorder: Some(recorder),
                    })
                }))
            }
            .instrument(span),
        )
    }
}

/// tonic answers INTERNAL when the request's bytes are not a message of the method's type (a
/// wrong wire type, invalid UTF-8 in a string, a truncated message) or not a gRPC message at all
/// (no message, a bad frame): before any handler runs, in a trailers-only answer without details.
/// That is the client's mistake, so it becomes INVALID_ARGUMENT. Every INTERNAL a handler
/// answers carries an `ErrorInfo` (see [`error::status`]) and passes unchanged.
fn malformed_as_invalid(response: Response<Body>) -> Response<Body> {
    let headers = response.headers();
    if status_code(headers) != Some(Code::Internal) || headers.contains_key(STATUS_DETAILS) {
        return response;
    }
    let cause = tonic::Status::from_header_map(headers)
        .map(|status| status.message().to_owned())
        .unwrap_or_default();
    error::malformed_request(&cause).into_http()
}

/// Why a call carrying a valid bearer token is refused before its handler: UNAUTHENTICATED when
/// a password reset ended the token's session, UNAVAILABLE when the key-value store that says so
/// cannot be read. Checked here, where the key-value store can be awaited; the handlers'
/// synchronous `actor` checks the rest of the token.
async fn refused_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<shop_core::app::AppError> {
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        })?;
    state.shop.actor_from_access_token(token).ok()?;
    state.shop.actor_from_live_access_token(token).await.err()
}

/// Health checks and reflection, which the rate limit leaves alone (like REST's probes and
/// OpenAPI document): a busy client must not make its pod look dead.
fn is_probe(method: &str) -> bool {
    method.starts_with("grpc.health.") || method.starts_with("grpc.reflection.")
}

/// The caller's request id when it is a sensible one, else a new UUID.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= MAX_REQUEST_ID_LEN
                && id.bytes().all(|byte| byte.is_ascii_graphic())
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

fn status_code(headers: &HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .map(|value| Code::from_bytes(value.as_bytes()))
}

/// Records one call's outcome exactly once.
struct Recorder {
    state: AppState,
    method: String,
    started: Instant,
    span: tracing::Span,
}

impl Recorder {
    fn finish(self, code: Code) {
        let elapsed = self.started.elapsed();
        let code = error::code_name(code);
        self.state.metrics.observe_grpc(&self.method, code, elapsed);
        self.span.record("rpc.grpc.status_code", code);
        self.span.in_scope(|| {
            tracing::debug!(code, elapsed_ms = elapsed.as_millis(), "gRPC call finished");
        });
    }
}

/// The response body, watched for the status in its trailers.
struct MeteredBody {
    inner: Body,
    recorder: Option<Recorder>,
}

impl http_body::Body for MeteredBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame
                .trailers_ref()
                .map(|trailers| status_code(trailers).unwrap_or(Code::Unknown)),
            Poll::Ready(Some(Err(status))) => Some(status.code()),
            // Ended without trailers: no status was sent.
            Poll::Ready(None) => Some(Code::Unknown),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(recorder) = self.recorder.take()
        {
            recorder.finish(code);
        }
        polled
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        // Dropped before the status went out: the client went away (or the server stopped).
        if let Some(recorder) = self.recorder.take() {
            recorder.finish(Code::Cancelled);
        }
    }
}
