//! A typed CloudNativePG `Cluster` (`postgresql.cnpg.io/v1`) for a Shop's `spec.database.
//! cloudNativePG`, and what the operator reads back from it.
//!
//! Only the fields the operator sets or reads are typed, with the upstream names and types (the
//! CRD `config/crd/bases/postgresql.cnpg.io_clusters.yaml` of CloudNativePG). The test
//! `operator/tests/validate_objects.rs` checks every emitted Cluster against
//! `operator/tests/fixtures/cnpg-cluster-crd.yaml`, a stand-in that carries exactly these fields
//! of the published schema and refuses any other. As for the Prometheus Operator's kinds, the
//! CRD belongs to CloudNativePG: the operator never installs it, and creates a Cluster only
//! once [`CLUSTER_CRD`] exists.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::{CustomResource, ResourceExt};
use serde::{Deserialize, Serialize};

use crate::build::controlled_meta;
use crate::crd::{CloudNativePgSpec, Shop};
use crate::labels;

/// Name of CloudNativePG's CRD that must exist before a [`Cluster`] is applied.
pub const CLUSTER_CRD: &str = "clusters.postgresql.cnpg.io";
/// The database and its owner, created by `initdb` (the name the managed backend uses too).
pub const DATABASE: &str = "shop";
/// Image of PostgreSQL for CloudNativePG; the tag is a minor release (see [`image_tag`]).
pub const IMAGE_REPOSITORY: &str = "ghcr.io/cloudnative-pg/postgresql";
/// The minor release run for each major version the Shop allows (`postgresMajorVersion`, 14 to
/// 17). Pinned rather than the floating `<major>` tag, so that an instance restarted on another
/// node runs what the others run, and a minor upgrade is a release of the operator (a rolling
/// update CloudNativePG performs replica first). `imageName` in the spec overrides it.
pub const PINNED_IMAGE_TAGS: [(i32, &str); 4] =
    [(14, "14.18"), (15, "15.13"), (16, "16.9"), (17, "17.5")];
/// Key of the connection URI in the application user's Secret.
pub const URI_KEY: &str = "uri";
/// The `phase` CloudNativePG reports for a cluster where nothing is going on.
pub const HEALTHY_PHASE: &str = "Cluster in healthy state";
/// Pod-template annotation on the API and worker Deployments: the `resourceVersion`s of the
/// Secrets their database and RabbitMQ credentials come from (`<cluster>-app`, the
/// RabbitmqCluster's `-default-user`). Those reach the pods as `secretKeyRef` environment
/// variables, read once at start: a new password (CloudNativePG rotating it, or someone
/// editing the Secret) changes the annotation, which rolls the pods onto it.
pub const CREDENTIALS_ANNOTATION: &str = "shop.dev/backend-credentials-version";

/// The image of `major`: the pinned minor release, or the floating major tag for a major
/// outside the table (the CRD refuses those; kept total for objects read back).
pub fn image_tag(major: i32) -> String {
    PINNED_IMAGE_TAGS
        .iter()
        .find(|(pinned, _)| *pinned == major)
        .map_or_else(|| major.to_string(), |(_, tag)| (*tag).to_owned())
}

/// The image of the Cluster: `imageName` when given, else the pinned release of the major.
pub fn image_name(spec: &CloudNativePgSpec) -> String {
    spec.image_name.clone().unwrap_or_else(|| {
        format!(
            "{IMAGE_REPOSITORY}:{}",
            image_tag(spec.postgres_major_version)
        )
    })
}

/// The Cluster of a Shop.
pub fn cluster_name(shop: &str) -> String {
    format!("{shop}-pg")
}

/// The Secret CloudNativePG creates for the application user (`<cluster>-app`), whose `uri`
/// points at the cluster's read-write Service (`<cluster>-rw`).
pub fn app_secret_name(shop: &str) -> String {
    format!("{}-app", cluster_name(shop))
}

