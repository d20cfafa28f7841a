//! A typed `RabbitmqCluster` (RabbitMQ Cluster Operator, `rabbitmq.com/v1beta1`) for a Shop's
//! `spec.rabbitmq.clusterOperator`, what the operator reads back from it, and how the shop's
//! processes find its default user.
//!
//! Only the fields the operator sets or reads are typed, with the upstream names and types (the
//! CRD `config/crd/bases/rabbitmq.com_rabbitmqclusters.yaml` of the Cluster Operator). The test
//! `operator/tests/validate_objects.rs` checks every emitted RabbitmqCluster against
//! `operator/tests/fixtures/rabbitmqcluster-crd.yaml`, a stand-in that carries exactly these
//! fields of the published schema and refuses any other. The operator never installs the CRD and
//! creates a RabbitmqCluster only once [`RABBITMQ_CLUSTER_CRD`] exists.

use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ResourceRequirements, SecretKeySelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{CustomResource, ResourceExt};
use serde::{Deserialize, Serialize};

use crate::build::controlled_meta;
use crate::crd::{RabbitmqClusterSpec, Shop};
use crate::labels;

/// Name of the Cluster Operator's CRD that must exist before a [`RabbitmqCluster`] is applied.
pub const RABBITMQ_CLUSTER_CRD: &str = "rabbitmqclusters.rabbitmq.com";
/// The condition the Cluster Operator sets once the cluster's Service has ready endpoints.
pub const AVAILABLE_CONDITION: &str = "ClusterAvailable";
/// The condition the Cluster Operator sets once every node is ready.
pub const ALL_REPLICAS_READY_CONDITION: &str = "AllReplicasReady";

/// The RabbitmqCluster of a Shop. Short, because the Cluster Operator derives longer names from
/// it: its StatefulSet `<name>-server` must stay within 52 characters for a 40-character Shop.
pub fn cluster_name(shop: &str) -> String {
    format!("{shop}-mq")
}

/// The Secret the Cluster Operator creates for the default user: keys `username`, `password`,
/// `host` (`<name>.<namespace>.svc`) and `port` (5672).
pub fn default_user_secret_name(shop: &str) -> String {
    format!("{}-default-user", cluster_name(shop))
}

/// A RabbitMQ cluster managed by the RabbitMQ Cluster Operator.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "rabbitmq.com",
    version = "v1beta1",
    kind = "RabbitmqCluster",
    namespaced,
    status = "RabbitmqClusterStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct RabbitmqClusterObjectSpec {
    /// Number of nodes.
    pub replicas: i32,
    /// Each node's volume.
    pub persistence: Persistence,
    /// Resources of each node's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// `spec.persistence`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Persistence {
    /// Size of each node's PersistentVolumeClaim.
    pub storage: Quantity,
    /// StorageClass; the cluster's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// What the Cluster Operator reports; unknown fields are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RabbitmqClusterStatus {
    /// `AllReplicasReady`, `ClusterAvailable`, `NoWarnings`, `ReconcileSuccess`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ClusterCondition>,
}

/// One of its conditions (`reason` and `message` may be absent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterCondition {
    /// The condition's type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Why, in one word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The RabbitmqCluster of a Shop whose RabbitMQ is `clusterOperator`: owned by the Shop only
/// with `deleteWithShop`; otherwise labelled but without an ownerReference, so that deleting
/// the Shop leaves it (and its volumes) in place.
pub fn rabbitmq_cluster(shop: &Shop, spec: &RabbitmqClusterSpec) -> RabbitmqCluster {
    let name = shop.name_any();
    let mut cluster = RabbitmqCluster::new(
        &cluster_name(&name),
        RabbitmqClusterObjectSpec {
            replicas: spec.replicas,
            persistence: Persistence {
                storage: spec.storage.size.clone(),
                storage_class_name: spec.storage.storage_class_name.clone(),
            },
            resources: spec.resources.clone(),
        },
    );
    cluster.metadata = controlled_meta(
        shop,
        cluster_name(&name),
        labels::full("rabbitmq", &name, "queue", None),
    );
    if !spec.delete_with_shop {
        cluster.metadata.owner_references = None;
    }
    cluster
}

fn condition<'a>(cluster: &'a RabbitmqCluster, type_: &str) -> Option<&'a ClusterCondition> {
    cluster
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|condition| condition.type_ == type_)
}

/// Whether the cluster takes connections: `ClusterAvailable` is `True`.
pub fn ready(cluster: &RabbitmqCluster) -> bool {
    condition(cluster, AVAILABLE_CONDITION).is_some_and(|condition| condition.status == "True")
}

/// What the cluster's conditions say, for `QueueReady`'s message.
pub fn describe(cluster: &RabbitmqCluster) -> String {
    let name = cluster.name_any();
    let parts: Vec<String> = [AVAILABLE_CONDITION, ALL_REPLICAS_READY_CONDITION]
        .into_iter()
        .filter_map(|type_| condition(cluster, type_))
        .map(|condition| {
            let mut part = format!("{}={}", condition.type_, condition.status);
            if let Some(why) = condition
                .message
                .as_deref()
                .or(condition.reason.as_deref())
                .filter(|why| !why.is_empty())
            {
                part.push_str(&format!(" ({why})"));
            }
            part
        })
        .collect();
    if parts.is_empty() {
        format!("RabbitmqCluster {name} reports no conditions yet")
    } else {
        format!("RabbitmqCluster {name}: {}", parts.join(", "))
    }
}

