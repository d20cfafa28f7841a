//! `Worker`: a pool of one kind of background worker for a `Shop`.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{AUTOSCALING_NEEDS_CPU_REQUEST, AutoscalingSpec, DNS_1035_RULE};

/// Desired state of a worker pool.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "shop.dev",
    version = "v1alpha1",
    kind = "Worker",
    namespaced,
    status = "WorkerStatus",
    shortname = "swk",
    category = "shop",
    scale = r#"{"specReplicasPath":".spec.replicas","statusReplicasPath":".status.replicas","labelSelectorPath":".status.selector"}"#,
    printcolumn = r#"{"name":"Shop","type":"string","jsonPath":".spec.shopRef"}"#,
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.type"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","jsonPath":".status.readyReplicas","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("size(self.metadata.name) <= 40").message("a Worker's name must be at most 40 characters"),
    validation = Rule::new(DNS_1035_RULE).message("a Worker's name must be a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and ending with a letter or digit (it names the Service NAME-worker)")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(AUTOSCALING_NEEDS_CPU_REQUEST).message("autoscaling needs resources.requests.cpu: the HPA scales on a percentage of the CPU request"))]
pub struct WorkerSpec {
    /// Name of the Shop (same namespace) whose events this pool handles.
    #[schemars(length(min = 1, max = 63))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("shopRef is immutable"))]
    pub shop_ref: String,
    /// Which worker runs: `shop-workers --only TYPE`.
    #[serde(rename = "type")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("type is immutable"))]
    pub type_: WorkerType,
    /// Replicas when autoscaling is off (the scale subresource sets this).
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,
    /// Messages each replica handles at once (the consumer's prefetch).
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 256))]
    pub concurrency: i32,
    /// Container resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Scale on CPU with a HorizontalPodAutoscaler instead of a fixed replica count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<AutoscalingSpec>,
}

fn default_replicas() -> i32 {
    1
}

fn default_concurrency() -> i32 {
    4
}

/// The kinds of worker `shop-workers` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkerType {
    /// Transactional email.
    Email,
    /// PDF invoices.
    Invoice,
    /// In-app, push and SMS notifications.
    Notification,
    /// Event store and aggregates.
    Analytics,
    /// Product images' smaller variants.
    Media,
}

impl WorkerType {
    /// Every type, in a stable order.
    pub const ALL: [Self; 5] = [
        Self::Email,
        Self::Invoice,
        Self::Notification,
        Self::Analytics,
        Self::Media,
    ];

    /// The name used on the command line, in labels and in object names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Invoice => "invoice",
            Self::Notification => "notification",
            Self::Analytics => "analytics",
            Self::Media => "media",
        }
    }
}

/// Observed state of a worker pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStatus {
    /// The generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pods of the pool (read by the scale subresource).
    #[serde(default)]
    pub replicas: i32,
    /// Pods passing their readiness probe.
    #[serde(default)]
    pub ready_replicas: i32,
    /// Label selector of the pool's pods, for the scale subresource and HPAs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// `Ready` and `ShopFound`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
