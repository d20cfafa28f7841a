//! The children of a `Shop`: its ConfigMap and generated Secrets, the managed backends (Secret,
//! headless Service, StatefulSet, NetworkPolicy each), the migration Job of a version and the API
//! (Deployment, Service, PodDisruptionBudget, HPA, Ingress, ServiceMonitor).
//!
//! Every builder takes the `Shop` as read from the API server (so it has a name, namespace and uid)
//! and returns a typed object carrying the Shop's namespace, the `app.kubernetes.io/*` labels and a
//! controller owner reference. Nothing here does I/O; what the reconciler read from the cluster
//! (existing Secrets) is passed in.

mod api_deployment;
mod api_hpa;
mod api_ingress;
mod api_pdb;
mod api_service;
mod api_service_monitor;
mod backend_network_policy;
mod backend_secret;
mod backend_service;
mod backend_stateful_set;
mod config_map;
mod credentials_secret;
mod endpoints;
mod migration_job;
#[cfg(test)]
mod ownership_tests;
mod secret_values;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, EmptyDirVolumeSource, PodSpec, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::ResourceExt;
use serde::Serialize;

use crate::build::{
    SHOP_UID, controlled_meta, image, restricted_container_security, restricted_pod_security,
    shop_env, shop_env_from, tracing_env,
};
#[cfg(doc)]
use crate::crd::{DatabaseSpec, RabbitmqSpec};
use crate::crd::{ExternalBackend, ManagedBackend, Shop};
use crate::labels;
use crate::names::Backend;

pub use api_deployment::{CONFIG_HASH_ANNOTATION, api_deployment};
pub use api_hpa::api_hpa;
pub use api_ingress::api_ingress;
pub use api_pdb::api_pdb;
pub use api_service::api_service;
pub use api_service_monitor::api_service_monitor;
pub use backend_network_policy::backend_network_policy;
pub use backend_secret::{
    COOKIE_KEY, DATABASE_KEY, PASSWORD_KEY, USERNAME_KEY, backend_secret, backend_url,
};
pub use backend_service::backend_service;
pub use backend_stateful_set::{backend_stateful_set, default_image};
pub use config_map::{config_hash, config_map};
pub use credentials_secret::credentials_secret;
pub use endpoints::endpoints;
pub use migration_job::{MIGRATION_DEADLINE_SECONDS, migration_job};

/// `app.kubernetes.io/name` of the API's and migration Job's pods.
pub const API_APP: &str = "shop-api";
/// `app.kubernetes.io/component` of the API's pods.
pub const API_COMPONENT: &str = "api";
/// `app.kubernetes.io/component` of the migration Job's pods.
pub const MIGRATION_COMPONENT: &str = "migration";
/// `app.kubernetes.io/name` of shop-wide objects (ConfigMap, credentials Secret).
const SHOP_APP: &str = "shop";

/// Labels selecting the API's pods (stable: the Deployment selector is immutable).
pub fn api_selector(shop: &Shop) -> BTreeMap<String, String> {
    labels::selector(API_APP, &shop.name_any(), API_COMPONENT)
}

/// Labels of the API's version-independent objects (Service, PDB, HPA, Ingress, ServiceMonitor).
fn api_labels(shop: &Shop) -> BTreeMap<String, String> {
    labels::full(API_APP, &shop.name_any(), API_COMPONENT, None)
}

/// Labels of the Shop's PrometheusRule.
pub fn alerts_labels(shop: &Shop) -> BTreeMap<String, String> {
    labels::full(SHOP_APP, &shop.name_any(), ALERTS_COMPONENT, None)
}

/// `app.kubernetes.io/component` of the Shop's PrometheusRule.
const ALERTS_COMPONENT: &str = "alerts";

/// Labels selecting a managed backend's pods.
pub fn backend_selector(shop: &Shop, backend: Backend) -> BTreeMap<String, String> {
    labels::selector(backend.as_str(), &shop.name_any(), backend.component())
}

/// Labels of a managed backend's objects and pods.
fn backend_labels(shop: &Shop, backend: Backend) -> BTreeMap<String, String> {
    labels::full(
        backend.as_str(),
        &shop.name_any(),
        backend.component(),
        None,
    )
}

/// Name of a managed backend's server port, in its container and Service.
pub fn backend_port_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres",
        Backend::Redis => "redis",
        Backend::RabbitMq => "amqp",
    }
}

/// The shapes every backend has, of the Shop's spec of one backend (PostgreSQL and RabbitMQ
/// have a third: [`DatabaseSpec::cloud_native_pg`], [`RabbitmqSpec::cluster_operator`]).
#[derive(Clone, Copy, Debug)]
pub struct BackendRef<'a> {
    /// Run by the operator as a StatefulSet.
    pub managed: Option<&'a ManagedBackend>,
    /// Supplied as a URL in a Secret.
    pub external: Option<&'a ExternalBackend>,
}

/// The Shop's spec of one backend.
pub fn backend_spec(shop: &Shop, backend: Backend) -> BackendRef<'_> {
    let spec = &shop.spec;
    let (managed, external) = match backend {
        Backend::Postgres => (&spec.database.managed, &spec.database.external),
        Backend::Redis => (&spec.redis.managed, &spec.redis.external),
        Backend::RabbitMq => (&spec.rabbitmq.managed, &spec.rabbitmq.external),
    };
    BackendRef {
        managed: managed.as_ref(),
        external: external.as_ref(),
    }
}

/// The backends the operator runs for this Shop, in reconcile order; external ones are left out.
pub fn managed_backends(shop: &Shop) -> Vec<(Backend, &ManagedBackend)> {
    Backend::ALL
        .into_iter()
        .filter_map(|backend| {
            backend_spec(shop, backend)
                .managed
                .map(|managed| (backend, managed))
        })
        .collect()
}

