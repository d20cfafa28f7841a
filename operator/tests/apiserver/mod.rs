//! An HTTP double of the Kubernetes API server, for running the real `shop-operator` binary (and
//! benchmarks) against something that lists AND watches.
//!
//! Storage and request semantics come from kube-fake-client (404 `NotFound`, 409 `AlreadyExists`
//! and `Conflict`, create-on-apply, the `/status` subresource, uid/resourceVersion/generation,
//! cascading deletion through ownerReferences). This layer adds what a real API server does on
//! top and the fake does not:
//!
//! - `?watch=true`: a chunked stream of JSON watch events (`ADDED`, `MODIFIED`, `DELETED`, and
//!   `BOOKMARK` when asked with `allowWatchBookmarks`), fed by every successful write that passes
//!   through the double, filtered by resource, namespace, label and name selectors, resumed from
//!   the `resourceVersion` of a list (or `410 Expired` when that is too old), with synthetic
//!   `ADDED` events for watches at version 0 and streaming lists (`sendInitialEvents`);
//! - lists carry the store's current resourceVersion (the fake always says "1"), and `limit` is
//!   ignored as the watch cache ignores it, so no client mistakes a truncated page for the whole;
//! - metadata-only requests (`Accept: ...;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`, as
//!   kube's `metadata_watcher` sends) are answered with `meta.k8s.io/v1` PartialObjectMetadata;
//! - a patch that changes nothing is a no-op: same resourceVersion, no watch event (the fake would
//!   bump both, and a controller watching its own writes would reconcile forever);
//! - objects removed by the garbage collector produce `DELETED` events;
//! - every request is recorded (method, path, query, Accept), so tests can check the wire.
//!
//! Known gaps, kept because nothing here depends on them: the fake bumps `generation` on any
//! non-status change (a real server only on spec changes), a `DELETED` event carries the newest
//! resourceVersion seen rather than a fresh one, and there is no authentication, TLS, discovery
//! or protobuf. Loopback only.

pub mod controllers;
mod watch;
mod wire;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::Request;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube_fake_client::ClientBuilder;
use serde_json::{Value, json};
use shop_operator::build::service_monitor::ServiceMonitor;
use shop_operator::crd::{Backup, Restore, Shop, Worker};
use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;
use wire::{
    encode_query, json_response, merge, object_key, object_path, parse_path, partial_metadata,
    query_pairs, resource_version, same_content, status, status_body,
};

/// How many changes are kept for watches that resume from a resourceVersion; older ones get
/// `410 Expired` and relist, as from a real server whose watch cache moved on.
const HISTORY: usize = 50_000;

/// A running double on `127.0.0.1`, stopped when dropped.
#[derive(Debug)]
pub struct ApiServer {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

/// One request as it arrived.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw (still percent-encoded) query string.
    pub query: String,
    pub accept: String,
}

impl Recorded {
    /// The decoded value of a query parameter.
    pub fn param(&self, key: &str) -> Option<String> {
        query_pairs(&self.query)
            .into_iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    pub fn is_watch(&self) -> bool {
        self.param("watch").as_deref() == Some("true")
    }

    /// A collection read (list or watch), not one object.
    pub fn is_collection_get(&self) -> bool {
        self.method == "GET" && parse_path(&self.path).is_some_and(|target| target.name.is_none())
    }
}

impl std::fmt::Display for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}?{}", self.method, self.path, self.query)
    }
}

