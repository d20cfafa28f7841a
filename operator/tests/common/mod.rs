//! An in-memory Kubernetes API (kube-fake-client) with the operator's kinds registered, made as
//! strict as a real kube-apiserver by [`api_server::ApiServer`] (server-side apply field
//! ownership, garbage collection, validation, defaults), with every write recorded, so tests can
//! drive reconcilers and count what they changed.

#![allow(dead_code, missing_debug_implementations)]

use std::sync::{Arc, Mutex};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionNames, CustomResourceDefinitionSpec,
};
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::ObjectMeta;
use kube::{Api, Client, Resource};
use kube_fake_client::ClientBuilder;
use serde_json::{Value, json};
use shop_operator::build::cnpg::{CLUSTER_CRD, Cluster};
use shop_operator::build::prometheus_rule::{PROMETHEUS_RULE_CRD, PrometheusRule};
use shop_operator::build::rabbitmq_cluster::{RABBITMQ_CLUSTER_CRD, RabbitmqCluster};
use shop_operator::build::service_monitor::{SERVICE_MONITOR_CRD, ServiceMonitor};
use shop_operator::context::Context;
use shop_operator::crd::{Backup, Restore, Shop, Worker};

pub mod api_server;
mod defaults;
pub mod field_set;
mod kinds;
pub mod objects;
pub mod shops;
pub mod validation;
mod wire;

use api_server::ApiServer;

pub const NAMESPACE: &str = "shop";

/// The fake API server, the log of writes made to it, and every HTTP request the code sent.
pub struct FakeCluster {
    /// The client the reconcilers get: every request it sends is recorded.
    pub client: Client,
    /// The client the tests set things up with (not recorded).
    setup: Client,
    writes: Arc<Mutex<Vec<String>>>,
    requests: Arc<Mutex<Vec<ApiRequest>>>,
}

/// One request the operator's code sent to the API server.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: http::Method,
    pub path: String,
    pub query: String,
    /// A server-side apply (which creates the object when it is absent).
    pub apply: bool,
}

impl ApiRequest {
    /// The RBAC permissions this request needs, as (API group, resource[/subresource], verb).
    pub fn permissions(&self) -> Vec<(String, String, String)> {
        let parts: Vec<&str> = self.path.trim_start_matches('/').split('/').collect();
        let (group, rest) = match parts.as_slice() {
            ["api", _version, rest @ ..] => (String::new(), rest),
            ["apis", group, _version, rest @ ..] => ((*group).to_owned(), rest),
            _ => panic!("unexpected API path {}", self.path),
        };
        let rest = match rest {
            ["namespaces", _namespace, rest @ ..] if !rest.is_empty() => rest,
            rest => rest,
        };
        let (resource, named) = match rest {
            [resource] => ((*resource).to_owned(), false),
            [resource, _name] => ((*resource).to_owned(), true),
            [resource, _name, subresource] => (format!("{resource}/{subresource}"), true),
            _ => panic!("unexpected API path {}", self.path),
        };
        let watch = self.query.split('&').any(|pair| pair == "watch=true");
        let verbs: &[&str] = match (&self.method, named) {
            (&http::Method::GET, true) => &["get"],
            (&http::Method::GET, false) if watch => &["watch"],
            (&http::Method::GET, false) => &["list"],
            (&http::Method::POST, _) => &["create"],
            (&http::Method::PUT, _) => &["update"],
            (&http::Method::PATCH, _) if self.apply => &["patch", "create"],
            (&http::Method::PATCH, _) => &["patch"],
            (&http::Method::DELETE, true) => &["delete"],
            (&http::Method::DELETE, false) => &["deletecollection"],
            (method, _) => panic!("unexpected method {method}"),
        };
        verbs
            .iter()
            .map(|verb| (group.clone(), resource.clone(), (*verb).to_owned()))
            .collect()
    }
}

