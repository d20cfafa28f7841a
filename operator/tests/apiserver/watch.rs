//! `?watch=true`: a chunked stream of one JSON watch event per line, as the API server sends.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use http::{Method, StatusCode, header};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::wire::{encode_query, json_response, object_path, partial_metadata, status_body};
use super::{Change, Shared, Target, forward};

/// How often an idle watch that asked for bookmarks gets one (a real server: about a minute).
const BOOKMARK_EVERY: Duration = Duration::from_secs(2);

/// What one watch selects and how it wants objects.
#[derive(Debug)]
struct Selection {
    target: Target,
    labels: Option<String>,
    /// `(field, expected, equal)` for `metadata.name` and `metadata.namespace`.
    fields: Vec<(String, String, bool)>,
    bookmarks: bool,
    metadata_only: bool,
}

impl Selection {
    fn matches(&self, object: &Value) -> bool {
        let metadata = &object["metadata"];
        if let Some(namespace) = &self.target.namespace
            && metadata["namespace"].as_str() != Some(namespace)
        {
            return false;
        }
        let fields_match = self.fields.iter().all(|(field, expected, equal)| {
            let actual = match field.as_str() {
                "metadata.name" => metadata["name"].as_str(),
                _ => metadata["namespace"].as_str(),
            };
            (actual == Some(expected.as_str())) == *equal
        });
        let labels: BTreeMap<String, String> = metadata["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
            .collect();
        fields_match
            && self.labels.as_deref().is_none_or(|selector| {
                kube_fake_client::label_selector::matches_label_selector(&labels, selector)
                    .unwrap_or(false)
            })
    }

    /// The event this watch sees for a change, if any.
    fn event(&self, change: &Change) -> Option<Value> {
        if change.collection != self.target.collection {
            return None;
        }
        let was = change
            .previous
            .as_deref()
            .is_some_and(|old| self.matches(old));
        let is = self.matches(&change.object);
        let kind = match (change.kind, was, is) {
            ("DELETED", true, _) => "DELETED",
            ("DELETED", false, _) | (_, false, false) => return None,
            (_, false, true) => "ADDED",
            (_, true, false) => "DELETED",
            (kind, true, true) => kind,
        };
        Some(self.wrap(kind, &change.object))
    }

    fn wrap(&self, kind: &str, object: &Value) -> Value {
        let object = if self.metadata_only {
            partial_metadata(object)
        } else {
            object.clone()
        };
        json!({ "type": kind, "object": object })
    }

    fn bookmark(&self, shared: &Shared, version: u64, annotations: Value) -> Value {
        let (api_version, kind) = if self.metadata_only {
            (
                "meta.k8s.io/v1".to_owned(),
                "PartialObjectMetadata".to_owned(),
            )
        } else {
            shared
                .log()
                .kinds
                .get(&self.target.collection)
                .cloned()
                .unwrap_or_default()
        };
        json!({
            "type": "BOOKMARK",
            "object": {
                "kind": kind, "apiVersion": api_version,
                "metadata": {"resourceVersion": version.to_string(), "annotations": annotations},
            },
        })
    }
}

struct Stream {
    shared: Arc<Shared>,
    selection: Selection,
    /// The next position in the log to look at.
    position: u64,
    /// The newest resourceVersion of the log when it was last read: what a bookmark may claim.
    version: u64,
    queue: VecDeque<Value>,
    newest: tokio::sync::watch::Receiver<u64>,
    deadline: Instant,
    ended: bool,
}

pub(super) async fn serve(
    shared: Arc<Shared>,
    target: Target,
    pairs: &[(String, String)],
    metadata_only: bool,
) -> Response {
    let param = |key: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    let mut fields = Vec::new();
    for requirement in param("fieldSelector").unwrap_or_default().split(',') {
        if requirement.is_empty() {
            continue;
        }
        let parsed = requirement
            .split_once("!=")
            .map(|(field, value)| (field, value, false))
            .or_else(|| {
                let (field, value) = requirement.split_once('=')?;
                Some((field, value.trim_start_matches('='), true))
            });
        match parsed {
            Some((field @ ("metadata.name" | "metadata.namespace"), value, equal)) => {
                fields.push((field.to_owned(), value.to_owned(), equal));
            }
            _ => {
                let code = StatusCode::BAD_REQUEST;
                let message = format!("field selector {requirement:?} not supported by the double");
                return json_response(code, &status_body(code, "BadRequest", &message));
            }
        }
    }
    let selection = Selection {
        target,
        labels: param("labelSelector").map(str::to_owned),
        fields,
        bookmarks: param("allowWatchBookmarks") == Some("true"),
        metadata_only,
    };
    let timeout = param("timeoutSeconds")
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or(1800);
    let version = param("resourceVersion").unwrap_or_default();
    let initial_events = param("sendInitialEvents") == Some("true");
    let mut newest = shared.newest.subscribe();
    newest.borrow_and_update();

    let mut queue = VecDeque::new();
    let (position, version) = if initial_events || version.is_empty() || version == "0" {
        // Synthetic ADDED events for what exists, then the changes after that snapshot.
        let _one_at_a_time = shared.writes.lock().await;
        let query = encode_query(pairs.iter().filter(|(key, _)| key == "labelSelector"));
        let path = object_path(&selection.target);
        let (code, list) = forward(&shared, &Method::GET, &path, &query, None, Bytes::new()).await;
        if !code.is_success() {
            return json_response(code, &list);
        }
        for item in list["items"].as_array().into_iter().flatten() {
            if selection.matches(item) {
                queue.push_back(selection.wrap("ADDED", item));
            }
        }
        let log = shared.log();
        (log.next_position, log.newest_version)
    } else {
        let Ok(version) = version.parse::<u64>() else {
            let code = StatusCode::BAD_REQUEST;
            let message = format!("invalid resourceVersion {version:?}");
            return json_response(code, &status_body(code, "BadRequest", &message));
        };
        let log = shared.log();
        if version < log.forgotten_up_to {
            let expired = status_body(
                StatusCode::GONE,
                "Expired",
                &format!(
                    "too old resource version: {version} ({})",
                    log.forgotten_up_to
                ),
            );
            queue.push_back(json!({ "type": "ERROR", "object": expired }));
        }
        let position = log
            .changes
            .iter()
            .find(|change| change.resource_version > version)
            .map_or(log.next_position, |change| change.position);
        (position, version.max(log.newest_version))
    };
    if initial_events {
        let end = json!({ "k8s.io/initial-events-end": "true" });
        queue.push_back(selection.bookmark(&shared, version, end));
    }
    let ended = queue.front().is_some_and(|event| event["type"] == "ERROR");
    let stream = Stream {
        shared,
        selection,
        position,
        version,
        queue,
        newest,
        deadline: Instant::now() + Duration::from_secs(timeout),
        ended,
    };
    let body = futures::stream::unfold(stream, next_line);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

async fn next_line(mut stream: Stream) -> Option<(Result<Bytes, Infallible>, Stream)> {
    loop {
        if let Some(event) = stream.queue.pop_front() {
            let mut line = event.to_string();
            line.push('\n');
            return Some((Ok(Bytes::from(line)), stream));
        }
        if stream.ended {
            return None;
        }
        {
            let log = stream.shared.log();
            let oldest = log
                .changes
                .front()
                .map_or(log.next_position, |c| c.position);
            if stream.position < oldest {
                // This watch fell behind the history: the client must relist.
                let expired = status_body(StatusCode::GONE, "Expired", "watch fell behind");
                stream
                    .queue
                    .push_back(json!({ "type": "ERROR", "object": expired }));
                stream.ended = true;
                continue;
            }
            let skip = usize::try_from(stream.position - oldest).unwrap_or(usize::MAX);
            for change in log.changes.iter().skip(skip) {
                stream.position = change.position + 1;
                if let Some(event) = stream.selection.event(change) {
                    stream.queue.push_back(event);
                }
            }
            stream.version = stream.version.max(log.newest_version);
        }
        if !stream.queue.is_empty() {
            continue;
        }
        let now = Instant::now();
        if now >= stream.deadline {
            return None;
        }
        let wait = BOOKMARK_EVERY.min(stream.deadline - now);
        tokio::select! {
            changed = stream.newest.changed() => if changed.is_err() {
                return None;
            },
            () = tokio::time::sleep(wait) => if stream.selection.bookmarks {
                let bookmark = stream.selection.bookmark(&stream.shared, stream.version, json!({}));
                stream.queue.push_back(bookmark);
            },
        }
    }
}
