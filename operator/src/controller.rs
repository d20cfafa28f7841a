//! The controllers: one `kube::runtime::Controller` per kind and watched scope, each triggering
//! its reconciler (in [`crate::reconcile`]) when the resource or one of its children changes.
//!
//! Workers and Backups also depend on their Shop (its backends, its version), so a Shop change
//! re-triggers the Workers and Backups whose `spec.shopRef` names it.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::runtime::controller::{self, Action, Config};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::context::Context;
use crate::crd::{Backup, Restore, Shop, Worker};
use crate::error::{Error, Result};
use crate::metrics::{Kind, Metrics};

/// The version of `shop.dev` this operator reads and writes.
const SERVED_VERSION: &str = "v1alpha1";

/// Fails with an actionable message unless every CRD of the platform is installed and serves the
/// version this operator uses; without them the controllers would only log watch errors forever.
pub async fn check_crds(client: Client) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client);
    for expected in crate::crd::all() {
        let name = expected.name_any();
        let installed = api.get_opt(&name).await.with_context(|| {
            format!(
                "cannot read CRD {name}: is the API server reachable, and may the operator's \
                 ServiceAccount get customresourcedefinitions?"
            )
        })?;
        let Some(installed) = installed else {
            bail!("CRD {name} is not installed: kubectl apply -f crds/");
        };
        let serves_our_version = installed
            .spec
            .versions
            .iter()
            .any(|version| version.name == SERVED_VERSION && version.served);
        if !serves_our_version {
            bail!("CRD {name} does not serve {SERVED_VERSION}: kubectl apply -f crds/");
        }
    }
    Ok(())
}

/// A resource that belongs to a Shop in its namespace through `spec.shopRef`.
pub trait ShopDependent: Resource<DynamicType = ()> {
    /// Name of the Shop it belongs to.
    fn shop_ref(&self) -> &str;
}

impl ShopDependent for Worker {
    fn shop_ref(&self) -> &str {
        &self.spec.shop_ref
    }
}

impl ShopDependent for Backup {
    fn shop_ref(&self) -> &str {
        &self.spec.shop_ref
    }
}

impl ShopDependent for Restore {
    fn shop_ref(&self) -> &str {
        &self.spec.shop_ref
    }
}

/// The resources among `candidates` that reference the Shop `shop_name` in `shop_namespace`.
pub fn dependents_of_shop<K: ShopDependent>(
    candidates: &[Arc<K>],
    shop_namespace: Option<&str>,
    shop_name: &str,
) -> Vec<ObjectRef<K>> {
    candidates
        .iter()
        .filter(|candidate| {
            candidate.meta().namespace.as_deref() == shop_namespace
                && candidate.shop_ref() == shop_name
        })
        .map(|candidate| ObjectRef::from_obj(candidate.as_ref()))
        .collect()
}

/// `(API group, plural)` of every kind the controllers list and watch, for RBAC checks. Keep in
/// step with the `Controller::new`, `.owns` and `.watches` calls below.
pub fn watched_resources() -> Vec<(String, String)> {
    fn resource<K: Resource<DynamicType = ()>>() -> (String, String) {
        (K::group(&()).into_owned(), K::plural(&()).into_owned())
    }
    vec![
        resource::<Shop>(),
        resource::<Worker>(),
        resource::<Backup>(),
        resource::<Restore>(),
        resource::<Secret>(),
        resource::<ConfigMap>(),
        resource::<Service>(),
        resource::<StatefulSet>(),
        resource::<Deployment>(),
        resource::<Job>(),
        resource::<CronJob>(),
        resource::<PersistentVolumeClaim>(),
        resource::<PodDisruptionBudget>(),
        resource::<HorizontalPodAutoscaler>(),
        resource::<Ingress>(),
        resource::<NetworkPolicy>(),
    ]
}

/// What every reconcile of every controller shares.
#[derive(Debug)]
struct State {
    ctx: Arc<Context>,
    metrics: Arc<Metrics>,
    /// Consecutive failures per object, for [`Error::retry_delay`]; an entry goes on success.
    failures: Mutex<HashMap<String, u32>>,
}

