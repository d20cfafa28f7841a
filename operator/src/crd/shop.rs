//! `Shop`: one running shop (API, its backends, migrations) in a namespace.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{LocalObjectReference, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backends::{DatabaseSpec, RabbitmqSpec};
use super::common::{AUTOSCALING_NEEDS_CPU_REQUEST, AutoscalingSpec, DNS_1035_RULE, SecretKeyRef};
use super::settings::{CommerceSpec, InvoicesSpec, NotificationsSpec, PaymentsSpec, SmtpSpec};

/// Desired state of a shop.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "shop.dev",
    version = "v1alpha1",
    kind = "Shop",
    namespaced,
    status = "ShopStatus",
    shortname = "shp",
    category = "shop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".status.runningVersion"}"#,
    printcolumn = r#"{"name":"Endpoint","type":"string","jsonPath":".status.endpoints.http"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("size(self.metadata.name) <= 40").message("a Shop's name must be at most 40 characters (its children's names are derived from it)"),
    validation = Rule::new(DNS_1035_RULE).message("a Shop's name must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and ending with a letter or digit (it names Services such as NAME-api)")
)]
#[serde(rename_all = "camelCase")]
pub struct ShopSpec {
    /// Version of the shop to run: the tag of the `shop-api` and `shop-workers` images.
    /// Changing it runs the migration Job of the new version before the API moves to it.
    #[schemars(regex(pattern = r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"))]
    pub version: String,
    /// Where the images come from.
    #[serde(default)]
    pub image: ImageSpec,
    /// The API Deployment: replicas, resources, autoscaling, Service and Ingress.
    #[serde(default)]
    pub api: ApiSpec,
    /// PostgreSQL: run by the operator (`managed`), supplied (`external`) or a CloudNativePG
    /// `Cluster` (`cloudNativePG`).
    #[serde(default)]
    pub database: DatabaseSpec,
    /// Redis: run by the operator (`managed`) or supplied (`external`).
    #[serde(default)]
    pub redis: BackendSpec,
    /// RabbitMQ: run by the operator (`managed`), supplied (`external`) or a `RabbitmqCluster`
    /// of the RabbitMQ Cluster Operator (`clusterOperator`).
    #[serde(default)]
    pub rabbitmq: RabbitmqSpec,
    /// Signing key for access tokens.
    #[serde(default)]
    pub auth: AuthSpec,
    /// The payment provider and the Secret with its keys. When absent the shop takes no money
    /// online (staff still record offline payments): the keyless `sandbox` lets customers mark
    /// their own orders paid, so it must be asked for (`payments: {provider: sandbox}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payments: Option<PaymentsSpec>,
    /// Checkout and catalogue rules: tax rate, low-stock threshold.
    #[serde(default)]
    pub commerce: CommerceSpec,
    /// Invoices: the seller printed on them and where their PDFs are stored (invoice Workers
    /// need `storage`).
    #[serde(default)]
    pub invoices: InvoicesSpec,
    /// Outgoing mail: the SMTP server email Workers send through (they need it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpSpec>,
    /// Webhooks the notification Workers post every notification to.
    #[serde(default)]
    pub notifications: NotificationsSpec,
    /// Prometheus Operator integration.
    #[serde(default)]
    pub monitoring: MonitoringSpec,
    /// NetworkPolicies around the managed backends.
    #[serde(default)]
    pub network_policy: NetworkPolicySpec,
    /// Stop reconciling: nothing the operator owns is changed while true.
    #[serde(default)]
    pub paused: bool,
}

/// Image repositories and pull settings. The tag is `spec.version`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    /// Repository of the API image.
    #[serde(default = "default_api_repository")]
    pub api_repository: String,
    /// Repository of the workers image.
    #[serde(default = "default_workers_repository")]
    pub workers_repository: String,
    /// Pull policy of every shop container.
    #[serde(default = "default_pull_policy")]
    #[schemars(extend("enum" = ["Always", "IfNotPresent", "Never"]))]
    pub pull_policy: String,
    /// Secrets for pulling from a private registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_secrets: Vec<LocalObjectReference>,
}

impl Default for ImageSpec {
    fn default() -> Self {
        Self {
            api_repository: default_api_repository(),
            workers_repository: default_workers_repository(),
            pull_policy: default_pull_policy(),
            pull_secrets: Vec::new(),
        }
    }
}

fn default_api_repository() -> String {
    "ghcr.io/shop-platform/shop-api".to_owned()
}

fn default_workers_repository() -> String {
    "ghcr.io/shop-platform/shop-workers".to_owned()
}

fn default_pull_policy() -> String {
    "IfNotPresent".to_owned()
}

