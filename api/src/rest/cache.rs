//! The catalog response cache. Anonymous catalog answers are stored as the exact bytes sent,
//! keyed by the catalog generation (see `Shop::catalog_generation`) and the request URI, so any
//! product, stock or category write makes every older entry unreachable at once. Entries also
//! expire after a minute. Checkout never reads from here: it always reads the database.
//!
//! Two levels: a small map in this process (no network round trip at all), then the key-value
//! store, Redis when configured (shared by replicas). The generation itself is re-read at most
//! every half second (`shop_core::app::GENERATION_REFRESH`), so another replica's write shows
//! here within that time and this replica's own writes at once. A cache failure is logged and
//! the request is served from the database.

use std::{
    collections::HashMap,
    future::Future,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::body::Bytes;

use axum::{
    http::{HeaderValue, Uri, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use shop_core::app::Actor;

use super::error::ApiResult;
use crate::server::AppState;

const TTL: Duration = Duration::from_secs(60);
/// Answers larger than this are served but not cached.
const MAX_ENTRY_BYTES: usize = 512 * 1024;

pub async fn read_through<T: Serialize>(
    state: &AppState,
    actor: &Actor,
    uri: &Uri,
    load: impl Future<Output = ApiResult<T>>,
) -> ApiResult<Response> {
    // Staff may see deactivated products: their answers differ and are never cached.
    let cacheable = matches!(actor, Actor::Anonymous);
    let key = if cacheable {
        cache_key(state, uri).await
    } else {
        None
    };
    if let Some(key) = &key {
        if let Some(bytes) = state.catalog_cache.get(key) {
            state.metrics.cache_hits.inc();
            return Ok(json_response(bytes, "hit"));
        }
        match state.shop.key_value().get(key).await {
            Ok(Some(bytes)) => {
                state.metrics.cache_hits.inc();
                let bytes = Bytes::from(bytes);
                state.catalog_cache.put(key, bytes.clone());
                return Ok(json_response(bytes, "hit"));
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(error = %error, "catalog cache read failed"),
        }
        state.metrics.cache_misses.inc();
    }
    let value = load.await?;
    let bytes = Bytes::from(
        serde_json::to_vec(&value)
            .map_err(|error| shop_core::app::AppError::Internal(Box::new(error)))?,
    );
    if let Some(key) = &key
        && bytes.len() <= MAX_ENTRY_BYTES
    {
        state.catalog_cache.put(key, bytes.clone());
        if let Err(error) = state.shop.key_value().set(key, &bytes, TTL).await {
            tracing::warn!(error = %error, "catalog cache write failed");
        }
    }
    Ok(json_response(
        bytes,
        if key.is_some() { "miss" } else { "bypass" },
    ))
}

async fn cache_key(state: &AppState, uri: &Uri) -> Option<String> {
    match state.shop.catalog_generation().await {
        Ok(generation) => Some(format!("catalog-cache:{generation}:{uri}")),
        Err(error) => {
            tracing::warn!(error = %error, "catalog generation unavailable: not caching");
            None
        }
    }
}

fn json_response(bytes: Bytes, cache: &'static str) -> Response {
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-cache", HeaderValue::from_static(cache));
    response
}

/// Entries this process keeps, at most [`LOCAL_ENTRIES`]; keys carry the generation, so an
/// older generation's entries are simply never asked for again and go with the next sweep.
#[derive(Debug, Default)]
pub struct LocalCatalogCache {
    entries: Mutex<HashMap<String, (Bytes, Instant)>>,
}

const LOCAL_ENTRIES: usize = 2_048;

impl LocalCatalogCache {
    fn get(&self, key: &str) -> Option<Bytes> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(bytes, _)| bytes.clone())
    }

    fn put(&self, key: &str, bytes: Bytes) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= LOCAL_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < TTL);
            if entries.len() >= LOCAL_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), (bytes, Instant::now()));
    }
}