impl State {
    fn failure_key<K: Resource>(kind: Kind, object: &K) -> String {
        let meta = object.meta();
        format!(
            "{}/{}/{}",
            kind.as_str(),
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default()
        )
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // A panic while holding this lock cannot leave the map inconsistent: keep using it.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs every controller until `stop` turns true, then lets the reconciles in flight finish.
/// `namespaces` empty means one set of controllers over all namespaces.
pub async fn run(
    client: Client,
    namespaces: Vec<String>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) {
    let state = Arc::new(State {
        ctx: Arc::new(Context::new(client.clone())),
        metrics,
        failures: Mutex::default(),
    });
    let scopes: Vec<Option<&str>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces
            .iter()
            .map(|namespace| Some(namespace.as_str()))
            .collect()
    };
    let mut controllers: Vec<BoxFuture<'static, ()>> = Vec::new();
    for scope in scopes {
        let scoped = Scope {
            client: client.clone(),
            namespace: scope.map(str::to_owned),
        };
        controllers.push(Box::pin(shop_controller(
            scoped.clone(),
            state.clone(),
            stop.clone(),
        )));
        controllers.push(Box::pin(worker_controller(
            scoped.clone(),
            state.clone(),
            stop.clone(),
        )));
        controllers.push(Box::pin(backup_controller(
            scoped.clone(),
            state.clone(),
            stop.clone(),
        )));
        controllers.push(Box::pin(restore_controller(
            scoped.clone(),
            state.clone(),
            stop.clone(),
        )));
        tracing::info!(
            namespace = scope.unwrap_or("*"),
            "starting the shop, worker, backup and restore controllers"
        );
    }
    futures::future::join_all(controllers).await;
    tracing::info!("controllers stopped");
}

/// A client and the namespace it watches (`None`: all).
#[derive(Clone)]
struct Scope {
    client: Client,
    namespace: Option<String>,
}

impl Scope {
    fn api<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        match &self.namespace {
            Some(namespace) => Api::namespaced(self.client.clone(), namespace),
            None => Api::all(self.client.clone()),
        }
    }
}

/// Label every object the operator creates carries (see [`crate::labels::full`]).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// Lists (the first one and every re-list after a watch expired) served from the API server's
/// watch cache instead of a quorum read from etcd: `resourceVersion=0`, "any version not older
/// than 0". kube sends `resourceVersion=0` only when the list has no page limit (from a paged
/// list it drops the version, for consistent pages, and the server then reads etcd page by page:
/// `?limit=500` was all that went on the wire), so the limit goes. The cache answers in one
/// response anyway, and these lists hold only metadata of labelled children (see
/// [`owned_config`]) or the operator's own resources.
///
/// Not streaming lists (`sendInitialEvents`): the `WatchList` feature is not served by every
/// Kubernetes version the chart supports, and a server without it answers such a watch with no
/// initial events at all.
pub fn watch_config() -> watcher::Config {
    let mut config = watcher::Config::default().any_semantic();
    config.page_size = None;
    config
}

/// The watches of children: only objects labelled as managed by this operator. Without the
/// selector every Secret, ConfigMap, Service, Deployment... of every watched namespace would be
/// listed, watched and cached (as metadata), most of them not the operator's. `.owns` watches
/// only the children's metadata, so Secrets and ConfigMaps are never held in memory either.
pub fn owned_config() -> watcher::Config {
    watch_config().labels(&format!("{MANAGED_BY_LABEL}={}", crate::labels::MANAGER))
}

fn controller_config() -> Config {
    // The debounce folds the burst of child events one apply causes into one reconcile.
    Config::default()
        .concurrency(4)
        .debounce(Duration::from_millis(500))
}

/// The graceful-shutdown trigger of one controller. Not `Controller::shutdown_on_signal`: one
/// signal handler (in `main`) stops the HTTP server, the election and every controller together,
/// and a second signal exits at once.
fn stopped(stop: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + Sync + 'static {
    let mut stop = stop.clone();
    async move {
        // An error means the sender is gone, which only happens when the process is exiting.
        let _ = stop.wait_for(|stopping| *stopping).await;
    }
}

async fn shop_controller(scope: Scope, state: Arc<State>, stop: watch::Receiver<bool>) {
    let (wc, oc) = (watch_config, owned_config);
    let controller = Controller::new(scope.api::<Shop>(), wc())
        .owns(scope.api::<Secret>(), oc())
        .owns(scope.api::<ConfigMap>(), oc())
        .owns(scope.api::<Service>(), oc())
        .owns(scope.api::<StatefulSet>(), oc())
        .owns(scope.api::<Deployment>(), oc())
        .owns(scope.api::<Job>(), oc())
        .owns(scope.api::<PodDisruptionBudget>(), oc())
        .owns(scope.api::<HorizontalPodAutoscaler>(), oc())
        .owns(scope.api::<Ingress>(), oc())
        .owns(scope.api::<NetworkPolicy>(), oc())
        .with_config(controller_config())
        .graceful_shutdown_on(stopped(&stop));
    drive(
        Kind::Shop,
        controller,
        crate::reconcile::shop::reconcile,
        state,
    )
    .await;
}

