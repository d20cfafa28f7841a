//! A layer in front of kube-fake-client that makes the in-memory API refuse and change what a real
//! kube-apiserver refuses and changes. kube-fake-client stores the objects; every write to a kind
//! in [`KINDS`] is computed here (GET, new object, then stored) and answered as the API server
//! would:
//!
//! - **Server-side apply** with field ownership in `metadata.managedFields` (`fieldsV1` format):
//!   a manager's apply removes the fields it applied before and no longer sends, unless another
//!   manager owns them; another manager's field with a different value is a `409 Conflict`
//!   unless forced. Creates, PUTs and merge patches take ownership of the fields they change.
//! - **Garbage collection** (background): deleting an object deletes, transitively, the objects
//!   of every kind in [`KINDS`] in its namespace whose only owner it was; dependents with another
//!   owner lose the reference. `propagationPolicy=Orphan` only removes the references.
//! - **Validation** (`422 Invalid`): names per kind, labels, pod templates, Services, immutable
//!   fields (see `validation`).
//! - **Defaults** the API server fills (see `defaults`), a cluster IP per Service.
//! - **Metadata**: `uid`, `creationTimestamp`, `resourceVersion`; `generation` starts at 1 and
//!   grows when anything but metadata and status changes. A stale `resourceVersion` is a
//!   `409 Conflict`, creating an existing name `409 AlreadyExists`, a missing object `404 NotFound`.
//! - **Status subresource**: writes to the object ignore `status`, writes to `/status` change only
//!   `status`.
//!
//! Simplifications: strategic merge patches are merge patches; JSON patches are refused (`415`);
//! which lists merge item by item is known by field name (see `field_set`); `.` markers in
//! `fieldsV1` appear on list items only; kinds outside [`KINDS`] (Events, Leases, CRDs) go to
//! kube-fake-client untouched; finalizers are not modelled (objects go at once: the operator sets
//! none); there is one lock for the whole API, so requests are serialised.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};

use super::defaults;
use super::field_set::{self, Writer};
use super::kinds::{KINDS, Kind, Target, without};
use super::validation;
use super::wire::{
    Failure, Reply, check_resource_version, describe_write, merge_patch, new_uid, now, parse,
    query_param, respond, text,
};

/// How ownership of the new object's fields is recorded.
enum Ownership {
    /// Already computed (a server-side apply).
    Applied,
    /// An update by this writer: it owns what it changed.
    Update(Writer),
}

/// The stricter API server: hand it every request, it answers as kube-apiserver would.
pub struct ApiServer {
    fake: Client,
    lock: tokio::sync::Mutex<()>,
    writes: Arc<Mutex<Vec<String>>>,
    counter: AtomicU32,
}

impl ApiServer {
    pub fn new(fake: Client, writes: Arc<Mutex<Vec<String>>>) -> Self {
        Self {
            fake,
            lock: tokio::sync::Mutex::new(()),
            writes,
            counter: AtomicU32::new(0),
        }
    }

