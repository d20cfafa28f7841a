//! The Shop reconciler against an in-memory Kubernetes API: what it creates, in which order the
//! migration and the API move, what it reports, and that a pass with nothing to do writes nothing.

mod common;

use std::sync::Arc;

use common::shops::{
    api_becomes_available, backends_become_ready, create_shop, drive_to_ready, edit_shop,
    migration_finishes, shop_pass,
};
use common::{FakeCluster, NAMESPACE};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;
use shop_operator::build::service_monitor::ServiceMonitor;
use shop_operator::crd::Shop;
use shop_operator::names::{self, Backend};
use shop_operator::reconcile::shop::reconcile;

fn condition(shop: &Shop, type_: &str) -> (String, String) {
    let found = shop
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition in {:?}", shop.status));
    (found.status.clone(), found.reason.clone())
}

fn is(status: &str, reason: &str) -> (String, String) {
    (status.to_owned(), reason.to_owned())
}

fn api_image(deployment: &Deployment) -> String {
    deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .expect("pod spec")
        .containers[0]
        .image
        .clone()
        .expect("image")
}

/// Takes a minimal Shop all the way to Ready.
async fn ready_shop(cluster: &FakeCluster, ctx: &Arc<shop_operator::context::Context>) -> Shop {
    create_shop(cluster, json!({"version": "1.0.0"})).await;
    drive_to_ready(cluster, ctx).await
}

#[tokio::test]
async fn a_new_shop_gets_its_backends_first_with_owner_references_and_labels_but_keeps_its_credentials()
 {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    cluster
        .create::<Shop>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": "demo", "namespace": NAMESPACE},
            "spec": {"version": "1.0.0"},
        }))
        .await;
    let shop = shop_pass(&cluster, &ctx).await;
    let uid = shop.uid().expect("uid");

    let config: ConfigMap = cluster.get("demo-config").await.expect("ConfigMap");
    let credentials: Secret = cluster
        .get("demo-credentials")
        .await
        .expect("credentials Secret");
    let mut children: Vec<(
        String,
        &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    )> = vec![("ConfigMap".into(), &config.metadata)];
    // Credentials outlive the Shop with the volumes they open (deleteVolumeWithShop is false),
    // so the Shop does not own them: garbage collection would take them with it.
    let mut kept = vec![&credentials.metadata];
    let mut backend_objects = Vec::new();
    for backend in Backend::ALL {
        let name = names::backend("demo", backend);
        let secret: Secret = cluster.get(&name).await.expect("backend Secret");
        let service: Service = cluster.get(&name).await.expect("backend Service");
        let stateful_set: StatefulSet = cluster.get(&name).await.expect("backend StatefulSet");
        let policy: NetworkPolicy = cluster.get(&name).await.expect("backend NetworkPolicy");
        backend_objects.push((secret, service, stateful_set, policy));
    }
    for (secret, service, stateful_set, policy) in &backend_objects {
        kept.push(&secret.metadata);
        children.push(("Service".into(), &service.metadata));
        children.push(("StatefulSet".into(), &stateful_set.metadata));
        children.push(("NetworkPolicy".into(), &policy.metadata));
    }
    for meta in kept {
        assert_eq!(meta.owner_references, None, "{:?}", meta.name);
        let labels = meta.labels.as_ref().expect("labels");
        assert_eq!(
            labels.get("app.kubernetes.io/instance").map(String::as_str),
            Some("demo")
        );
    }
    for (kind, meta) in children {
        let owner = &meta.owner_references.as_ref().expect("owner references")[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("Shop", uid.as_str(), Some(true)),
            "{kind}"
        );
        let labels = meta.labels.as_ref().expect("labels");
        assert_eq!(
            labels.get("app.kubernetes.io/instance").map(String::as_str),
            Some("demo"),
            "{kind}"
        );
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("shop-operator"),
            "{kind}"
        );
    }

    // Nothing that needs the database runs before it is ready.
    assert!(
        cluster
            .get::<Job>(&names::migration_job("demo", "1.0.0"))
            .await
            .is_none()
    );
    assert!(cluster.get::<Deployment>("demo-api").await.is_none());
    assert_eq!(condition(&shop, "DatabaseReady"), is("False", "Starting"));
    assert_eq!(
        condition(&shop, "Migrated"),
        is("False", "WaitingForDatabase")
    );
    assert_eq!(condition(&shop, "Ready"), is("False", "Progressing"));
    let status = shop.status.as_ref().expect("status");
    assert_eq!(status.observed_generation, shop.metadata.generation);
    assert_eq!(status.running_version, None);
    assert_eq!(
        status
            .endpoints
            .as_ref()
            .map(|endpoints| endpoints.http.as_str()),
        Some("http://demo-api.shop.svc:8080")
    );
}