struct Shared {
    fake: kube::Client,
    /// Writes go one at a time, so that the change log is in resourceVersion order.
    writes: tokio::sync::Mutex<()>,
    log: Mutex<Log>,
    /// The position after the newest change, for watches to wake up on.
    newest: signal::Sender<u64>,
    requests: Mutex<Vec<Recorded>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `(group, version, plural)`: what a path lists and watches.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Collection {
    group: String,
    version: String,
    resource: String,
}

/// What a request path names.
#[derive(Clone, Debug)]
struct Target {
    collection: Collection,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

#[derive(Clone, Debug)]
struct Change {
    /// Position in the log since the start (never reused).
    position: u64,
    resource_version: u64,
    kind: &'static str,
    collection: Collection,
    object: Arc<Value>,
    /// The object before this change, so that a watch whose selector it stops (or starts)
    /// matching sees `DELETED` (or `ADDED`), as from a real server.
    previous: Option<Arc<Value>>,
}

/// The changes since the start (the newest [`HISTORY`] of them) and the latest state of every
/// object written, which the garbage-collection events and bookmarks need.
#[derive(Debug, Default)]
struct Log {
    changes: VecDeque<Change>,
    next_position: u64,
    /// Changes with a resourceVersion up to this one are no longer in `changes`.
    forgotten_up_to: u64,
    newest_version: u64,
    objects: HashMap<(Collection, String, String), Arc<Value>>,
    /// `(apiVersion, kind)` per collection, learned from the objects seen, for bookmarks.
    kinds: HashMap<Collection, (String, String)>,
}

impl Log {
    fn learn(&mut self, collection: &Collection, object: &Value) {
        if let Some(version) = resource_version(object) {
            self.newest_version = self.newest_version.max(version);
        }
        if let (Some(api_version), Some(kind)) =
            (object["apiVersion"].as_str(), object["kind"].as_str())
            && !self.kinds.contains_key(collection)
        {
            let kind = kind.strip_suffix("List").unwrap_or(kind);
            self.kinds.insert(
                collection.clone(),
                (api_version.to_owned(), kind.to_owned()),
            );
        }
    }