/// The API server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(AUTOSCALING_NEEDS_CPU_REQUEST).message("autoscaling needs resources.requests.cpu: the HPA scales on a percentage of the CPU request"))]
pub struct ApiSpec {
    /// Replicas when autoscaling is off.
    #[serde(default = "default_api_replicas")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,
    /// Container resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Scale on CPU with a HorizontalPodAutoscaler instead of a fixed replica count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
    /// The Service in front of the API.
    #[serde(default)]
    pub service: ServiceSpec,
    /// An Ingress for the REST API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
    /// Requests per minute per client IP on `/api/v1` before HTTP 429 / RESOURCE_EXHAUSTED; `0`
    /// turns the limit off. The shop's default (100) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000000))]
    pub rate_limit_per_minute: Option<u32>,
    /// Origins allowed cross-origin access (CORS), like `https://shop.example.com`; none when
    /// empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 50),
        inner(length(min = 8, max = 253), regex(pattern = r"^https?://[^\s,/]+$"))
    )]
    pub cors_allowed_origins: Vec<String>,
    /// How long one request may take, in seconds. The shop's default (30) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub request_timeout_seconds: Option<u32>,
    /// Log line format.
    #[serde(default)]
    pub log_format: LogFormat,
}

impl Default for ApiSpec {
    fn default() -> Self {
        Self {
            replicas: default_api_replicas(),
            resources: None,
            autoscaling: None,
            service: ServiceSpec::default(),
            ingress: None,
            rate_limit_per_minute: None,
            cors_allowed_origins: Vec::new(),
            request_timeout_seconds: None,
            log_format: LogFormat::default(),
        }
    }
}

fn default_api_replicas() -> i32 {
    2
}

/// Log line format of the shop's processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    #[default]
    Json,
    /// Human-readable lines.
    Text,
}

impl LogFormat {
    /// The value of `SHOP_LOG_FORMAT`.
    pub fn as_env(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Text => "text",
        }
    }
}

/// The API's Service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.httpPort != self.grpcPort && self.httpPort != 9090 && self.grpcPort != 9090").message("httpPort and grpcPort must differ from each other and from 9090 (the metrics port)"))]
pub struct ServiceSpec {
    /// Kubernetes Service type.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// Port of the REST API (and health, metrics, OpenAPI).
    #[serde(default = "default_http_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub http_port: i32,
    /// Port of the gRPC API.
    #[serde(default = "default_grpc_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub grpc_port: i32,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self {
            type_: ServiceType::default(),
            http_port: default_http_port(),
            grpc_port: default_grpc_port(),
        }
    }
}

fn default_http_port() -> i32 {
    8080
}

fn default_grpc_port() -> i32 {
    50051
}

/// Kubernetes Service types the API can be exposed with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ServiceType {
    /// Reachable inside the cluster only.
    #[default]
    ClusterIP,
    /// Also on a port of every node.
    NodePort,
    /// Also through a cloud load balancer.
    LoadBalancer,
}

impl ServiceType {
    /// The name Kubernetes uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterIP => "ClusterIP",
            Self::NodePort => "NodePort",
            Self::LoadBalancer => "LoadBalancer",
        }
    }
}

/// An Ingress routing a host name to the REST API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    /// Host name the Ingress serves.
    #[schemars(
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"),
        length(max = 253)
    )]
    pub host: String,
    /// IngressClass to use; the cluster default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Secret holding the TLS certificate for `host`; plain HTTP when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret_name: Option<String>,
}

/// Redis: exactly one of `managed` or `external`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.managed) != has(self.external)").message("set exactly one of managed or external"),
    validation = Rule::new("has(self.managed) == has(oldSelf.managed)").message("a backend cannot switch between managed and external; create a new Shop and restore a backup instead")
)]
pub struct BackendSpec {
    /// Run it in the cluster as a StatefulSet owned by the Shop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<ManagedBackend>,
    /// Use an existing server; the Secret key holds its URL (`postgres://`, `redis://`, `amqp://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalBackend>,
}

impl Default for BackendSpec {
    fn default() -> Self {
        Self {
            managed: Some(ManagedBackend::default()),
            external: None,
        }
    }
}

/// A backend the operator runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedBackend {
    /// The persistent volume of the server's data.
    #[serde(default)]
    pub storage: StorageSpec,
    /// Server image; a pinned upstream image when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Container resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Delete the data volume when the Shop is deleted. Off by default: data outlives the Shop.
    #[serde(default)]
    pub delete_volume_with_shop: bool,
}