async fn worker_controller(scope: Scope, state: Arc<State>, stop: watch::Receiver<bool>) {
    let (wc, oc) = (watch_config, owned_config);
    let controller = Controller::new(scope.api::<Worker>(), wc());
    let workers = controller.store();
    let controller = controller
        .owns(scope.api::<Deployment>(), oc())
        .owns(scope.api::<Service>(), oc())
        .owns(scope.api::<HorizontalPodAutoscaler>(), oc())
        .watches(scope.api::<Shop>(), wc(), move |shop: Shop| {
            dependents_of_shop(
                &workers.state(),
                shop.namespace().as_deref(),
                &shop.name_any(),
            )
        })
        .with_config(controller_config())
        .graceful_shutdown_on(stopped(&stop));
    drive(
        Kind::Worker,
        controller,
        crate::reconcile::worker::reconcile,
        state,
    )
    .await;
}

async fn backup_controller(scope: Scope, state: Arc<State>, stop: watch::Receiver<bool>) {
    let (wc, oc) = (watch_config, owned_config);
    let controller = Controller::new(scope.api::<Backup>(), wc());
    let backups = controller.store();
    // The per-Backup gauges read this controller's cache while it runs.
    let _exporting = state.metrics.export_backups(controller.store());
    let controller = controller
        .owns(scope.api::<CronJob>(), oc())
        .owns(scope.api::<Job>(), oc())
        .owns(scope.api::<PersistentVolumeClaim>(), oc())
        .watches(scope.api::<Shop>(), wc(), move |shop: Shop| {
            dependents_of_shop(
                &backups.state(),
                shop.namespace().as_deref(),
                &shop.name_any(),
            )
        })
        .with_config(controller_config())
        .graceful_shutdown_on(stopped(&stop));
    drive(
        Kind::Backup,
        controller,
        crate::reconcile::backup::reconcile,
        state,
    )
    .await;
}

/// Restores: their Jobs wake them as they finish; their Shop (maintenance rolling out, the
/// database of a new Shop getting ready) too.
async fn restore_controller(scope: Scope, state: Arc<State>, stop: watch::Receiver<bool>) {
    let (wc, oc) = (watch_config, owned_config);
    let controller = Controller::new(scope.api::<Restore>(), wc());
    let restores = controller.store();
    let controller = controller
        .owns(scope.api::<Job>(), oc())
        .watches(scope.api::<Shop>(), wc(), move |shop: Shop| {
            dependents_of_shop(
                &restores.state(),
                shop.namespace().as_deref(),
                &shop.name_any(),
            )
        })
        .with_config(controller_config())
        .graceful_shutdown_on(stopped(&stop));
    drive(
        Kind::Restore,
        controller,
        crate::reconcile::restore::reconcile,
        state,
    )
    .await;
}