    fn record(&mut self, kind: &'static str, collection: &Collection, object: Value) {
        self.learn(collection, &object);
        let key = object_key(collection, &object);
        let object = Arc::new(object);
        let previous = if kind == "DELETED" {
            self.objects.remove(&key)
        } else {
            self.objects.insert(key, object.clone())
        };
        let change = Change {
            position: self.next_position,
            resource_version: resource_version(&object).unwrap_or(self.newest_version),
            kind,
            collection: collection.clone(),
            object,
            previous,
        };
        self.next_position += 1;
        self.changes.push_back(change);
        while self.changes.len() > HISTORY {
            if let Some(old) = self.changes.pop_front() {
                self.forgotten_up_to = self.forgotten_up_to.max(old.resource_version);
            }
        }
    }
}

impl ApiServer {
    /// Starts a double holding the platform's CRDs, on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(address: &str) -> anyhow::Result<Self> {
        let fake = ClientBuilder::new()
            .with_resource::<Shop>()
            .with_resource::<Worker>()
            .with_resource::<Backup>()
            .with_resource::<Restore>()
            .with_resource::<ServiceMonitor>()
            // Not Shop, Worker and Backup: the fake wants `Default` for that; it registers their
            // status subresource on the first object that has a status.
            .with_status_subresource::<Deployment>()
            .with_status_subresource::<StatefulSet>()
            .with_status_subresource::<Job>()
            .with_status_subresource::<CronJob>()
            .with_status_subresource::<Service>()
            .with_status_subresource::<PersistentVolumeClaim>()
            .with_status_subresource::<PodDisruptionBudget>()
            .with_status_subresource::<HorizontalPodAutoscaler>()
            .with_status_subresource::<Ingress>()
            .build()
            .await?;
        let (newest, _) = signal::channel(0);
        let shared = Arc::new(Shared {
            fake,
            writes: tokio::sync::Mutex::new(()),
            log: Mutex::default(),
            newest,
            requests: Mutex::default(),
        });
        // The operator refuses to start without its CRDs, as on a cluster where they are missing.
        for crd in shop_operator::crd::all() {
            let body = serde_json::to_vec(&crd)?;
            let path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
            let (status, answer) =
                write(&shared, &Method::POST, path, "", None, Bytes::from(body)).await;
            anyhow::ensure!(status.is_success(), "cannot install a CRD: {answer}");
        }
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let app = axum::Router::new().fallback({
            let shared = shared.clone();
            move |request: Request| handle(shared.clone(), request)
        });
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("API server double stopped: {error}");
            }
        });
        Ok(Self {
            address,
            shared,
            task,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A client of the double over HTTP: its writes reach the operator's watches.
    pub fn client(&self) -> anyhow::Result<kube::Client> {
        // As in the operator's main: test builds link two rustls providers; pick ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = kube::Config::new(self.url().parse()?);
        Ok(kube::Client::try_from(config)?)
    }

    /// A kubeconfig in `dir` that points at the double (no TLS, a dummy token).
    pub fn write_kubeconfig(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        let path = dir.join("kubeconfig");
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "double", "cluster": {"server": self.url()}}],
            "users": [{"name": "test", "user": {"token": "test"}}],
            "contexts": [{"name": "double", "context": {"cluster": "double", "user": "test"}}],
            "current-context": "double",
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
        Ok(path)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The latest state of every object a write with this field manager touched.
    pub fn objects_written_by(&self, manager: &str) -> Vec<Arc<Value>> {
        self.shared
            .log()
            .objects
            .values()
            .filter(|object| {
                object["metadata"]["managedFields"]
                    .as_array()
                    .is_some_and(|entries| {
                        entries
                            .iter()
                            .any(|entry| entry["manager"].as_str() == Some(manager))
                    })
            })
            .cloned()
            .collect()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(shared: Arc<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let accept = header(header::ACCEPT).unwrap_or_default();
    let content_type = header(header::CONTENT_TYPE);
    shared
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Recorded {
            method: parts.method.to_string(),
            path: path.clone(),
            query: query.clone(),
            accept: accept.clone(),
        });
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BadRequest",
            "body too large",
        );
    };
    let metadata_only = accept.contains("as=PartialObjectMetadata");
    let (code, answer) = match parts.method {
        Method::GET => {
            let pairs = query_pairs(&query);
            let watching = pairs.iter().any(|(k, v)| k == "watch" && v == "true");
            match parse_path(&path) {
                Some(target) if watching && target.name.is_none() => {
                    return watch::serve(shared, target, &pairs, metadata_only).await;
                }
                Some(target) => read(&shared, &target, &path, &pairs).await,
                None => (
                    StatusCode::NOT_FOUND,
                    status_body(StatusCode::NOT_FOUND, "NotFound", "unknown path"),
                ),
            }
        }
        ref method => {
            write(
                &shared,
                method,
                &path,
                &query,
                content_type.as_deref(),
                body,
            )
            .await
        }
    };
    let answer = if metadata_only && code.is_success() {
        partial_metadata(&answer)
    } else {
        answer
    };
    json_response(code, &answer)
}

