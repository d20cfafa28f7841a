//! Types shared by more than one custom resource.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// CEL: the resource's name is a DNS-1035 label, as the Services named after it must be. (The
/// API server only checks custom resource names as DNS-1123 subdomains, which allow `2shop` and
/// `shop.v2`.)
pub(super) const DNS_1035_RULE: &str = "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')";

/// CEL on a spec with `resources` and `autoscaling`: the autoscaler's target is a percentage of
/// the CPU request, so without one the HPA can compute nothing.
pub(super) const AUTOSCALING_NEEDS_CPU_REQUEST: &str = "!has(self.autoscaling) || (has(self.resources) && has(self.resources.requests) && 'cpu' in self.resources.requests)";

/// A key of a Secret in the same namespace as the resource that names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret.
    #[serde(default = "default_url_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

fn default_url_key() -> String {
    "url".to_owned()
}

/// A key of a Secret in the same namespace, both named explicitly (no default key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedSecretKey {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A Secret in the same namespace; the field naming it says which keys are read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Horizontal autoscaling on CPU utilisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.maxReplicas >= self.minReplicas").message("maxReplicas must be at least minReplicas"))]
pub struct AutoscalingSpec {
    /// Fewest replicas the autoscaler keeps.
    #[serde(default = "default_min_replicas")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_replicas: i32,
    /// Most replicas the autoscaler may run.
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,
    /// Average CPU utilisation (percent of requests) the autoscaler aims for.
    #[serde(default = "default_target_cpu")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percent: i32,
}

fn default_min_replicas() -> i32 {
    1
}

fn default_target_cpu() -> i32 {
    70
}
