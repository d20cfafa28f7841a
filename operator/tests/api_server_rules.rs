//! The in-memory API refuses and changes what a real kube-apiserver refuses and changes: names,
//! labels, Services, immutable fields, garbage collection, status codes, server-set metadata and
//! defaults, each proven on its own.

mod common;

use common::objects::{apply_as, create, deployment, invalid, refused, web_spec};
use common::{FakeCluster, NAMESPACE};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

#[tokio::test]
async fn names_and_labels_the_api_server_refuses_are_refused() {
    let cluster = FakeCluster::new().await;
    let service = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": NAMESPACE},
               "spec": {"ports": [{"port": 80}]}})
    };
    // Service names are DNS-1035 labels: a Shop named `2shop` or `shop.v2` cannot have `{shop}-api`.
    for name in ["2shop-api", "shop.v2-api", &"s".repeat(64)] {
        assert_eq!(
            refused(create::<Service>(&cluster, service(name)).await),
            invalid(),
            "{name}"
        );
    }
    create::<Service>(&cluster, service("shop-api"))
        .await
        .expect("a valid name");
    // Other kinds take DNS-1123 subdomains: dots are fine.
    create::<ConfigMap>(
        &cluster,
        json!({"metadata": {"name": "shop.v2-config", "namespace": NAMESPACE}}),
    )
    .await
    .expect("a subdomain");

    let job = |name: &str| {
        json!({"metadata": {"name": name, "namespace": NAMESPACE},
               "spec": {"template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "migrate", "image": "shop:1"}]}}}})
    };
    // A Job's name becomes its pods' `job-name` label value: 63 characters at most.
    assert_eq!(
        refused(create::<Job>(&cluster, job(&"j".repeat(64))).await),
        invalid()
    );
    create::<Job>(&cluster, job(&"j".repeat(63)))
        .await
        .expect("63 characters");
    let cron = json!({"metadata": {"name": "c".repeat(53), "namespace": NAMESPACE},
                      "spec": {"schedule": "0 3 * * *", "jobTemplate": job("x")}});
    assert_eq!(
        refused(create::<CronJob>(&cluster, cron).await),
        invalid(),
        "CronJob: 52 at most"
    );

    let labelled = json!({"metadata": {"name": "l", "namespace": NAMESPACE,
                                       "labels": {"version": "v".repeat(64)}}});
    assert_eq!(
        refused(create::<ConfigMap>(&cluster, labelled).await),
        invalid()
    );
}

#[tokio::test]
async fn a_service_with_a_duplicate_or_unnamed_port_is_refused() {
    let cluster = FakeCluster::new().await;
    let service = |ports: Value| json!({"metadata": {"name": "api", "namespace": NAMESPACE}, "spec": {"ports": ports}});
    let duplicate = json!([{"name": "http", "port": 8080}, {"name": "grpc", "port": 8080}]);
    assert_eq!(
        refused(create::<Service>(&cluster, service(duplicate)).await),
        invalid()
    );
    let unnamed = json!([{"port": 8080}, {"port": 9090}]);
    assert_eq!(
        refused(create::<Service>(&cluster, service(unnamed)).await),
        invalid()
    );
}

fn stateful_set(service_name: &str, app: &str, size: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": NAMESPACE},
        "spec": {
            "serviceName": service_name,
            "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}},
                         "spec": {"containers": [{"name": "db", "image": "postgres:17",
                                  "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}],
        },
    })
}

#[tokio::test]
async fn immutable_fields_of_stateful_sets_deployments_jobs_and_services_cannot_change() {
    let cluster = FakeCluster::new().await;
    apply_as::<StatefulSet>(&cluster, "op", &stateful_set("db", "db", "1Gi"))
        .await
        .expect("create");
    for changed in [
        stateful_set("db", "postgres", "1Gi"),
        stateful_set("db-headless", "db", "1Gi"),
        stateful_set("db", "db", "2Gi"),
    ] {
        let result = apply_as::<StatefulSet>(&cluster, "op", &changed).await;
        assert_eq!(refused(result), invalid(), "{changed}");
    }
    let mut scaled = stateful_set("db", "db", "1Gi");
    scaled["spec"]["replicas"] = json!(3);
    apply_as::<StatefulSet>(&cluster, "op", &scaled)
        .await
        .expect("replicas may change");

    apply_as::<Deployment>(&cluster, "op", &deployment(web_spec()))
        .await
        .expect("create");
    let mut relabelled = web_spec();
    relabelled["selector"]["matchLabels"]["tier"] = json!("api");
    relabelled["template"]["metadata"]["labels"]["tier"] = json!("api");
    let result = apply_as::<Deployment>(&cluster, "op", &deployment(relabelled)).await;
    assert_eq!(refused(result), invalid(), "a Deployment's selector");

    let job = |image: &str| {
        json!({"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": "migrate", "namespace": NAMESPACE},
               "spec": {"template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "migrate", "image": image}]}}}})
    };
    apply_as::<Job>(&cluster, "op", &job("shop:1"))
        .await
        .expect("create");
    apply_as::<Job>(&cluster, "op", &job("shop:1"))
        .await
        .expect("the same template again is fine");
    assert_eq!(
        refused(apply_as::<Job>(&cluster, "op", &job("shop:2")).await),
        invalid()
    );

    let service = |ip: Option<&str>| {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "api", "namespace": NAMESPACE},
               "spec": {"clusterIP": ip, "ports": [{"port": 80}]}})
    };
    let created: Service = apply_as(&cluster, "op", &service(None))
        .await
        .expect("create");
    let ip = created
        .spec
        .and_then(|spec| spec.cluster_ip)
        .expect("an allocated IP");
    apply_as::<Service>(&cluster, "op", &service(None))
        .await
        .expect("an apply without the IP keeps it");
    let other = if ip == "10.96.9.9" {
        "10.96.9.8"
    } else {
        "10.96.9.9"
    };
    assert_eq!(
        refused(apply_as::<Service>(&cluster, "op", &service(Some(other))).await),
        invalid()
    );
}

#[tokio::test]
async fn a_claim_can_grow_but_not_shrink_and_an_immutable_secret_keeps_its_data() {
    let cluster = FakeCluster::new().await;
    let claim = |size: &str| {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "backups", "namespace": NAMESPACE},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}})
    };
    apply_as::<PersistentVolumeClaim>(&cluster, "op", &claim("2Gi"))
        .await
        .expect("create");
    apply_as::<PersistentVolumeClaim>(&cluster, "op", &claim("4Gi"))
        .await
        .expect("grow");
    assert_eq!(
        refused(apply_as::<PersistentVolumeClaim>(&cluster, "op", &claim("1Gi")).await),
        invalid()
    );

    let secret = |value: &str| {
        json!({"apiVersion": "v1", "kind": "Secret", "immutable": true,
               "metadata": {"name": "frozen", "namespace": NAMESPACE},
               "stringData": {"password": value}})
    };
    apply_as::<Secret>(&cluster, "op", &secret("a"))
        .await
        .expect("create");
    assert_eq!(
        refused(apply_as::<Secret>(&cluster, "op", &secret("b")).await),
        invalid()
    );
}

