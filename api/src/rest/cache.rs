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
    body::Body,
    http::{HeaderValue, Uri, header},
    response::Response,
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
    let generation = if matches!(actor, Actor::Anonymous) {
        match state.shop.catalog_generation().await {
            Ok(generation) => Some(generation),
            Err(error) => {
                tracing::warn!(error = %error, "catalog generation unavailable: not caching");
                None
            }
        }
    } else {
        None
    };
    // A hit in this process costs no formatting and no allocation: the local level is keyed by
    // the request target as sent and remembers the generation its entry belongs to.
    let target = local_key(uri);
    if let (Some(generation), Some(target)) = (generation, target.as_deref())
        && let Some(bytes) = state.catalog_cache.get(generation, target)
    {
        state.metrics.cache_hits.inc();
        return Ok(json_response(bytes, "hit"));
    }
    let key = generation.map(|generation| format!("catalog-cache:{generation}:{uri}"));
    if let (Some(generation), Some(key)) = (generation, &key) {
        match state.shop.key_value().get(key).await {
            Ok(Some(bytes)) => {
                state.metrics.cache_hits.inc();
                let bytes = Bytes::from(bytes);
                if let Some(target) = &target {
                    state.catalog_cache.put(generation, target, bytes.clone());
                }
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
    if let (Some(generation), Some(key)) = (generation, &key)
        && bytes.len() <= MAX_ENTRY_BYTES
    {
        if let Some(target) = &target {
            state.catalog_cache.put(generation, target, bytes.clone());
        }
        if let Err(error) = state.shop.key_value().set(key, &bytes, TTL).await {
            tracing::warn!(error = %error, "catalog cache write failed");
        }
    }
    Ok(json_response(
        bytes,
        if key.is_some() { "miss" } else { "bypass" },
    ))
}

/// The local level's key: the request target exactly as the shared level's key spells it
/// (`{uri}`), borrowed for the usual origin-form target (`/path?query`).
fn local_key(uri: &Uri) -> Option<std::borrow::Cow<'_, str>> {
    if uri.scheme().is_none() && uri.authority().is_none() {
        uri.path_and_query()
            .map(|target| std::borrow::Cow::Borrowed(target.as_str()))
    } else {
        Some(std::borrow::Cow::Owned(uri.to_string()))
    }
}

fn json_response(bytes: Bytes, cache: &'static str) -> Response {
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    // Room for these two and what the outer layers add (length, request id, security headers),
    // so the map is not grown and rehashed on the way out.
    headers.reserve(12);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert("x-cache", HeaderValue::from_static(cache));
    response
}

/// Entries this process keeps, at most [`LOCAL_ENTRIES`], each with the catalog generation it
/// was stored under: an entry of an older generation is never served, and is replaced by the
/// next answer for its target or goes with the next sweep.
#[derive(Debug, Default)]
pub struct LocalCatalogCache {
    entries: Mutex<HashMap<String, LocalEntry>>,
}

#[derive(Debug)]
struct LocalEntry {
    generation: u64,
    bytes: Bytes,
    stored_at: Instant,
}

const LOCAL_ENTRIES: usize = 2_048;

impl LocalCatalogCache {
    fn get(&self, generation: u64, target: &str) -> Option<Bytes> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(target)
            .filter(|entry| entry.generation == generation && entry.stored_at.elapsed() < TTL)
            .map(|entry| entry.bytes.clone())
    }

    fn put(&self, generation: u64, target: &str, bytes: Bytes) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= LOCAL_ENTRIES && !entries.contains_key(target) {
            entries.retain(|_, entry| {
                entry.generation == generation && entry.stored_at.elapsed() < TTL
            });
            if entries.len() >= LOCAL_ENTRIES {
                entries.clear();
            }
        }
        let entry = LocalEntry {
            generation,
            bytes,
            stored_at: Instant::now(),
        };
        match entries.get_mut(target) {
            Some(old) => *old = entry,
            None => {
                entries.insert(target.to_owned(), entry);
            }
        }
    }
}