    /// Answers one request; successful writes are logged (`create Kind/name`, `patch Kind/name`,
    /// `patch-status name`, `replace Kind/name`, `delete name`).
    pub async fn handle(&self, request: Request<Body>) -> Result<Response<Body>, kube::Error> {
        let (parts, body) = request.into_parts();
        let body = body.collect_bytes().await?.to_vec();
        let _serialised = self.lock.lock().await;
        let method = parts.method.clone();
        let path = parts.uri.path().to_owned();
        let query = parts.uri.query().unwrap_or_default().to_owned();
        let header = |name: http::header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let content_type = header(http::header::CONTENT_TYPE);
        let manager = query_param(&query, "fieldManager")
            .or_else(|| Some(header(http::header::USER_AGENT)).filter(|agent| !agent.is_empty()))
            .unwrap_or_else(|| "unknown".to_owned());
        let target = Target::parse(&path);
        let reply = match (&method, target) {
            (&Method::POST, Some(target)) if target.name.is_none() => {
                Some(self.create(&target, &body, &manager).await)
            }
            (&Method::PUT, Some(target)) if target.name.is_some() => {
                Some(self.replace(&target, &body, &manager).await)
            }
            (&Method::PATCH, Some(target)) if target.name.is_some() => Some(
                self.patch(&target, &body, &content_type, &query, &manager)
                    .await,
            ),
            (&Method::DELETE, Some(target))
                if target.name.is_some() && target.subresource.is_empty() =>
            {
                Some(self.delete(&target, &body, &query).await)
            }
            _ => None,
        };
        let response = match reply {
            Some(Ok((code, object))) => respond(code, &object),
            Some(Err(failure)) => respond(
                StatusCode::from_u16(failure.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                &failure.response(),
            ),
            None => {
                self.fake
                    .send(Request::from_parts(parts, Body::from(body.clone())))
                    .await?
            }
        };
        if response.status().is_success()
            && let Some(entry) = describe_write(&method, &path, &body)
        {
            self.writes.lock().expect("write log lock").push(entry);
        }
        Ok(response)
    }

    async fn create(&self, target: &Target, body: &[u8], manager: &str) -> Reply {
        let kind = target.kind;
        let mut object = parse(body)?;
        if !object.is_object() {
            return Err(Failure::new(400, "BadRequest", "the body is not an object"));
        }
        object["apiVersion"] = json!(kind.api_version());
        object["kind"] = json!(kind.kind);
        let meta = object
            .as_object_mut()
            .and_then(|map| {
                map.entry("metadata")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
            })
            .ok_or_else(|| Failure::new(400, "BadRequest", "metadata is not an object"))?;
        if meta
            .get("namespace")
            .is_some_and(|ns| ns != target.namespace.as_str())
        {
            return Err(Failure::new(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|rv| !rv.is_empty())
        {
            return Err(Failure::new(
                400,
                "BadRequest",
                "resourceVersion should not be set on objects to be created",
            ));
        }
        if meta.get("name").is_none() {
            let Some(prefix) = meta.get("generateName").and_then(Value::as_str) else {
                return Err(Failure::new(
                    422,
                    "Invalid",
                    format!(
                        "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                        kind.kind
                    ),
                ));
            };
            let suffix = self.counter.fetch_add(1, Ordering::SeqCst);
            meta.insert("name".to_owned(), json!(format!("{prefix}{suffix:05x}")));
        }
        for server_set in [
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
            "deletionTimestamp",
        ] {
            meta.remove(server_set);
        }
        meta.insert("namespace".to_owned(), json!(target.namespace));
        meta.insert("uid".to_owned(), json!(new_uid()));
        meta.insert("creationTimestamp".to_owned(), json!(now()));
        meta.insert("generation".to_owned(), json!(1));
        let name = text(&object, "/metadata/name").to_owned();
        if self.get(kind, &target.namespace, &name).await?.is_some() {
            return Err(Failure::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", kind.plural),
            ));
        }
        if kind.status {
            object = without(&object, &["status"]);
        }
        let writer = self.writer(kind, manager, "");
        let created = self
            .admit(target, None, object, Ownership::Update(writer))
            .await?;
        Ok((StatusCode::CREATED, created))
    }

    async fn replace(&self, target: &Target, body: &[u8], manager: &str) -> Reply {
        let old = self.existing(target).await?;
        let sent = parse(body)?;
        check_resource_version(target.kind, &old, &sent)?;
        let new = self.combine(target, &old, &sent);
        let writer = self.writer(target.kind, manager, &target.subresource);
        Ok((
            StatusCode::OK,
            self.admit(target, Some(&old), new, Ownership::Update(writer))
                .await?,
        ))
    }

    async fn patch(
        &self,
        target: &Target,
        body: &[u8],
        content_type: &str,
        query: &str,
        manager: &str,
    ) -> Reply {
        let kind = target.kind;
        let patch = parse(body)?;
        if content_type.starts_with("application/apply-patch") {
            if query_param(query, "fieldManager").is_none_or(|manager| manager.is_empty()) {
                return Err(Failure::new(
                    400,
                    "BadRequest",
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                ));
            }
            let force = query_param(query, "force").as_deref() == Some("true");
            let name = target.name.clone().unwrap_or_default();
            let old = self.get(kind, &target.namespace, &name).await?;
            if let Some(old) = &old {
                check_resource_version(kind, old, &patch)?;
            } else if target.subresource == "status" {
                return Err(Failure::not_found(kind, &name));
            }
            let config = match (kind.status, target.subresource.as_str()) {
                (true, "status") => json!({"status": patch.get("status")}),
                (true, _) => without(&patch, &["status", "apiVersion", "kind"]),
                (false, _) => without(&patch, &["apiVersion", "kind"]),
            };
            let mut config = config;
            if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.retain(|key, _| {
                    matches!(
                        key.as_str(),
                        "labels" | "annotations" | "ownerReferences" | "finalizers"
                    )
                });
            }
            let base = old.clone().unwrap_or_else(|| {
                json!({
                    "apiVersion": kind.api_version(), "kind": kind.kind,
                    "metadata": {"name": name, "namespace": target.namespace, "uid": new_uid(),
                                 "creationTimestamp": now(), "generation": 1},
                })
            });
            let writer = self.writer(kind, manager, &target.subresource);
            let new = field_set::apply(&base, &config, &writer, force).map_err(|conflicts| {
                Failure::new(
                    409,
                    "Conflict",
                    format!(
                        "Apply failed with {} conflict(s): {}",
                        conflicts.len(),
                        conflicts.join(", ")
                    ),
                )
            })?;
            let code = if old.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            return Ok((
                code,
                self.admit(target, old.as_ref(), new, Ownership::Applied)
                    .await?,
            ));
        }
        if !content_type.starts_with("application/merge-patch")
            && !content_type.starts_with("application/strategic-merge-patch")
        {
            return Err(Failure::new(
                415,
                "UnsupportedMediaType",
                format!("the test API does not implement {content_type}"),
            ));
        }
        let old = self.existing(target).await?;
        check_resource_version(kind, &old, &patch)?;
        let mut merged = old.clone();
        merge_patch(&mut merged, &patch);
        let new = self.combine(target, &old, &merged);
        let writer = self.writer(kind, manager, &target.subresource);
        Ok((
            StatusCode::OK,
            self.admit(target, Some(&old), new, Ownership::Update(writer))
                .await?,
        ))
    }

    async fn delete(&self, target: &Target, body: &[u8], query: &str) -> Reply {
        let old = self.existing(target).await?;
        let options: Value = serde_json::from_slice(body).unwrap_or_default();
        let policy = query_param(query, "propagationPolicy")
            .or_else(|| {
                options
                    .get("propagationPolicy")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "Background".to_owned());
        if !matches!(policy.as_str(), "Background" | "Foreground" | "Orphan") {
            return Err(Failure::new(
                400,
                "BadRequest",
                format!("unsupported propagationPolicy {policy:?}"),
            ));
        }
        self.remove(target.kind, &target.namespace, &old, policy == "Orphan")
            .await?;
        Ok((StatusCode::OK, old))
    }

    /// Defaults, validation, ownership and metadata of a new version, then stores it.
    async fn admit(
        &self,
        target: &Target,
        old: Option<&Value>,
        mut new: Value,
        ownership: Ownership,
    ) -> Result<Value, Failure> {
        let kind = target.kind;
        defaults::fill(kind.kind, &mut new, old, || self.cluster_ip());
        let mut errors = validation::validate(kind.kind, &new);
        if let Some(old) = old {
            errors.extend(validation::validate_update(kind.kind, old, &new));
        }
        if !errors.is_empty() {
            let name = text(&new, "/metadata/name");
            return Err(Failure::new(
                422,
                "Invalid",
                format!("{} \"{name}\" is invalid: {}", kind.kind, errors.join(", ")),
            ));
        }
        if let Ownership::Update(writer) = &ownership {
            field_set::update(old, &mut new, writer, kind.scope(&writer.subresource));
        }
        if let Some(old) = old {
            for kept in ["uid", "creationTimestamp", "deletionTimestamp"] {
                match old.pointer(&format!("/metadata/{kept}")) {
                    Some(value) => new["metadata"][kept] = value.clone(),
                    None => {
                        if let Some(meta) = new["metadata"].as_object_mut() {
                            meta.remove(kept);
                        }
                    }
                }
            }
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let spec_changed =
                without(old, &["metadata", "status"]) != without(&new, &["metadata", "status"]);
            new["metadata"]["generation"] = json!(generation + i64::from(spec_changed));
        }
        self.store(kind, &target.namespace, old, new).await
    }

    /// Takes `sent` as the new version of `old`, keeping what the request may not change.
    fn combine(&self, target: &Target, old: &Value, sent: &Value) -> Value {
        if target.kind.status && target.subresource == "status" {
            let mut new = old.clone();
            new["status"] = sent.get("status").cloned().unwrap_or(Value::Null);
            return new;
        }
        let mut new = sent.clone();
        new["apiVersion"] = old["apiVersion"].clone();
        new["kind"] = old["kind"].clone();
        for kept in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
            "deletionTimestamp",
            "resourceVersion",
        ] {
            if let Some(value) = old.pointer(&format!("/metadata/{kept}")) {
                new["metadata"][kept] = value.clone();
            }
        }
        if target.kind.status {
            match old.get("status") {
                Some(status) => new["status"] = status.clone(),
                None => new = without(&new, &["status"]),
            }
        }
        new
    }

    /// Deletes an object and collects its garbage.
    async fn remove(
        &self,
        kind: &Kind,
        namespace: &str,
        object: &Value,
        orphan: bool,
    ) -> Result<(), Failure> {
        let name = text(object, "/metadata/name").to_owned();
        self.call(
            Method::DELETE,
            &format!(
                "{}/{name}?propagationPolicy=Orphan",
                kind.collection(namespace)
            ),
            None,
        )
        .await?;
        let mut gone = vec![text(object, "/metadata/uid").to_owned()];
        let mut orphan = orphan;
        while let Some(owner) = gone.pop() {
            for dependent_kind in KINDS {
                for dependent in self.list(dependent_kind, namespace).await {
                    let references = dependent
                        .pointer("/metadata/ownerReferences")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    if !references
                        .iter()
                        .any(|reference| reference.get("uid") == Some(&json!(owner)))
                    {
                        continue;
                    }
                    let remaining: Vec<Value> = references
                        .into_iter()
                        .filter(|reference| reference.get("uid") != Some(&json!(owner)))
                        .collect();
                    if orphan || !remaining.is_empty() {
                        let mut kept = dependent.clone();
                        kept["metadata"]["ownerReferences"] = json!(remaining);
                        self.store(dependent_kind, namespace, Some(&dependent), kept)
                            .await?;
                        continue;
                    }
                    let name = text(&dependent, "/metadata/name");
                    self.call(
                        Method::DELETE,
                        &format!(
                            "{}/{name}?propagationPolicy=Orphan",
                            dependent_kind.collection(namespace)
                        ),
                        None,
                    )
                    .await?;
                    gone.push(text(&dependent, "/metadata/uid").to_owned());
                }
            }
            orphan = false;
        }
        Ok(())
    }

    /// Stores `new` in kube-fake-client as it is (removed and created again, so that nothing the
    /// fake does on update, such as bumping the generation, changes it); a new resourceVersion.
    async fn store(
        &self,
        kind: &Kind,
        namespace: &str,
        old: Option<&Value>,
        mut new: Value,
    ) -> Result<Value, Failure> {
        if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
        }
        if let Some(old) = old {
            let name = text(old, "/metadata/name");
            self.call(
                Method::DELETE,
                &format!(
                    "{}/{name}?propagationPolicy=Orphan",
                    kind.collection(namespace)
                ),
                None,
            )
            .await?;
        }
        self.call(Method::POST, &kind.collection(namespace), Some(&new))
            .await
    }