#[tokio::test]
async fn deleting_an_owner_collects_its_dependents_transitively() {
    let cluster = FakeCluster::new().await;
    let owned_by = |name: &str, owners: &[&ConfigMap]| {
        let references: Vec<Value> = owners
            .iter()
            .map(|owner| {
                json!({"apiVersion": "v1", "kind": "ConfigMap", "name": owner.name_any(),
                                "uid": owner.uid().expect("uid")})
            })
            .collect();
        json!({"metadata": {"name": name, "namespace": NAMESPACE, "ownerReferences": references}})
    };
    let shop: ConfigMap = create(&cluster, owned_by("shop", &[]))
        .await
        .expect("owner");
    let other: ConfigMap = create(&cluster, owned_by("other", &[]))
        .await
        .expect("owner");
    let child: ConfigMap = create(&cluster, owned_by("child", &[&shop]))
        .await
        .expect("create");
    create::<Secret>(&cluster, owned_by("grandchild", &[&child]))
        .await
        .expect("create");
    create::<Secret>(&cluster, owned_by("shared", &[&shop, &other]))
        .await
        .expect("create");
    create::<Secret>(&cluster, owned_by("unrelated", &[]))
        .await
        .expect("create");

    cluster
        .api::<ConfigMap>()
        .delete("shop", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(cluster.get::<ConfigMap>("child").await.is_none());
    assert!(
        cluster.get::<Secret>("grandchild").await.is_none(),
        "transitively"
    );
    let shared: Secret = cluster.get("shared").await.expect("another owner keeps it");
    assert_eq!(shared.owner_references().len(), 1);
    assert!(cluster.get::<Secret>("unrelated").await.is_some());

    let orphaned: ConfigMap = create(&cluster, owned_by("orphaned", &[&other]))
        .await
        .expect("create");
    let orphan = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..DeleteParams::default()
    };
    cluster
        .api::<ConfigMap>()
        .delete("other", &orphan)
        .await
        .expect("delete");
    let orphaned: ConfigMap = cluster
        .get(&orphaned.name_any())
        .await
        .expect("orphaned, not deleted");
    assert!(orphaned.owner_references().is_empty());
}