impl FakeCluster {
    pub async fn new() -> Self {
        let fake = ClientBuilder::new()
            .with_resource::<Shop>()
            .with_resource::<Worker>()
            .with_resource::<Backup>()
            .with_resource::<Restore>()
            .with_resource::<ServiceMonitor>()
            .with_resource::<PrometheusRule>()
            .with_resource::<Cluster>()
            .with_resource::<RabbitmqCluster>()
            .build()
            .await
            .expect("fake client builds");
        // Every client talks to the fake through the stricter API server.
        let writes = Arc::new(Mutex::new(Vec::new()));
        let server = Arc::new(ApiServer::new(fake, writes.clone()));
        let setup = {
            let server = server.clone();
            Client::new(
                tower::service_fn(move |request: http::Request<kube::client::Body>| {
                    let server = server.clone();
                    async move { server.handle(request).await }
                }),
                "default",
            )
        };
        // The reconcilers' client: every request it sends is recorded first.
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            let server = server.clone();
            let log = log.clone();
            async move {
                let apply = request
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .is_some_and(|value| value.as_bytes().starts_with(b"application/apply-patch"));
                log.lock().expect("request log lock").push(ApiRequest {
                    method: request.method().clone(),
                    path: request.uri().path().to_owned(),
                    query: request.uri().query().unwrap_or_default().to_owned(),
                    apply,
                });
                server.handle(request).await
            }
        });
        let client = Client::new(service, "default");
        Self {
            client,
            setup,
            writes,
            requests,
        }
    }

    /// Every request sent so far.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.requests.lock().expect("request log lock").clone()
    }

    /// The reconcile context, with deterministic generated secrets.
    pub fn context(&self) -> Arc<Context> {
        self.context_generating("generated-secret")
    }

    /// A reconcile context whose generated secrets are `{prefix}-0`, `{prefix}-1`...: a second
    /// operator run that would generate different secrets than the first.
    pub fn context_generating(&self, prefix: &str) -> Arc<Context> {
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let prefix = prefix.to_owned();
        Arc::new(Context::with_secret_generator(
            self.client.clone(),
            Arc::new(move || {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                format!("{prefix}-{n}")
            }),
        ))
    }

    /// Writes recorded since the last call.
    pub fn take_writes(&self) -> Vec<String> {
        std::mem::take(&mut *self.writes.lock().expect("write log lock"))
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.setup.clone(), NAMESPACE)
    }

    /// Creates an object from YAML-ish JSON in the test namespace.
    pub async fn create<K>(&self, object: Value) -> K
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + serde::Serialize
            + serde::de::DeserializeOwned
            + Clone
            + std::fmt::Debug,
    {
        let object: K = serde_json::from_value(object).expect("test object parses");
        let created = self
            .api::<K>()
            .create(&PostParams::default(), &object)
            .await
            .expect("create");
        self.take_writes();
        created
    }

    /// Reads an object back (as the controller's cache would hand it to the reconciler).
    pub async fn get<K>(&self, name: &str) -> Option<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + serde::de::DeserializeOwned
            + Clone
            + std::fmt::Debug,
    {
        self.api::<K>().get_opt(name).await.expect("get")
    }

    /// Sets an object's status as its controller in a real cluster would (kubelet, job controller...).
    pub async fn set_status<K>(&self, name: &str, status: Value)
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + serde::de::DeserializeOwned
            + Clone
            + std::fmt::Debug,
    {
        self.api::<K>()
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
            .expect("status patch");
        self.take_writes();
    }

    /// Installs the Prometheus Operator's ServiceMonitor CRD.
    pub async fn install_service_monitor_crd(&self) {
        self.install_monitoring_crd(SERVICE_MONITOR_CRD, "ServiceMonitor", "servicemonitors")
            .await;
    }

    /// Installs the Prometheus Operator's PrometheusRule CRD.
    pub async fn install_prometheus_rule_crd(&self) {
        self.install_monitoring_crd(PROMETHEUS_RULE_CRD, "PrometheusRule", "prometheusrules")
            .await;
    }

    /// Installs CloudNativePG's Cluster CRD.
    pub async fn install_cnpg_crd(&self) {
        self.install_crd("postgresql.cnpg.io", CLUSTER_CRD, "Cluster", "clusters")
            .await;
    }

    /// Installs the RabbitMQ Cluster Operator's RabbitmqCluster CRD.
    pub async fn install_rabbitmq_cluster_crd(&self) {
        self.install_crd(
            "rabbitmq.com",
            RABBITMQ_CLUSTER_CRD,
            "RabbitmqCluster",
            "rabbitmqclusters",
        )
        .await;
    }

    async fn install_monitoring_crd(&self, name: &str, kind: &str, plural: &str) {
        self.install_crd("monitoring.coreos.com", name, kind, plural)
            .await;
    }

    async fn install_crd(&self, group: &str, name: &str, kind: &str, plural: &str) {
        let crd = CustomResourceDefinition {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec: CustomResourceDefinitionSpec {
                group: group.to_owned(),
                names: CustomResourceDefinitionNames {
                    kind: kind.to_owned(),
                    plural: plural.to_owned(),
                    ..CustomResourceDefinitionNames::default()
                },
                scope: "Namespaced".to_owned(),
                ..CustomResourceDefinitionSpec::default()
            },
            status: None,
        };
        Api::<CustomResourceDefinition>::all(self.setup.clone())
            .create(&PostParams::default(), &crd)
            .await
            .expect("install the CRD");
        self.take_writes();
    }
}

/// The repository's root.
pub fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One of the offline tools (`k8s-validate`, `helm-render`): in `$SHOP_TOOLS`, beside the
/// repository (`../shared/tools`) or in `/work/shared/tools`. Tests fail, rather than skip, when
/// it is missing, so CI cannot pass without the check having run.
pub fn tool(name: &str) -> std::path::PathBuf {
    let candidates = std::env::var_os("SHOP_TOOLS")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain([
            repo().join("../shared/tools"),
            std::path::PathBuf::from("/work/shared/tools"),
        ]);
    for folder in candidates {
        if folder.join(name).is_file() {
            return folder.join(name);
        }
    }
    panic!("{name} not found: set SHOP_TOOLS to the folder holding it");
}