#[tokio::test]
async fn the_api_starts_only_after_the_first_migration_succeeded() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    cluster
        .create::<Shop>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": "demo", "namespace": NAMESPACE},
            "spec": {"version": "1.0.0"},
        }))
        .await;
    shop_pass(&cluster, &ctx).await;
    backends_become_ready(&cluster).await;

    let shop = shop_pass(&cluster, &ctx).await;
    let job: Job = cluster
        .get(&names::migration_job("demo", "1.0.0"))
        .await
        .expect("migration Job");
    let container = &job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec")
        .containers[0];
    assert_eq!(container.args.as_deref(), Some(&["migrate".to_owned()][..]));
    assert_eq!(condition(&shop, "Migrated"), is("False", "Migrating"));
    assert!(
        cluster.get::<Deployment>("demo-api").await.is_none(),
        "no API before the migration"
    );

    migration_finishes(&cluster, "1.0.0", "Complete").await;
    let shop = shop_pass(&cluster, &ctx).await;
    let deployment: Deployment = cluster.get("demo-api").await.expect("API Deployment");
    assert_eq!(
        api_image(&deployment),
        "ghcr.io/shop-platform/shop-api:1.0.0"
    );
    assert_eq!(condition(&shop, "Migrated"), is("True", "Migrated"));
    assert_eq!(condition(&shop, "ApiReady"), is("False", "RollingOut"));
    assert_eq!(
        shop.status
            .as_ref()
            .and_then(|s| s.running_version.as_deref()),
        Some("1.0.0")
    );
    for (name, exists) in [
        (
            "Service",
            cluster.get::<Service>("demo-api").await.is_some(),
        ),
        (
            "PodDisruptionBudget",
            cluster
                .get::<PodDisruptionBudget>("demo-api")
                .await
                .is_some(),
        ),
    ] {
        assert!(exists, "{name} demo-api");
    }

    api_becomes_available(&cluster).await;
    let shop = shop_pass(&cluster, &ctx).await;
    assert_eq!(condition(&shop, "ApiReady"), is("True", "Available"));
    assert_eq!(condition(&shop, "Ready"), is("True", "Ready"));
}

#[tokio::test]
async fn a_second_pass_with_nothing_changed_writes_nothing() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    ready_shop(&cluster, &ctx).await;
    cluster.take_writes();
    shop_pass(&cluster, &ctx).await;
    assert_eq!(cluster.take_writes(), Vec::<String>::new());
}

#[tokio::test]
async fn an_upgrade_migrates_first_and_a_failed_migration_keeps_the_old_version_serving() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    ready_shop(&cluster, &ctx).await;

    edit_shop(&cluster, json!({"spec": {"version": "1.1.0"}})).await;
    let shop = shop_pass(&cluster, &ctx).await;
    assert!(
        cluster
            .get::<Job>(&names::migration_job("demo", "1.1.0"))
            .await
            .is_some()
    );
    let deployment: Deployment = cluster.get("demo-api").await.expect("API Deployment");
    assert_eq!(
        api_image(&deployment),
        "ghcr.io/shop-platform/shop-api:1.0.0",
        "still the old version"
    );
    assert_eq!(condition(&shop, "Migrated"), is("False", "Migrating"));
    assert_eq!(
        shop.status.as_ref().and_then(|s| s.observed_generation),
        shop.metadata.generation
    );

    migration_finishes(&cluster, "1.1.0", "Failed").await;
    let shop = shop_pass(&cluster, &ctx).await;
    let deployment: Deployment = cluster.get("demo-api").await.expect("API Deployment");
    assert_eq!(
        api_image(&deployment),
        "ghcr.io/shop-platform/shop-api:1.0.0",
        "stays put"
    );
    assert_eq!(condition(&shop, "Migrated"), is("False", "MigrationFailed"));
    assert_eq!(condition(&shop, "Ready"), is("False", "Progressing"));
    assert_eq!(
        shop.status
            .as_ref()
            .and_then(|s| s.running_version.as_deref()),
        Some("1.0.0")
    );
    let writes = cluster.take_writes();
    assert!(
        writes.iter().any(|w| w.starts_with("create Event/")),
        "a Warning Event: {writes:?}"
    );

    // The user fixes the image and retries by deleting the failed Job.
    cluster
        .api::<Job>()
        .delete(
            &names::migration_job("demo", "1.1.0"),
            &DeleteParams::default(),
        )
        .await
        .expect("delete the failed Job");
    shop_pass(&cluster, &ctx).await;
    migration_finishes(&cluster, "1.1.0", "Complete").await;
    let shop = shop_pass(&cluster, &ctx).await;
    let deployment: Deployment = cluster.get("demo-api").await.expect("API Deployment");
    assert_eq!(
        api_image(&deployment),
        "ghcr.io/shop-platform/shop-api:1.1.0"
    );
    assert_eq!(condition(&shop, "Migrated"), is("True", "Migrated"));
    assert!(
        cluster
            .get::<Job>(&names::migration_job("demo", "1.0.0"))
            .await
            .is_none(),
        "the previous version's finished migration Job is cleaned up"
    );
}