/// Size and class of a data volume. Immutable: a StatefulSet's volume templates cannot change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("storage is immutable"))]
pub struct StorageSpec {
    /// Requested size, e.g. `1Gi`.
    #[serde(default = "default_storage_size", deserialize_with = "size_or_default")]
    pub size: Quantity,
    /// StorageClass; the cluster default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            size: default_storage_size(),
            storage_class_name: None,
        }
    }
}

fn default_storage_size() -> Quantity {
    Quantity("1Gi".to_owned())
}

/// `size: null` means the default. The generated schema marks int-or-string fields nullable, and
/// the API server keeps an explicit null; refusing it here would make the whole Shop unreadable
/// to the operator's watch.
fn size_or_default<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Quantity, D::Error> {
    Ok(Option::<Quantity>::deserialize(deserializer)?.unwrap_or_else(default_storage_size))
}

/// A backend supplied from outside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExternalBackend {
    /// The Secret key holding the connection URL.
    pub secret_ref: SecretKeyRef,
}

/// Access-token signing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// Secret key holding the JWT signing secret (at least 32 bytes); generated once when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_secret_ref: Option<SecretKeyRef>,
}

/// Prometheus Operator integration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// Create ServiceMonitors for the API and workers (needs the Prometheus Operator's CRD).
    #[serde(default)]
    pub service_monitor: bool,
    /// Labels added to every ServiceMonitor the operator creates, so that a Prometheus selecting
    /// ServiceMonitors by label finds them (kube-prometheus-stack's selects `release: <its
    /// release>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    // Values as Kubernetes checks label values, so that a typo is refused here rather than by
    // every ServiceMonitor apply.
    #[schemars(extend(
        "maxProperties" = 20,
        "additionalProperties" = {
            "type": "string",
            "maxLength": 63,
            "pattern": "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
        }
    ))]
    pub service_monitor_labels: BTreeMap<String, String>,
    /// Alerting rules for this shop as a PrometheusRule (needs the Prometheus Operator's CRD).
    #[serde(default)]
    pub prometheus_rule: PrometheusRuleSpec,
    /// OpenTelemetry traces from every pod the shop runs; off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<TracingSpec>,
}

/// The shop's alerting rules (API down, error ratio, latency, outbox backlog, dead letters, queue
/// depth, workers, backups) as a PrometheusRule named `<shop>-alerts`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusRuleSpec {
    /// Create the PrometheusRule.
    #[serde(default)]
    pub enabled: bool,
    /// Labels added to the PrometheusRule (after `serviceMonitorLabels`), so that a Prometheus
    /// selecting rules by label finds it (kube-prometheus-stack's selects `release: <its
    /// release>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend(
        "maxProperties" = 20,
        "additionalProperties" = {
            "type": "string",
            "maxLength": 63,
            "pattern": "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
        }
    ))]
    pub labels: BTreeMap<String, String>,
}

/// Where the shop's processes send their traces (OTLP over HTTP).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TracingSpec {
    /// The collector's OTLP endpoint, e.g. `http://otel-collector.monitoring:4318`
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    #[schemars(length(min = 8, max = 2048), regex(pattern = r"^https?://[^\s,]+$"))]
    pub endpoint: String,
    /// Fraction of new traces recorded, from `0` to `1`, as a string such as `"0.1"` (Kubernetes
    /// APIs avoid floating-point numbers); a request that arrives traced keeps its parent's
    /// decision. `"1"` (every trace) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 8),
        regex(pattern = r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$")
    )]
    pub sampling_ratio: Option<String>,
}

impl TracingSpec {
    /// `OTEL_TRACES_SAMPLER_ARG`.
    pub fn sampler_arg(&self) -> &str {
        self.sampling_ratio.as_deref().unwrap_or("1")
    }
}

/// NetworkPolicies around the managed backends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Let only this shop's pods reach its managed database, cache and broker.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

impl Default for NetworkPolicySpec {
    fn default() -> Self {
        Self { enabled: true }
    }
}

fn enabled() -> bool {
    true
}

/// Observed state of a shop.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShopStatus {
    /// The generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `DatabaseReady`, `CacheReady`, `QueueReady`, `Migrated`, `ApiReady` (and
    /// `MonitoringReady` when ServiceMonitors are asked for, `AlertsReady` when alerting rules
    /// are).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The version the API Deployment runs: the newest whose migration succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_version: Option<String>,
    /// Where to reach the shop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<ShopEndpoints>,
}

/// Addresses of the shop's APIs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShopEndpoints {
    /// REST base URL inside the cluster (or the Ingress URL when there is one).
    pub http: String,
    /// gRPC address inside the cluster.
    pub grpc: String,
}