/// A PostgreSQL cluster managed by CloudNativePG.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "postgresql.cnpg.io",
    version = "v1",
    kind = "Cluster",
    namespaced,
    status = "ClusterStatus",
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Number of instances.
    pub instances: i32,
    /// The PostgreSQL image.
    pub image_name: String,
    /// How the first instance is created.
    pub bootstrap: Bootstrap,
    /// Each instance's volume.
    pub storage: ClusterStorage,
    /// Resources of each instance's container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<ClusterMonitoring>,
}

/// `spec.bootstrap`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// A new, empty cluster.
    pub initdb: InitDb,
}

/// `spec.bootstrap.initdb`: the application database and its owner (CloudNativePG generates
/// the owner's password into `<cluster>-app`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitDb {
    /// The database to create.
    pub database: String,
    /// Its owner.
    pub owner: String,
    /// Statements run once as the superuser in the new application database (after its owner
    /// and the database exist).
    #[serde(
        default,
        rename = "postInitApplicationSQL",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub post_init_sql: Vec<String>,
}

/// Lets the owner create databases, as on the managed backend: a verified backup
/// (`Backup.spec.verify`) restores into a scratch database `shop_verify_*` on the same server.
const GRANT_CREATEDB: &str = "ALTER ROLE shop CREATEDB";

/// `spec.storage`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStorage {
    /// Size of each PersistentVolumeClaim.
    pub size: String,
    /// StorageClass; the cluster's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

/// `spec.monitoring`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterMonitoring {
    /// Whether CloudNativePG creates a PodMonitor for the instances.
    pub enable_pod_monitor: bool,
}

/// What CloudNativePG reports; unknown fields are ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// Instances that exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i32>,
    /// Instances that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_instances: Option<i32>,
    /// What the cluster is doing, e.g. `Cluster in healthy state`, `Setting up primary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Why it is in that phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_reason: Option<String>,
    /// The instance that is the primary now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_primary: Option<String>,
    /// The instance that should be the primary; differs from `currentPrimary` during a
    /// switchover or failover, while no primary takes writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_primary: Option<String>,
}

/// The Cluster of a Shop whose database is `cloudNativePG`. Owned by the Shop only with
/// `deleteWithShop` (deleting the Shop then deletes the Cluster, and CloudNativePG deletes its
/// volumes with it); otherwise it carries the Shop's labels but no ownerReference, and outlives
/// the Shop.
pub fn cluster(shop: &Shop, spec: &CloudNativePgSpec) -> Cluster {
    let name = shop.name_any();
    let mut cluster = Cluster::new(
        &cluster_name(&name),
        ClusterSpec {
            instances: spec.instances,
            image_name: image_name(spec),
            bootstrap: Bootstrap {
                initdb: InitDb {
                    database: DATABASE.to_owned(),
                    owner: DATABASE.to_owned(),
                    post_init_sql: vec![GRANT_CREATEDB.to_owned()],
                },
            },
            storage: ClusterStorage {
                size: spec.storage.size.0.clone(),
                storage_class: spec.storage.storage_class_name.clone(),
            },
            resources: spec.resources.clone(),
            monitoring: spec.monitoring.pod_monitor.then_some(ClusterMonitoring {
                enable_pod_monitor: true,
            }),
        },
    );
    cluster.metadata = controlled_meta(
        shop,
        cluster_name(&name),
        labels::full("postgres", &name, "database", None),
    );
    if !spec.delete_with_shop {
        cluster.metadata.owner_references = None;
    }
    cluster
}

/// Whether the cluster takes writes: a ready instance, and a primary that is the one meant to
/// be (`currentPrimary == targetPrimary`; they differ while a switchover or failover moves it).
/// The phase is not asked: scaling, a rolling update or a finished switchover report phases
/// other than healthy while the primary serves, and migrations need not wait for them.
pub fn ready(cluster: &Cluster) -> bool {
    cluster.status.as_ref().is_some_and(|status| {
        let primary = status.current_primary.as_deref().filter(|p| !p.is_empty());
        status.ready_instances.unwrap_or(0) >= 1
            && primary.is_some()
            && primary == status.target_primary.as_deref()
    })
}