#[tokio::test]
async fn a_deleted_or_edited_child_is_restored_and_generated_credentials_are_kept() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    ready_shop(&cluster, &ctx).await;
    let before: Secret = cluster.get("demo-postgres").await.expect("database Secret");

    cluster
        .api::<Service>()
        .delete("demo-api", &DeleteParams::default())
        .await
        .expect("delete");
    cluster
        .api::<Deployment>()
        .patch(
            "demo-api",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 7}})),
        )
        .await
        .expect("drift");
    cluster.take_writes();
    shop_pass(&cluster, &ctx).await;

    assert!(
        cluster.get::<Service>("demo-api").await.is_some(),
        "the Service is back"
    );
    let deployment: Deployment = cluster.get("demo-api").await.expect("API Deployment");
    assert_eq!(
        deployment.spec.and_then(|spec| spec.replicas),
        Some(2),
        "drift corrected"
    );
    let after: Secret = cluster.get("demo-postgres").await.expect("database Secret");
    assert_eq!(before.data, after.data, "passwords are never regenerated");
}

#[tokio::test]
async fn an_external_database_runs_no_postgres_and_a_missing_secret_blocks_the_migration() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    cluster.create::<Shop>(json!({
        "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
        "metadata": {"name": "demo", "namespace": NAMESPACE},
        "spec": {"version": "1.0.0", "database": {"external": {"secretRef": {"name": "prod-db"}}}},
    })).await;
    // A missing Secret stops the pass before anything is changed, and says which field names it.
    let shop: Shop = cluster.get("demo").await.expect("the Shop exists");
    let error = reconcile(Arc::new(shop), ctx.clone())
        .await
        .expect_err("the Secret is missing");
    assert_eq!(error.metric_label(), "missing_secret");
    let shop: Shop = cluster.get("demo").await.expect("the Shop exists");
    assert!(cluster.get::<StatefulSet>("demo-postgres").await.is_none());
    assert!(cluster.get::<Secret>("demo-postgres").await.is_none());
    assert!(
        cluster.get::<StatefulSet>("demo-redis").await.is_none(),
        "nothing is changed while a reference is missing"
    );
    assert_eq!(
        condition(&shop, "DatabaseReady"),
        is("False", "SecretMissing")
    );
    assert_eq!(condition(&shop, "Ready"), is("False", "SecretMissing"));
    let message = &shop
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == "Ready"))
        .expect("Ready")
        .message;
    assert!(
        message.contains("prod-db") && message.contains("spec.database.external.secretRef"),
        "{message}"
    );

    cluster
        .create::<Secret>(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "prod-db", "namespace": NAMESPACE},
            "stringData": {"url": "postgres://shop:pw@db.example.com:5432/shop"},
        }))
        .await;
    let shop = shop_pass(&cluster, &ctx).await;
    assert!(
        cluster.get::<StatefulSet>("demo-redis").await.is_some(),
        "Redis is still managed"
    );
    assert_eq!(condition(&shop, "DatabaseReady"), is("True", "External"));
    let job: Job = cluster
        .get(&names::migration_job("demo", "1.0.0"))
        .await
        .expect("migration Job");
    let env = job
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec")
        .containers[0]
        .env
        .clone()
        .expect("env");
    let database = env
        .iter()
        .find(|var| var.name == "DATABASE_URL")
        .expect("DATABASE_URL");
    let from = database
        .value_from
        .as_ref()
        .and_then(|v| v.secret_key_ref.as_ref())
        .expect("from a Secret");
    assert_eq!((from.name.as_str(), from.key.as_str()), ("prod-db", "url"));
}