/// A GET of one object or a list, through the fake.
async fn read(
    shared: &Shared,
    target: &Target,
    path: &str,
    pairs: &[(String, String)],
) -> (StatusCode, Value) {
    // The watch cache serves a whole list whatever the limit; the fake would truncate it
    // without a continue token.
    let query = encode_query(
        pairs
            .iter()
            .filter(|(k, _)| k != "limit" && k != "continue"),
    );
    let (code, mut answer) = forward(shared, &Method::GET, path, &query, None, Bytes::new()).await;
    if code.is_success() && target.name.is_none() {
        let mut log = shared.log();
        log.learn(&target.collection, &answer);
        let newest = answer["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(resource_version)
            .fold(log.newest_version, u64::max);
        answer["metadata"]["resourceVersion"] = json!(newest.to_string());
    }
    (code, answer)
}

/// A write through the fake, recorded for the watches when it changed something.
async fn write(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &str,
    content_type: Option<&str>,
    body: Bytes,
) -> (StatusCode, Value) {
    let Some(target) = parse_path(path) else {
        let code = StatusCode::NOT_FOUND;
        return (code, status_body(code, "NotFound", "unknown path"));
    };
    let _one_at_a_time = shared.writes.lock().await;
    let object_path = object_path(&target);
    let before = match &target.name {
        Some(_) => {
            let (code, object) =
                forward(shared, &Method::GET, &object_path, "", None, Bytes::new()).await;
            code.is_success().then_some(object)
        }
        None => None,
    };
    if *method == Method::PATCH
        && let Some(before) = &before
        && !content_type.is_some_and(|t| t.contains("json-patch"))
        && let Ok(patch) = serde_json::from_slice::<Value>(&body)
    {
        let mut after = before.clone();
        merge(&mut after, &patch);
        if same_content(&after, before) {
            return (StatusCode::OK, before.clone());
        }
    }
    let (code, answer) = forward(shared, method, path, query, content_type, body).await;
    if !code.is_success() || answer["metadata"]["name"].as_str().is_none() {
        return (code, answer);
    }
    let mut log = shared.log();
    if *method == Method::DELETE {
        let gone = answer.clone();
        drop(log);
        collect_garbage(shared, &target.collection, gone).await;
        log = shared.log();
    } else {
        let kind = if before.is_none() {
            "ADDED"
        } else {
            "MODIFIED"
        };
        log.record(kind, &target.collection, answer.clone());
    }
    shared.newest.send_replace(log.next_position);
    (code, answer)
}

/// Records the deletion of `deleted` and of every dependent the fake removed with it.
async fn collect_garbage(shared: &Shared, collection: &Collection, deleted: Value) {
    let mut pending = vec![(collection.clone(), deleted)];
    let mut seen = HashSet::new();
    while let Some((collection, object)) = pending.pop() {
        let uid = object["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let namespace = object["metadata"]["namespace"].as_str().map(str::to_owned);
        shared.log().record("DELETED", &collection, object);
        if uid.is_empty() || !seen.insert(uid.clone()) {
            continue;
        }
        let dependents: Vec<(Collection, Arc<Value>)> = shared
            .log()
            .objects
            .iter()
            .filter(|((_, dependent_namespace, _), dependent)| {
                (namespace.is_none() || namespace.as_deref() == Some(dependent_namespace))
                    && dependent["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|owners| owners.iter().any(|o| o["uid"] == uid.as_str()))
            })
            .map(|((collection, _, _), dependent)| (collection.clone(), dependent.clone()))
            .collect();
        for (collection, dependent) in dependents {
            let target = Target {
                collection: collection.clone(),
                namespace: dependent["metadata"]["namespace"]
                    .as_str()
                    .map(str::to_owned),
                name: dependent["metadata"]["name"].as_str().map(str::to_owned),
                subresource: None,
            };
            let path = object_path(&target);
            let (code, _) = forward(shared, &Method::GET, &path, "", None, Bytes::new()).await;
            if code == StatusCode::NOT_FOUND {
                pending.push((collection, dependent.as_ref().clone()));
            }
        }
    }
}

/// Sends one request to the fake and returns its status and JSON answer.
async fn forward(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &str,
    content_type: Option<&str>,
    body: Bytes,
) -> (StatusCode, Value) {
    let uri = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let mut request = http::Request::new(kube::client::Body::from(body.to_vec()));
    *request.method_mut() = method.clone();
    let Ok(uri) = uri.parse() else {
        let code = StatusCode::BAD_REQUEST;
        return (code, status_body(code, "BadRequest", "invalid path"));
    };
    *request.uri_mut() = uri;
    if let Some(value) = content_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        request.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    let failed = |error: String| {
        let code = StatusCode::INTERNAL_SERVER_ERROR;
        (code, status_body(code, "InternalError", &error))
    };
    match shared.fake.send(request).await {
        Ok(response) => {
            let code = response.status();
            match response.into_body().collect_bytes().await {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(answer) => (code, answer),
                    Err(error) => failed(format!("the fake answered no JSON: {error}")),
                },
                Err(error) => failed(error.to_string()),
            }
        }
        Err(error) => failed(error.to_string()),
    }
}