/// What the cluster says about itself, for `DatabaseReady`'s message: its phase, ready
/// instances out of instances, and the phase's reason when it gives one.
pub fn describe(cluster: &Cluster) -> String {
    let name = cluster.name_any();
    let Some(status) = &cluster.status else {
        return format!("Cluster {name} has no status yet");
    };
    let mut text = format!(
        "Cluster {name}: {} ({}/{} instances ready)",
        status.phase.as_deref().unwrap_or("no phase yet"),
        status.ready_instances.unwrap_or(0),
        status.instances.unwrap_or(0)
    );
    if let Some(reason) = status.phase_reason.as_deref().filter(|r| !r.is_empty()) {
        text.push_str(": ");
        text.push_str(reason);
    }
    let named = |primary: &Option<String>| primary.clone().filter(|p| !p.is_empty());
    match (
        named(&status.current_primary),
        named(&status.target_primary),
    ) {
        (Some(current), Some(target)) if current != target => {
            text.push_str(&format!("; primary moving from {current} to {target}"));
        }
        (None, _) if status.ready_instances.unwrap_or(0) >= 1 => text.push_str("; no primary"),
        _ => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::test_support::{UID, shop_with_spec};
    use serde_json::json;

    fn shop() -> Shop {
        shop_with_spec(json!({"version": "1.0.0", "database": {"cloudNativePG": {
            "storage": {"size": "20Gi", "storageClassName": "fast"},
            "postgresMajorVersion": 16,
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
            "monitoring": {"podMonitor": true}}}}))
    }

    #[test]
    fn the_cluster_carries_the_spec_and_outlives_the_shop_unless_asked() {
        let shop = shop();
        let spec = shop.spec.database.cloud_native_pg.as_ref().expect("cnpg");
        let built = cluster(&shop, spec);
        assert_eq!(spec.instances, 3, "three instances by default");
        assert!(!spec.delete_with_shop, "kept by default");
        assert_eq!(
            built.metadata.owner_references, None,
            "deleting the Shop keeps it"
        );
        assert_eq!(built.labels()["app.kubernetes.io/instance"], "demo");
        insta::assert_yaml_snapshot!("cnpg_cluster", built);

        let owned = shop_with_spec(json!({"version": "1", "database": {"cloudNativePG": {
            "deleteWithShop": true}}}));
        let spec = owned.spec.database.cloud_native_pg.as_ref().expect("cnpg");
        let built = cluster(&owned, spec);
        let owner = &built.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!((owner.uid.as_str(), owner.controller), (UID, Some(true)));
    }

    #[test]
    fn each_major_runs_a_pinned_minor_release_unless_an_image_is_named() {
        for (major, tag) in [(14, "14.18"), (15, "15.13"), (16, "16.9"), (17, "17.5")] {
            let shop = shop_with_spec(json!({"version": "1", "database": {"cloudNativePG": {
                "postgresMajorVersion": major}}}));
            let spec = shop.spec.database.cloud_native_pg.as_ref().expect("cnpg");
            assert_eq!(
                cluster(&shop, spec).spec.image_name,
                format!("ghcr.io/cloudnative-pg/postgresql:{tag}")
            );
        }
        let shop = shop_with_spec(json!({"version": "1", "database": {"cloudNativePG": {
            "postgresMajorVersion": 16,
            "imageName": "registry.example/postgresql:16.10-standard-bookworm"}}}));
        let spec = shop.spec.database.cloud_native_pg.as_ref().expect("cnpg");
        assert_eq!(
            cluster(&shop, spec).spec.image_name,
            "registry.example/postgresql:16.10-standard-bookworm"
        );
    }

    #[test]
    fn defaults_give_three_instances_of_postgres_17_without_a_pod_monitor() {
        let shop = shop_with_spec(json!({"version": "1", "database": {"cloudNativePG": {}}}));
        let spec = shop.spec.database.cloud_native_pg.as_ref().expect("cnpg");
        let value = serde_json::to_value(cluster(&shop, spec)).expect("JSON");
        assert_eq!(value["spec"]["instances"], 3);
        assert_eq!(
            value["spec"]["imageName"],
            "ghcr.io/cloudnative-pg/postgresql:17.5"
        );
        assert_eq!(value["spec"]["storage"], json!({"size": "1Gi"}));
        assert!(value["spec"].get("monitoring").is_none());
        assert!(value["spec"].get("resources").is_none());
        assert_eq!(
            value["spec"]["bootstrap"],
            json!({"initdb": {"database": "shop", "owner": "shop",
                              "postInitApplicationSQL": ["ALTER ROLE shop CREATEDB"]}})
        );
    }

    fn status(
        ready: i32,
        phase: &str,
        current: Option<&str>,
        target: Option<&str>,
    ) -> ClusterStatus {
        ClusterStatus {
            instances: Some(3),
            ready_instances: Some(ready),
            phase: Some(phase.to_owned()),
            phase_reason: None,
            current_primary: current.map(str::to_owned),
            target_primary: target.map(str::to_owned),
        }
    }

    #[test]
    fn ready_needs_a_ready_instance_and_the_primary_where_it_should_be() {
        let shop = shop();
        let spec = shop.spec.database.cloud_native_pg.as_ref().expect("cnpg");
        let mut cluster = cluster(&shop, spec);
        assert!(!ready(&cluster));
        assert_eq!(describe(&cluster), "Cluster demo-pg has no status yet");
        cluster.status = Some(ClusterStatus {
            phase_reason: Some("Creating primary instance demo-pg-1".to_owned()),
            ..status(0, "Setting up primary", None, Some("demo-pg-1"))
        });
        assert!(!ready(&cluster));
        assert_eq!(
            describe(&cluster),
            "Cluster demo-pg: Setting up primary (0/3 instances ready): Creating primary \
             instance demo-pg-1"
        );
        let p1 = Some("demo-pg-1");
        cluster.status = Some(status(2, HEALTHY_PHASE, p1, p1));
        assert!(ready(&cluster));
        assert_eq!(
            describe(&cluster),
            "Cluster demo-pg: Cluster in healthy state (2/3 instances ready)"
        );
        // Routine operations: the primary serves, the phase is not healthy; migrations go on.
        for phase in [
            "Scaling up",
            "Upgrading cluster",
            "Waiting for the instances to become active",
            "Creating a new replica",
        ] {
            cluster.status = Some(status(2, phase, p1, p1));
            assert!(ready(&cluster), "{phase}");
            assert!(describe(&cluster).contains(phase));
        }
        // A switchover or failover: no primary takes writes until it is done.
        cluster.status = Some(status(2, "Switchover in progress", p1, Some("demo-pg-2")));
        assert!(!ready(&cluster));
        assert_eq!(
            describe(&cluster),
            "Cluster demo-pg: Switchover in progress (2/3 instances ready); primary moving \
             from demo-pg-1 to demo-pg-2"
        );
        cluster.status = Some(status(2, "Failing over", Some(""), Some("demo-pg-2")));
        assert!(!ready(&cluster), "an empty currentPrimary is no primary");
        // No ready instance at all, though the primary is named.
        cluster.status = Some(status(0, HEALTHY_PHASE, p1, p1));
        assert!(!ready(&cluster));
        cluster.status = Some(status(1, "Setting up primary", None, None));
        assert!(!ready(&cluster));
        assert!(describe(&cluster).ends_with("; no primary"));
    }
}