/// The variables that give a shop process `AMQP_URL` from the default user's Secret. The
/// Secret holds the parts, not a URL, so the URL is composed by Kubernetes' `$(VAR)` expansion
/// of the variables defined before it; the credentials never appear in the pod spec. The
/// generated user name and password are URL-safe base64, which needs no escaping in a URL.
pub fn amqp_env(shop: &Shop) -> Vec<EnvVar> {
    let secret = default_user_secret_name(&shop.name_any());
    let part = |variable: &str, key: &str| EnvVar {
        name: variable.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.clone(),
                key: key.to_owned(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    };
    vec![
        part("AMQP_USERNAME", "username"),
        part("AMQP_PASSWORD", "password"),
        part("AMQP_HOST", "host"),
        part("AMQP_PORT", "port"),
        EnvVar {
            name: "AMQP_URL".to_owned(),
            value: Some(
                "amqp://$(AMQP_USERNAME):$(AMQP_PASSWORD)@$(AMQP_HOST):$(AMQP_PORT)/%2f".to_owned(),
            ),
            ..EnvVar::default()
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::test_support::{UID, shop_with_spec};
    use serde_json::json;

    fn shop() -> Shop {
        shop_with_spec(json!({"version": "1.0.0", "rabbitmq": {"clusterOperator": {
            "replicas": 5,
            "storage": {"size": "10Gi", "storageClassName": "fast"},
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}}}))
    }

    #[test]
    fn the_rabbitmq_cluster_carries_the_spec_and_outlives_the_shop_unless_asked() {
        let shop = shop();
        let spec = shop.spec.rabbitmq.cluster_operator.as_ref().expect("spec");
        let cluster = rabbitmq_cluster(&shop, spec);
        assert!(!spec.delete_with_shop, "kept by default");
        assert_eq!(cluster.metadata.owner_references, None);
        assert_eq!(cluster.labels()["app.kubernetes.io/instance"], "demo");
        insta::assert_yaml_snapshot!("rabbitmq_cluster", cluster);

        let owned = shop_with_spec(json!({"version": "1", "rabbitmq": {"clusterOperator": {
            "deleteWithShop": true}}}));
        let spec = owned.spec.rabbitmq.cluster_operator.as_ref().expect("spec");
        let cluster = rabbitmq_cluster(&owned, spec);
        let owner = &cluster.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!((owner.uid.as_str(), owner.controller), (UID, Some(true)));
    }

    #[test]
    fn defaults_give_three_nodes_with_a_one_gigabyte_volume() {
        let shop = shop_with_spec(json!({"version": "1", "rabbitmq": {"clusterOperator": {}}}));
        let spec = shop.spec.rabbitmq.cluster_operator.as_ref().expect("spec");
        let value = serde_json::to_value(rabbitmq_cluster(&shop, spec)).expect("JSON");
        assert_eq!(
            value["spec"],
            json!({"replicas": 3, "persistence": {"storage": "1Gi"}})
        );
    }

    #[test]
    fn ready_follows_cluster_available_and_the_message_quotes_the_conditions() {
        let shop = shop();
        let spec = shop.spec.rabbitmq.cluster_operator.as_ref().expect("spec");
        let mut cluster = rabbitmq_cluster(&shop, spec);
        assert!(!ready(&cluster));
        assert_eq!(
            describe(&cluster),
            "RabbitmqCluster demo-mq reports no conditions yet"
        );
        let status = |available: &str| {
            serde_json::from_value::<RabbitmqClusterStatus>(json!({"conditions": [
                {"type": "AllReplicasReady", "status": "False", "reason": "NotAllPodsReady",
                 "message": "1/5 Pods ready"},
                {"type": "ClusterAvailable", "status": available},
                {"type": "NoWarnings", "status": "True"}]}))
            .expect("status")
        };
        cluster.status = Some(status("False"));
        assert!(!ready(&cluster));
        assert_eq!(
            describe(&cluster),
            "RabbitmqCluster demo-mq: ClusterAvailable=False, AllReplicasReady=False (1/5 Pods \
             ready)"
        );
        cluster.status = Some(status("True"));
        assert!(ready(&cluster));
    }

    #[test]
    fn the_amqp_url_is_composed_from_the_default_user_secret() {
        let env = amqp_env(&shop());
        let names: Vec<&str> = env.iter().map(|var| var.name.as_str()).collect();
        // $(VAR) expands only variables defined earlier in the list.
        assert_eq!(
            names,
            [
                "AMQP_USERNAME",
                "AMQP_PASSWORD",
                "AMQP_HOST",
                "AMQP_PORT",
                "AMQP_URL"
            ]
        );
        let from = env[1].value_from.as_ref().expect("from a Secret");
        let key = from.secret_key_ref.as_ref().expect("secret key");
        assert_eq!(
            (key.name.as_str(), key.key.as_str()),
            ("demo-mq-default-user", "password")
        );
        assert!(env[4].value_from.is_none());
    }
}