    async fn existing(&self, target: &Target) -> Result<Value, Failure> {
        let name = target.name.clone().unwrap_or_default();
        self.get(target.kind, &target.namespace, &name)
            .await?
            .ok_or_else(|| Failure::not_found(target.kind, &name))
    }

    async fn get(
        &self,
        kind: &Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, Failure> {
        match self
            .call(
                Method::GET,
                &format!("{}/{name}", kind.collection(namespace)),
                None,
            )
            .await
        {
            Ok(object) => Ok(Some(object)),
            Err(failure) if failure.code == 404 => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    async fn list(&self, kind: &Kind, namespace: &str) -> Vec<Value> {
        let list = self
            .call(Method::GET, &kind.collection(namespace), None)
            .await;
        list.ok()
            .and_then(|list| list.get("items").and_then(Value::as_array).cloned())
            .unwrap_or_default()
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let body = body
            .map(|body| serde_json::to_vec(body).unwrap_or_default())
            .unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(|error| Failure::new(500, "InternalError", error.to_string()))?;
        Ok(self.fake.request::<Value>(request).await?)
    }

    fn writer(&self, kind: &Kind, manager: &str, subresource: &str) -> Writer {
        Writer {
            manager: manager.to_owned(),
            subresource: subresource.to_owned(),
            api_version: kind.api_version().to_owned(),
            time: now(),
        }
    }

    fn cluster_ip(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        format!("10.96.{}.{}", n / 250, n % 250 + 1)
    }
}