/// Whether a managed backend's data volume outlives the Shop (`deleteVolumeWithShop: false`, the
/// default). Its credentials must then outlive the Shop too: a Shop re-created with the same name
/// finds the old data directory, which accepts only the old passwords.
pub fn keeps_volume(shop: &Shop, backend: Backend) -> bool {
    backend_spec(shop, backend)
        .managed
        .is_some_and(|managed| !managed.delete_volume_with_shop)
}

/// Metadata of a Secret that outlives the Shop when `kept`: without the owner reference, so that
/// garbage collection leaves it; its labels (`app.kubernetes.io/instance`) still find it, and a
/// re-created Shop adopts it by name, keeping its values.
fn secret_meta(
    shop: &Shop,
    name: String,
    labels: BTreeMap<String, String>,
    kept: bool,
) -> ObjectMeta {
    let mut metadata = child_meta(shop, name, labels);
    if kept {
        metadata.owner_references = None;
    }
    metadata
}

/// Metadata of a child: its name, the Shop's namespace, labels, and the Shop as controller.
fn child_meta(shop: &Shop, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
    controlled_meta(shop, name, labels)
}

/// A selector matching exactly these labels.
fn match_labels(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        match_expressions: None,
    }
}

/// Every object a Shop produces at `version`, as JSON, in the order the reconciler applies them:
/// ConfigMap, credentials Secret (unless the JWT secret is supplied), for each managed backend its
/// Secret, Service, StatefulSet and (when enabled) NetworkPolicy, the CloudNativePG Cluster and
/// RabbitmqCluster (when asked for), the migration Job, then the API's
/// Deployment, Service, PodDisruptionBudget, HPA and Ingress (when asked for) and ServiceMonitor
/// (when `spec.monitoring.serviceMonitor`). Secrets are generated as if none existed yet.
///
/// For validation tests and benchmarks; the reconciler applies the typed objects one by one.
pub fn shop_objects(
    shop: &Shop,
    version: &str,
    new_secret: &dyn Fn() -> String,
) -> Vec<serde_json::Value> {
    fn json(object: impl Serialize) -> serde_json::Value {
        serde_json::to_value(object).expect("Kubernetes objects serialise to JSON")
    }

    let config = config_map(shop);
    let hash = config_hash(&config);
    let mut objects = vec![json(config)];
    if let Some(secret) = credentials_secret(shop, None, new_secret) {
        objects.push(json(secret));
    }
    for (backend, managed) in managed_backends(shop) {
        objects.push(json(backend_secret(shop, backend, None, new_secret)));
        objects.push(json(backend_service(shop, backend)));
        objects.push(json(backend_stateful_set(shop, backend, managed)));
        if shop.spec.network_policy.enabled {
            objects.push(json(backend_network_policy(shop, backend)));
        }
    }
    // The backends handed to other operators (their CRDs are taken to exist).
    if let Some(spec) = &shop.spec.database.cloud_native_pg {
        objects.push(json(crate::build::cnpg::cluster(shop, spec)));
    }
    if let Some(spec) = &shop.spec.rabbitmq.cluster_operator {
        objects.push(json(crate::build::rabbitmq_cluster::rabbitmq_cluster(
            shop, spec,
        )));
    }
    objects.push(json(migration_job(shop, version)));
    objects.push(json(api_deployment(shop, version, &hash)));
    objects.push(json(api_service(shop)));
    objects.push(json(api_pdb(shop)));
    if let Some(hpa) = api_hpa(shop) {
        objects.push(json(hpa));
    }
    if let Some(ingress) = api_ingress(shop) {
        objects.push(json(ingress));
    }
    if shop.spec.monitoring.service_monitor {
        objects.push(json(api_service_monitor(shop)));
    }
    if shop.spec.monitoring.prometheus_rule.enabled
        && let Ok(rule) = crate::build::prometheus_rule::shop_prometheus_rule(shop)
    {
        objects.push(json(rule));
    }
    objects
}

/// Name and mount path of the writable `/tmp` of shop containers (their root filesystem is
/// read-only).
const TMP_VOLUME: &str = "tmp";

/// A container running `shop-api` at `version`: configured by
/// [`shop_env`](crate::build::shop_env) and [`shop_env_from`](crate::build::shop_env_from),
/// tracing as `service` when the Shop asks for traces, hardened, with a writable `/tmp`.
fn shop_container(
    shop: &Shop,
    name: &str,
    service: &str,
    version: &str,
    args: &[&str],
) -> Container {
    let mut env = shop_env(shop);
    env.extend(tracing_env(shop, service));
    Container {
        name: name.to_owned(),
        image: Some(image(&shop.spec.image.api_repository, version)),
        image_pull_policy: Some(shop.spec.image.pull_policy.clone()),
        args: Some(args.iter().map(|arg| (*arg).to_owned()).collect()),
        env: Some(env),
        env_from: Some(shop_env_from(shop)),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(vec![VolumeMount {
            name: TMP_VOLUME.to_owned(),
            mount_path: "/tmp".to_owned(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    }
}

/// The pod around a [`shop_container`]: the shop's user, pull secrets, the `/tmp` volume, no
/// service account token (the shop never talks to the Kubernetes API).
fn shop_pod(shop: &Shop, container: Container) -> PodSpec {
    let pull_secrets = &shop.spec.image.pull_secrets;
    PodSpec {
        containers: vec![container],
        security_context: Some(restricted_pod_security(SHOP_UID)),
        image_pull_secrets: (!pull_secrets.is_empty()).then(|| pull_secrets.clone()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        volumes: Some(vec![Volume {
            name: TMP_VOLUME.to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        }]),
        ..PodSpec::default()
    }
}