#[tokio::test]
async fn a_service_monitor_appears_once_its_crd_is_installed() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    ready_shop(&cluster, &ctx).await;
    edit_shop(
        &cluster,
        json!({"spec": {"monitoring": {"serviceMonitor": true}}}),
    )
    .await;
    let shop = shop_pass(&cluster, &ctx).await;
    assert_eq!(
        condition(&shop, "MonitoringReady"),
        is("False", "CrdMissing")
    );
    assert_eq!(
        condition(&shop, "Ready"),
        is("True", "Ready"),
        "monitoring does not gate readiness"
    );
    assert!(cluster.get::<ServiceMonitor>("demo-api").await.is_none());
    assert!(
        cluster
            .take_writes()
            .iter()
            .any(|w| w.starts_with("create Event/"))
    );

    cluster.install_service_monitor_crd().await;
    let shop = shop_pass(&cluster, &ctx).await;
    assert_eq!(
        condition(&shop, "MonitoringReady"),
        is("True", "ServiceMonitorCreated")
    );
    let monitor: ServiceMonitor = cluster.get("demo-api").await.expect("ServiceMonitor");
    assert_eq!(monitor.owner_references()[0].name, "demo");
}

#[tokio::test]
async fn autoscaling_replaces_the_fixed_replica_count_and_is_removed_when_turned_off() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    ready_shop(&cluster, &ctx).await;
    let autoscale = json!({"spec": {"api": {"autoscaling": {"minReplicas": 2, "maxReplicas": 6}}}});
    cluster
        .api::<Shop>()
        .patch("demo", &PatchParams::default(), &Patch::Merge(autoscale))
        .await
        .expect("turn autoscaling on");
    shop_pass(&cluster, &ctx).await;
    let hpa: HorizontalPodAutoscaler = cluster.get("demo-api").await.expect("HPA");
    assert_eq!(hpa.spec.as_ref().map(|spec| spec.max_replicas), Some(6));
    // The replica count is handed over as it is, not dropped (which would mean 1 replica).
    let deployment: Deployment = cluster.get("demo-api").await.expect("API Deployment");
    assert_eq!(deployment.spec.and_then(|spec| spec.replicas), Some(2));

    edit_shop(&cluster, json!({"spec": {"api": {"autoscaling": null}}})).await;
    shop_pass(&cluster, &ctx).await;
    assert!(
        cluster
            .get::<HorizontalPodAutoscaler>("demo-api")
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_paused_shop_is_left_alone() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    ready_shop(&cluster, &ctx).await;
    edit_shop(
        &cluster,
        json!({"spec": {"paused": true, "version": "2.0.0"}}),
    )
    .await;
    cluster.take_writes();
    let shop = shop_pass(&cluster, &ctx).await;
    assert_eq!(
        cluster.take_writes(),
        vec!["patch-status demo".to_owned()],
        "only the status says paused"
    );
    assert_eq!(condition(&shop, "Ready"), is("False", "Paused"));
    assert!(
        cluster
            .get::<Job>(&names::migration_job("demo", "2.0.0"))
            .await
            .is_none()
    );
    let _ = shop.object_ref(&());
}

#[tokio::test]
async fn a_failed_migration_is_replaced_once_the_shop_is_corrected() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    ready_shop(&cluster, &ctx).await;
    let upgrade =
        json!({"spec": {"version": "1.1.0", "image": {"apiRepository": "typo.example/shop-api"}}});
    cluster
        .api::<Shop>()
        .patch("demo", &PatchParams::default(), &Patch::Merge(upgrade))
        .await
        .expect("upgrade with a wrong image");
    shop_pass(&cluster, &ctx).await;
    migration_finishes(&cluster, "1.1.0", "Failed").await;
    let shop = shop_pass(&cluster, &ctx).await;
    assert_eq!(condition(&shop, "Migrated"), is("False", "MigrationFailed"));

    // Fixing the image cannot patch the failed Job (its template is immutable): it is replaced.
    let fix = json!({"spec": {"image": {"apiRepository": "ghcr.io/shop-platform/shop-api"}}});
    cluster
        .api::<Shop>()
        .patch("demo", &PatchParams::default(), &Patch::Merge(fix))
        .await
        .expect("fix the image");
    let shop = shop_pass(&cluster, &ctx).await;
    assert_eq!(condition(&shop, "Migrated"), is("False", "Retrying"));
    assert!(
        cluster
            .get::<Job>(&names::migration_job("demo", "1.1.0"))
            .await
            .is_none()
    );
    shop_pass(&cluster, &ctx).await;
    let job: Job = cluster
        .get(&names::migration_job("demo", "1.1.0"))
        .await
        .expect("a new Job");
    let image = job
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec")
        .containers[0]
        .image
        .clone();
    assert_eq!(
        image.as_deref(),
        Some("ghcr.io/shop-platform/shop-api:1.1.0")
    );
}
