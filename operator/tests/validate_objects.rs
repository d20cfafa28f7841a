//! Every object the builders emit for the sample resources validates against the official
//! Kubernetes schemas (`k8s-validate`, offline), and the samples against the committed CRDs.
//!
//! The tool lives beside the repository (`../shared/tools`) or in `$SHOP_TOOLS`; this test fails,
//! rather than skips, when it cannot be found, so CI cannot pass without the check having run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use kube::core::ObjectMeta;
use serde_json::Value;
use shop_operator::build::{backup, shop, worker};
use shop_operator::crd::{Backup, Shop, Worker};

use common::{repo, tool};

fn k8s_validate() -> PathBuf {
    tool("k8s-validate")
}

/// The custom resources of `manifests/samples/`, as they would come back from the API server.
fn samples() -> Vec<Value> {
    let mut objects = Vec::new();
    let folder = repo().join("manifests/samples");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .expect("manifests/samples")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    for (index, path) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).expect("sample");
        for document in serde_yaml::Deserializer::from_str(&text) {
            let mut object: Value = serde::Deserialize::deserialize(document).expect("YAML");
            object["metadata"]["namespace"] = "shop".into();
            object["metadata"]["uid"] = format!("00000000-0000-0000-0000-{index:012}").into();
            object["metadata"]["generation"] = 1.into();
            objects.push(object);
        }
    }
    objects
}

fn of_kind<K: serde::de::DeserializeOwned>(samples: &[Value], kind: &str) -> Vec<K> {
    samples
        .iter()
        .filter(|object| object["kind"] == kind)
        .map(|object| serde_json::from_value(object.clone()).expect("sample parses as its type"))
        .collect()
}

fn json(object: impl serde::Serialize) -> Value {
    serde_json::to_value(object).expect("objects serialise")
}

/// Everything the operator would create for the samples.
fn emitted() -> Vec<Value> {
    let samples = samples();
    let shops: Vec<Shop> = of_kind(&samples, "Shop");
    let workers: Vec<Worker> = of_kind(&samples, "Worker");
    let backups: Vec<Backup> = of_kind(&samples, "Backup");
    assert!(
        shops.len() >= 2 && workers.len() >= 4 && backups.len() >= 2,
        "samples are missing"
    );
    let secret = || "generated-secret".to_owned();
    let mut objects = Vec::new();
    for shop in &shops {
        objects.extend(shop::shop_objects(shop, &shop.spec.version, &secret));
    }
    // Workers and Backups name the minimal Shop; give it a name they all agree on.
    let mut target = shops[0].clone();
    target.metadata = ObjectMeta {
        name: Some(workers[0].spec.shop_ref.clone()),
        ..target.metadata
    };
    for worker in &workers {
        objects.push(json(worker::worker_deployment(worker, &target, "0.1.0")));
        objects.push(json(worker::worker_service(worker, &target)));
        objects.extend(worker::worker_hpa(worker).map(json));
        objects.push(json(worker::worker_service_monitor(worker, &target)));
    }
    for item in &backups {
        if item.spec.schedule.is_some() {
            objects.push(json(backup::backup_cron_job(item, &target, "0.1.0")));
        } else {
            objects.push(json(backup::backup_job(item, &target, "0.1.0")));
        }
        objects.extend(backup::backup_claim(item).map(json));
    }
    objects
}