#[tokio::test]
async fn answers_carry_the_codes_and_metadata_of_a_real_api_server() {
    let cluster = FakeCluster::new().await;
    let api: Api<Deployment> = cluster.api();
    assert_eq!(refused(api.get("web").await), (404, "NotFound".to_owned()));
    let created: Deployment = create(&cluster, deployment(web_spec()))
        .await
        .expect("create");
    assert_eq!(
        refused(create::<Deployment>(&cluster, deployment(web_spec())).await),
        (409, "AlreadyExists".to_owned())
    );
    let meta = &created.metadata;
    assert!(
        meta.uid.is_some() && meta.creation_timestamp.is_some() && meta.resource_version.is_some()
    );
    assert_eq!(meta.generation, Some(1));

    let mut stale = created.clone();
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
    )
    .await
    .expect("a label");
    stale.metadata.labels = Some([("c".to_owned(), "d".to_owned())].into());
    assert_eq!(
        refused(api.replace("web", &PostParams::default(), &stale).await),
        (409, "Conflict".to_owned())
    );
    api.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"replicas": 3}})),
    )
    .await
    .expect("status");
    let live = api.get("web").await.expect("get");
    assert_eq!(
        live.metadata.generation,
        Some(1),
        "metadata and status leave the generation"
    );
    assert_eq!(live.metadata.uid, created.metadata.uid);
    let live = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .expect("spec");
    assert_eq!(live.metadata.generation, Some(2));
    assert_eq!(
        live.status.and_then(|status| status.replicas),
        Some(3),
        "a spec write keeps the status"
    );
}

#[tokio::test]
async fn the_api_server_fills_its_defaults() {
    let cluster = FakeCluster::new().await;
    let live: Value = serde_json::to_value(
        create::<Deployment>(&cluster, deployment(web_spec()))
            .await
            .expect("create"),
    )
    .expect("serialises");
    assert_eq!(live["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(live["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(live["spec"]["progressDeadlineSeconds"], 600);
    let container = &live["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(container["ports"][0]["protocol"], "TCP");

    let service: Service = create(
        &cluster,
        json!({"metadata": {"name": "api", "namespace": NAMESPACE},
                                                   "spec": {"ports": [{"port": 80}]}}),
    )
    .await
    .expect("create");
    let spec = service.spec.expect("spec");
    assert!(spec.cluster_ip.is_some_and(|ip| ip.starts_with("10.96.")));
    assert_eq!(spec.session_affinity.as_deref(), Some("None"));
    assert_eq!(spec.ip_families, Some(vec!["IPv4".to_owned()]));

    let job: Job = create(
        &cluster,
        json!({"metadata": {"name": "migrate", "namespace": NAMESPACE},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                 "containers": [{"name": "migrate", "image": "shop:1"}]}}}}),
    )
    .await
    .expect("create");
    let spec = job.spec.expect("spec");
    assert_eq!(spec.backoff_limit, Some(6));
    let labels = spec
        .template
        .metadata
        .expect("metadata")
        .labels
        .expect("labels");
    assert_eq!(labels["job-name"], "migrate");

    let secret: Secret = create(
        &cluster,
        json!({"metadata": {"name": "s", "namespace": NAMESPACE},
                                                 "stringData": {"url": "postgres://x"}}),
    )
    .await
    .expect("create");
    assert_eq!(secret.data.expect("data")["url"].0, b"postgres://x");
    assert_eq!(secret.string_data, None);
}
