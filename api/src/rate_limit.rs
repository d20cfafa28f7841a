//! The per-client rate limit both transports apply: one decision, one budget. REST calls it
//! from its middleware, gRPC from its tower layer; both count in the same key-value store under
//! the same key, so a client's REST and gRPC requests share one budget per minute.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use http::HeaderMap;

use crate::server::AppState;

const WINDOW: Duration = Duration::from_secs(60);

/// What the limiter says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Over `limit` requests this minute; the window ends in `retry_after`.
    Limit {
        limit: u64,
        retry_after: Duration,
    },
}

/// The client's address: the peer, or the first `X-Forwarded-For` hop when the shop is told to
/// trust its proxy (otherwise anyone could pick their own rate-limit bucket).
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(forwarded) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok())
        && let Some(ip) = forwarded
            .split(',')
            .next()
            .and_then(|first| first.trim().parse().ok())
    {
        return Some(ip);
    }
    peer.map(|peer| peer.ip())
}

/// A fixed window per client IP, counted in the key-value store: Redis when configured, so all
/// replicas share one budget per client. Fails open when the store is unavailable (an outage of
/// the limiter should not become an outage of the shop), and when the client is unknown.
/// Refusals are counted in `shop_rate_limited_requests_total`.
pub async fn check(state: &AppState, ip: Option<IpAddr>) -> Decision {
    check_bucket(state, "rate-limit", state.limits.rate_limit_per_minute, ip).await
}

/// The same fixed window in a budget of its own: `bucket` names it in the key-value store.
/// The payment webhooks use one, so providers' retries and customers never share a budget.
pub async fn check_bucket(
    state: &AppState,
    bucket: &str,
    limit: u64,
    ip: Option<IpAddr>,
) -> Decision {
    let Some(ip) = ip.filter(|_| limit > 0) else {
        return Decision::Allow;
    };
    match state
        .shop
        .key_value()
        .increment(&format!("{bucket}:{ip}"), WINDOW)
        .await
    {
        Ok((count, _)) if count <= limit => Decision::Allow,
        Ok((_, remaining)) => {
            state.metrics.rate_limited.inc();
            Decision::Limit {
                limit,
                retry_after: Duration::from_secs(remaining.as_secs().max(1)),
            }
        }
        Err(error) => {
            tracing::warn!(error = %error, "rate limiter unavailable: letting the request through");
            Decision::Allow
        }
    }
}
