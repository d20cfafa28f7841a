//! The Shop's PostgreSQL and RabbitMQ: besides `managed` (a single-replica StatefulSet the
//! operator runs) and `external` (a URL in a Secret), each can be handed to the operator a
//! platform team already runs for it: CloudNativePG for PostgreSQL, the RabbitMQ Cluster Operator
//! for RabbitMQ. Exactly one of the choices is set, and a Shop never switches between them: the
//! data lives in a different place for each, so a switch is a new Shop and a restored backup.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::shop::{ExternalBackend, ManagedBackend, StorageSpec};

/// PostgreSQL: exactly one of `managed`, `external` or `cloudNativePG`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("(has(self.managed) ? 1 : 0) + (has(self.external) ? 1 : 0) + (has(self.cloudNativePG) ? 1 : 0) == 1").message("set exactly one of managed, external or cloudNativePG"),
    validation = Rule::new("has(self.managed) == has(oldSelf.managed) && has(self.external) == has(oldSelf.external) && has(self.cloudNativePG) == has(oldSelf.cloudNativePG)").message("a backend cannot switch between managed, external and cloudNativePG; create a new Shop and restore a backup instead")
)]
pub struct DatabaseSpec {
    /// Run it in the cluster as a single-replica StatefulSet owned by the Shop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<ManagedBackend>,
    /// Use an existing server; the Secret key holds its URL (`postgres://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalBackend>,
    /// A CloudNativePG `Cluster` made for the Shop (needs the CloudNativePG operator); it
    /// outlives the Shop unless `deleteWithShop`.
    #[serde(
        default,
        rename = "cloudNativePG",
        skip_serializing_if = "Option::is_none"
    )]
    pub cloud_native_pg: Option<CloudNativePgSpec>,
}

impl Default for DatabaseSpec {
    fn default() -> Self {
        Self {
            managed: Some(ManagedBackend::default()),
            external: None,
            cloud_native_pg: None,
        }
    }
}

/// RabbitMQ: exactly one of `managed`, `external` or `clusterOperator`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("(has(self.managed) ? 1 : 0) + (has(self.external) ? 1 : 0) + (has(self.clusterOperator) ? 1 : 0) == 1").message("set exactly one of managed, external or clusterOperator"),
    validation = Rule::new("has(self.managed) == has(oldSelf.managed) && has(self.external) == has(oldSelf.external) && has(self.clusterOperator) == has(oldSelf.clusterOperator)").message("a backend cannot switch between managed, external and clusterOperator; create a new Shop and restore a backup instead")
)]
pub struct RabbitmqSpec {
    /// Run it in the cluster as a single-replica StatefulSet owned by the Shop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<ManagedBackend>,
    /// Use an existing server; the Secret key holds its URL (`amqp://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalBackend>,
    /// A `RabbitmqCluster` made for the Shop (needs the RabbitMQ Cluster Operator); it outlives
    /// the Shop unless `deleteWithShop`. The shop's quorum queues replicate across its nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_operator: Option<RabbitmqClusterSpec>,
}

impl Default for RabbitmqSpec {
    fn default() -> Self {
        Self {
            managed: Some(ManagedBackend::default()),
            external: None,
            cluster_operator: None,
        }
    }
}

/// A PostgreSQL cluster run by CloudNativePG: a primary and streaming replicas with automated
/// failover. Its database and owner are both `shop`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.postgresMajorVersion) || !has(oldSelf.postgresMajorVersion) || self.postgresMajorVersion >= oldSelf.postgresMajorVersion").message("postgresMajorVersion cannot go down: PostgreSQL cannot open a newer major version's data"))]
pub struct CloudNativePgSpec {
    /// PostgreSQL instances: one primary, the others replicas it fails over to.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 9))]
    pub instances: i32,
    /// Each instance's volume.
    #[serde(default)]
    pub storage: StorageSpec,
    /// PostgreSQL major version. The image is CloudNativePG's `ghcr.io/cloudnative-pg/postgresql`
    /// at a minor release of that major the operator pins (see `imageName` to choose another).
    /// Raising it is a major upgrade, which CloudNativePG 1.26 and later perform in place. At
    /// least 14 (13 is past its end of life), at most 17: `shop-api backup` dumps with PostgreSQL
    /// 17's `pg_dump`, which refuses newer servers.
    #[serde(default = "default_postgres_major_version")]
    #[schemars(range(min = 14, max = 17))]
    pub postgres_major_version: i32,
    /// The PostgreSQL image instead of the pinned one (e.g. a mirror, or a newer minor release);
    /// it must run the major version `postgresMajorVersion` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image_name: Option<String>,
    /// Resources of each instance's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Metrics of the instances.
    #[serde(default)]
    pub monitoring: CloudNativePgMonitoring,
    /// Whether deleting the Shop deletes the Cluster, and with it every instance's volume. Off
    /// by default: the Cluster (and the data) outlives the Shop until deleted by hand, and a
    /// Shop created again with the same name takes it back.
    #[serde(default)]
    pub delete_with_shop: bool,
}

/// Metrics of a CloudNativePG cluster (each instance serves them on port 9187).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudNativePgMonitoring {
    /// Have CloudNativePG create a PodMonitor for the instances (needs the Prometheus
    /// Operator's CRD). CloudNativePG has deprecated this (`enablePodMonitor`) in favour of a
    /// PodMonitor you create; it works while CloudNativePG still honours the field.
    #[serde(default)]
    pub pod_monitor: bool,
}

/// A RabbitMQ cluster run by the RabbitMQ Cluster Operator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.replicas) || !has(oldSelf.replicas) || self.replicas >= oldSelf.replicas").message("replicas cannot go down: the RabbitMQ Cluster Operator does not scale a cluster down"))]
pub struct RabbitmqClusterSpec {
    /// RabbitMQ nodes; an odd number keeps a quorum through the loss of a minority.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 9))]
    pub replicas: i32,
    /// Each node's volume.
    #[serde(default)]
    pub storage: StorageSpec,
    /// Resources of each node's container; the Cluster Operator's defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Whether deleting the Shop deletes the RabbitmqCluster, and with it the nodes' volumes
    /// (messages not yet handled). Off by default: it outlives the Shop until deleted by hand,
    /// and a Shop created again with the same name takes it back.
    #[serde(default)]
    pub delete_with_shop: bool,
}

fn default_replicas() -> i32 {
    3
}

fn default_postgres_major_version() -> i32 {
    17
}