fn run(tool: &Path, args: &[&Path]) -> (bool, String) {
    let output = Command::new(tool)
        .arg("--strict")
        .args(args)
        .output()
        .expect("run k8s-validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn every_emitted_object_matches_the_kubernetes_schemas() {
    let objects = emitted();
    let folder = tempfile::tempdir().expect("temp dir");
    let file = folder.path().join("emitted.yaml");
    let mut yaml = String::new();
    for object in &objects {
        yaml.push_str("---\n");
        yaml.push_str(&serde_yaml::to_string(object).expect("YAML"));
    }
    std::fs::write(&file, yaml).expect("write");
    let monitor_crd = repo().join("tests/packaging/servicemonitor-crd.yaml");
    let rule_crd = repo().join("tests/packaging/prometheusrule-crd.yaml");
    // Stand-ins for CloudNativePG's and the RabbitMQ Cluster Operator's CRDs: the fields of the
    // published schemas the operator sets, every other refused (see their headers).
    let cnpg_crd = repo().join("operator/tests/fixtures/cnpg-cluster-crd.yaml");
    let rabbitmq_crd = repo().join("operator/tests/fixtures/rabbitmqcluster-crd.yaml");
    assert!(
        objects.iter().any(|object| object["kind"] == "Cluster")
            && objects
                .iter()
                .any(|object| object["kind"] == "RabbitmqCluster"),
        "a sample Shop hands its database to CloudNativePG and its RabbitMQ to the Cluster Operator"
    );
    let crd = Path::new("--crd");
    let (ok, report) = run(
        &k8s_validate(),
        &[
            crd,
            &monitor_crd,
            crd,
            &rule_crd,
            crd,
            &cnpg_crd,
            crd,
            &rabbitmq_crd,
            &file,
        ],
    );
    assert!(ok, "{report}");
    assert!(
        report.contains(&format!("{} valid, 0 invalid, 0 skipped", objects.len())),
        "{report}"
    );
}

#[test]
fn the_samples_match_the_committed_crds() {
    let mut args: Vec<PathBuf> = Vec::new();
    for crd in [
        "shop.dev_shops.yaml",
        "shop.dev_workers.yaml",
        "shop.dev_backups.yaml",
        "shop.dev_restores.yaml",
    ] {
        args.push("--crd".into());
        args.push(repo().join("crds").join(crd));
    }
    let samples = repo().join("manifests/samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&samples)
        .expect("samples")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    args.extend(files);
    let args: Vec<&Path> = args.iter().map(PathBuf::as_path).collect();
    let (ok, report) = run(&k8s_validate(), &args);
    assert!(ok && report.contains(" 0 invalid, 0 skipped"), "{report}");
}

/// Settings the binaries would refuse at startup (a crash loop) are refused by the CRD's schema
/// when the Shop is applied: the checks of `crds/` that are OpenAPI, not CEL.
#[test]
fn the_shop_schema_refuses_settings_the_binaries_would_refuse() {
    let bad = [
        // A seller line may not hold the line separator.
        (
            "seller",
            "invoices: {seller: ['Shop|Inc']}",
            "spec.invoices.seller.0",
        ),
        (
            "hooks",
            "notifications: {webhookUrls: ['ftp://push.example.com'], signingSecretRef: {name: a, key: b}}",
            "spec.notifications.webhookUrls.0",
        ),
        (
            "comma",
            "notifications: {webhookUrls: ['https://a.example.com,https://b.example.com'], signingSecretRef: {name: a, key: b}}",
            "spec.notifications.webhookUrls.0",
        ),
        (
            "origin",
            "api: {corsAllowedOrigins: ['https://shop.example.com/path']}",
            "spec.api.corsAllowedOrigins.0",
        ),
        (
            "tax",
            "commerce: {taxRateBps: 10001}",
            "spec.commerce.taxRateBps",
        ),
        (
            "timeout",
            "api: {requestTimeoutSeconds: 0}",
            "spec.api.requestTimeoutSeconds",
        ),
        (
            "smtp",
            "smtp: {credentialsSecretRef: {name: smtp}}",
            "spec.smtp",
        ),
        (
            "labels",
            "monitoring: {serviceMonitorLabels: {release: 'not a label value'}}",
            "spec.monitoring.serviceMonitorLabels.release",
        ),
        (
            "rulelabels",
            "monitoring: {prometheusRule: {enabled: true, labels: {release: 'not a label value'}}}",
            "spec.monitoring.prometheusRule.labels.release",
        ),
        (
            "ratio",
            "monitoring: {tracing: {endpoint: 'http://collector:4318', samplingRatio: '1.5'}}",
            "spec.monitoring.tracing.samplingRatio",
        ),
        (
            "fraction",
            "monitoring: {tracing: {endpoint: 'http://collector:4318', samplingRatio: '.5'}}",
            "spec.monitoring.tracing.samplingRatio",
        ),
        (
            "endpoint",
            "monitoring: {tracing: {endpoint: 'collector:4318'}}",
            "spec.monitoring.tracing.endpoint",
        ),
        (
            "provider",
            "payments: {provider: paypal, secretRef: {name: keys}}",
            "spec.payments.provider",
        ),
    ];
    let mut yaml = String::new();
    for (name, spec, _) in bad {
        yaml.push_str(&format!(
            "---\napiVersion: shop.dev/v1alpha1\nkind: Shop\nmetadata: {{name: {name}}}\n\
             spec:\n  version: '1'\n  {spec}\n"
        ));
    }
    // And one with every setting at an edge the binaries accept.
    yaml.push_str(
        "---\napiVersion: shop.dev/v1alpha1\nkind: Shop\nmetadata: {name: edges}\nspec:\n  \
         version: '1'\n  commerce: {taxRateBps: 10000, lowStockThreshold: 0}\n  \
         api: {rateLimitPerMinute: 0, requestTimeoutSeconds: 3600, \
         corsAllowedOrigins: ['http://localhost:3000']}\n  \
         monitoring: {tracing: {endpoint: 'https://otel.example.com', samplingRatio: '0.000001'}}\n",
    );
    let folder = tempfile::tempdir().expect("temp dir");
    let file = folder.path().join("bad-shops.yaml");
    std::fs::write(&file, yaml).expect("write");
    let crd = repo().join("crds/shop.dev_shops.yaml");
    let (ok, report) = run(&k8s_validate(), &[Path::new("--crd"), &crd, &file]);
    assert!(!ok, "{report}");
    for (name, _, field) in bad {
        let line = report
            .lines()
            .find(|line| line.contains(&format!("Shop/{name}:")))
            .unwrap_or_else(|| panic!("Shop {name} was accepted: {report}"));
        assert!(line.contains(field), "{line}");
    }
    assert!(
        report.contains("OK ") && report.contains("Shop/edges"),
        "{report}"
    );
    assert!(
        report.contains(&format!("1 valid, {} invalid", bad.len())),
        "{report}"
    );
}

/// The stand-ins for the other operators' CRDs refuse a field those operators do not have, and a
/// value of the wrong type: the check of the emitted Cluster and RabbitmqCluster can fail.
#[test]
fn the_stand_in_crds_refuse_fields_the_other_operators_do_not_have() {
    let yaml = "---\napiVersion: postgresql.cnpg.io/v1\nkind: Cluster\n\
                metadata: {name: typo, namespace: shop}\n\
                spec: {instances: 3, storage: {size: 1Gi, storageClassName: fast}}\n\
                ---\napiVersion: postgresql.cnpg.io/v1\nkind: Cluster\n\
                metadata: {name: good, namespace: shop}\n\
                spec: {instances: 3, imageName: 'ghcr.io/cloudnative-pg/postgresql:17', \
                bootstrap: {initdb: {database: shop, owner: shop}}, \
                storage: {size: 1Gi, storageClass: fast}, monitoring: {enablePodMonitor: true}}\n\
                ---\napiVersion: rabbitmq.com/v1beta1\nkind: RabbitmqCluster\n\
                metadata: {name: typo, namespace: shop}\n\
                spec: {replicas: three, persistence: {size: 1Gi}}\n";
    let folder = tempfile::tempdir().expect("temp dir");
    let file = folder.path().join("operated.yaml");
    std::fs::write(&file, yaml).expect("write");
    let cnpg_crd = repo().join("operator/tests/fixtures/cnpg-cluster-crd.yaml");
    let rabbitmq_crd = repo().join("operator/tests/fixtures/rabbitmqcluster-crd.yaml");
    let crd = Path::new("--crd");
    let (ok, report) = run(
        &k8s_validate(),
        &[crd, &cnpg_crd, crd, &rabbitmq_crd, &file],
    );
    assert!(!ok, "{report}");
    assert!(report.contains("1 valid, 2 invalid"), "{report}");
    let line = |kind: &str| {
        report
            .lines()
            .find(|line| line.contains(&format!("{kind}/typo")))
            .unwrap_or_else(|| panic!("{kind}/typo was accepted: {report}"))
            .to_owned()
    };
    assert!(line("Cluster").contains("storageClassName"), "{report}");
    let rabbitmq = line("RabbitmqCluster");
    assert!(
        rabbitmq.contains("replicas") || rabbitmq.contains("size"),
        "{report}"
    );
}