/// Runs one controller to completion, timing and counting each reconcile.
async fn drive<K, R, F>(kind: Kind, controller: Controller<K>, reconcile: R, state: Arc<State>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    R: Fn(Arc<K>, Arc<Context>) -> F + Send + Sync + 'static,
    F: Future<Output = Result<Action>> + Send + 'static,
{
    controller
        .run(
            move |object, state: Arc<State>| {
                let reconciling = reconcile(object.clone(), state.ctx.clone());
                observe(kind, object, state, reconciling)
            },
            move |object, error, state| error_policy(kind, object.as_ref(), error, &state),
            state,
        )
        .for_each(|result| async move {
            match result {
                // Logged by `observe`; the error policy already scheduled the retry.
                Ok(_) | Err(controller::Error::ReconcilerFailed(..)) => {}
                // A trigger for an object deleted in the meantime: nothing to do.
                Err(controller::Error::ObjectNotFound(object)) => {
                    tracing::debug!(kind = kind.as_str(), %object, "object is gone");
                }
                Err(error) => {
                    tracing::warn!(kind = kind.as_str(), error = %error, "watch failed, retrying");
                }
            }
        })
        .await;
}

async fn observe<K>(
    kind: Kind,
    object: Arc<K>,
    state: Arc<State>,
    reconciling: impl Future<Output = Result<Action>>,
) -> Result<Action>
where
    K: Resource<DynamicType = ()>,
{
    let started = Instant::now();
    let result = reconciling.await;
    let took = started.elapsed();
    state.metrics.record_reconcile(kind, took);
    let meta = object.meta();
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    let name = meta.name.as_deref().unwrap_or_default();
    let duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    match &result {
        Ok(action) => {
            state
                .failures()
                .remove(&State::failure_key(kind, object.as_ref()));
            tracing::info!(
                kind = kind.as_str(),
                namespace,
                name,
                duration_ms,
                outcome = "ok",
                next = ?action,
                "reconciled"
            );
        }
        Err(error) => tracing::info!(
            kind = kind.as_str(),
            namespace,
            name,
            duration_ms,
            outcome = "error",
            reason = error.metric_label(),
            error = %error,
            "reconcile failed"
        ),
    }
    result
}

fn error_policy<K: Resource>(kind: Kind, object: &K, error: &Error, state: &State) -> Action {
    let reason = error.metric_label();
    state.metrics.record_error(kind, reason);
    let failures = {
        let mut failures = state.failures();
        let count = failures
            .entry(State::failure_key(kind, object))
            .or_insert(0);
        *count = count.saturating_add(1);
        *count
    };
    let delay = error.retry_delay(failures);
    tracing::debug!(
        kind = kind.as_str(),
        reason,
        failures,
        retry_in_s = delay.as_secs(),
        "retry scheduled"
    );
    Action::requeue(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{WorkerSpec, WorkerType};
    use kube_fake_client::ClientBuilder;

    fn worker(namespace: &str, name: &str, shop: &str) -> Arc<Worker> {
        let spec: WorkerSpec = serde_json::from_value(serde_json::json!({
            "shopRef": shop,
            "type": WorkerType::Email,
        }))
        .expect("valid worker spec");
        let mut worker = Worker::new(name, spec);
        worker.metadata.namespace = Some(namespace.to_owned());
        Arc::new(worker)
    }

    #[test]
    fn a_shop_maps_to_the_workers_that_reference_it_in_its_namespace() {
        let workers = [
            worker("shop-a", "mail", "web"),
            worker("shop-a", "invoices", "web"),
            worker("shop-a", "other-shop", "outlet"),
            worker("shop-b", "same-name-elsewhere", "web"),
        ];
        let mut names: Vec<String> = dependents_of_shop(&workers, Some("shop-a"), "web")
            .into_iter()
            .map(|object| {
                assert_eq!(object.namespace.as_deref(), Some("shop-a"));
                object.name
            })
            .collect();
        names.sort();
        assert_eq!(names, ["invoices", "mail"]);
        assert!(dependents_of_shop(&workers, Some("shop-c"), "web").is_empty());
    }

    fn installed(name: &str) -> CustomResourceDefinition {
        crate::crd::all()
            .into_iter()
            .find(|crd| crd.name_any() == name)
            .expect("a CRD of the platform")
    }

    #[tokio::test]
    async fn the_crd_check_passes_when_all_three_are_installed() {
        let mut builder = ClientBuilder::new();
        for crd in crate::crd::all() {
            builder = builder.with_object(crd);
        }
        let client = builder.build().await.expect("fake client");
        check_crds(client).await.expect("all CRDs installed");
    }

    #[tokio::test]
    async fn the_crd_check_names_the_missing_crd_and_how_to_install_it() {
        let client = ClientBuilder::new()
            .with_object(installed("shops.shop.dev"))
            .with_object(installed("backups.shop.dev"))
            .build()
            .await
            .expect("fake client");
        let error = check_crds(client).await.expect_err("workers CRD missing");
        assert_eq!(
            error.to_string(),
            "CRD workers.shop.dev is not installed: kubectl apply -f crds/"
        );
    }

    #[tokio::test]
    async fn the_crd_check_rejects_a_crd_without_our_version() {
        let mut shops = installed("shops.shop.dev");
        for version in &mut shops.spec.versions {
            version.name = "v1beta9".to_owned();
        }
        let client = ClientBuilder::new()
            .with_object(shops)
            .with_object(installed("workers.shop.dev"))
            .with_object(installed("backups.shop.dev"))
            .build()
            .await
            .expect("fake client");
        let error = check_crds(client).await.expect_err("stale CRD");
        assert!(
            error.to_string().contains("does not serve v1alpha1"),
            "{error}"
        );
    }
}
