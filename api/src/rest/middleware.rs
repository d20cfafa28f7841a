//! Cross-cutting HTTP behaviour: the per-client rate limit, security headers, and problem bodies
//! for errors raised outside handlers (the layers that apply them are in [`super::layers`]).

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    problem::Problem,
    rate_limit::{self, Decision},
    server::AppState,
};

/// Where payment providers post their notifications (`/api/v1/payments/{provider}/webhook`).
const WEBHOOK_PATHS: &str = "/api/v1/payments/";

/// Image downloads allowed per API request of the shared limit (a listing page's worth).
const IMAGES_PER_REQUEST: u64 = 20;

/// `/api/v1/products/{id}/images/{image_id}/{size}`.
fn is_image_download(path: &str) -> bool {
    path.strip_prefix("/api/v1/products/").is_some_and(|rest| {
        rest.split('/').nth(1) == Some("images") && rest.split('/').count() == 4
    })
}

/// The shared per-client limit (see [`crate::rate_limit`]), answered with 429 and `Retry-After`.
/// The payment webhooks count in a budget of their own: a provider retrying a burst of
/// notifications from few addresses must neither be throttled by, nor throttle, customers.
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let ip = rate_limit::client_ip(request.headers(), peer, state.limits.trust_forwarded_for);
    let path = request.uri().path();
    let decision = if path.starts_with(WEBHOOK_PATHS) {
        let limit = state.limits.webhook_rate_limit_per_minute;
        rate_limit::check_bucket(&state, "webhook-rate-limit", limit, ip).await
    } else if request.method() == Method::GET && is_image_download(path) {
        // A page of products shows a picture of each: image downloads count apart, in a
        // bucket as many times larger as a listing has products, so browsing is not throttled.
        let limit = state
            .limits
            .rate_limit_per_minute
            .saturating_mul(IMAGES_PER_REQUEST);
        rate_limit::check_bucket(&state, "image-rate-limit", limit, ip).await
    } else {
        rate_limit::check(&state, ip).await
    };
    match decision {
        Decision::Allow => next.run(request).await,
        Decision::Limit { limit, retry_after } => rate_limited(
            &format!("more than {limit} requests per minute"),
            retry_after,
        ),
    }
}

/// The 429 problem (`code: rate_limited`) with `Retry-After` for a client over a budget that
/// `what` describes ("more than 100 requests per minute").
pub(super) fn rate_limited(what: &str, retry_after: std::time::Duration) -> Response {
    let retry_after = retry_after.as_secs();
    let mut response = Problem::new(StatusCode::TOO_MANY_REQUESTS)
        .detail(format!("{what}; retry in {retry_after} s"))
        .extension("code", json!("rate_limited"))
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Headers that make browsers safer with whatever we return.
pub(super) fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=63072000; includeSubDomains"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

/// Errors produced outside handlers (unknown route, wrong method, body over the limit, ...)
/// come as plain text; give them the same problem body as everything else.
pub(super) fn problem_body(response: Response) -> Response {
    let status = response.status();
    // Problems pass as they are; so do pages (the sandbox payment page's errors are read by
    // people in a browser).
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| {
            let value = value.as_bytes();
            value.starts_with(crate::problem::CONTENT_TYPE.as_bytes())
                || value.starts_with(b"text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ if status.is_server_error() => "internal",
        _ => "bad_request",
    };
    let (parts, _) = response.into_parts();
    let mut problem = Problem::new(status)
        .extension("code", json!(code))
        .into_response();
    // Keep headers such as `Allow` on a 405; the body and its type are replaced.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

#[cfg(test)]
mod tests {
    use super::is_image_download;

    #[test]
    fn only_image_downloads_count_in_the_image_bucket() {
        assert!(is_image_download("/api/v1/products/p/images/i/thumbnail"));
        for other in [
            "/api/v1/products/p/images",
            "/api/v1/products/p",
            "/api/v1/products/search",
            "/api/v1/admin/products/p/images/i",
            "/api/v1/products/p/images/i/thumbnail/x",
        ] {
            assert!(!is_image_download(other), "{other}");
        }
    }
}
