//! The committed CRDs are what the Rust types generate, and their CEL rules accept good
//! resources and reject bad ones (evaluated offline by kube's CEL interpreter).

use std::path::PathBuf;

fn crds_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crds")
}

#[test]
fn committed_crds_match_the_types() {
    let files = shop_operator::crd::files().expect("CRDs render");
    assert_eq!(files.len(), 4);
    for (file, generated) in files {
        let path = crds_dir().join(&file);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{} is missing ({error})", path.display()));
        assert!(
            committed == generated,
            "{file} is stale: run `cargo run -p shop-operator -- crd --out-dir crds`"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// CEL rules, evaluated offline by kube's CEL interpreter against the committed schemas.

use kube::core::cel::Validator;
use serde_json::{Value, json};

/// The openAPIV3Schema of the committed CRD in `file`.
fn schema(file: &str) -> Value {
    let path = crds_dir().join(file);
    let text = std::fs::read_to_string(&path).expect("committed CRD");
    let crd: Value = serde_yaml::from_str(&text).expect("CRD YAML");
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn shop(spec: Value) -> Value {
    json!({"apiVersion": "shop.dev/v1alpha1", "kind": "Shop", "metadata": {"name": "demo"}, "spec": spec})
}

fn backup(spec: Value) -> Value {
    json!({"apiVersion": "shop.dev/v1alpha1", "kind": "Backup", "metadata": {"name": "nightly"}, "spec": spec})
}

/// The messages of the rules `object` breaks (empty when it is valid).
fn broken(file: &str, object: &Value, old: Option<&Value>) -> Vec<String> {
    match Validator::new().validate(&schema(file), object, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .as_slice()
            .iter()
            .map(|error| error.message.clone())
            .collect(),
    }
}

#[test]
fn every_sample_passes_the_cel_rules() {
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../manifests/samples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&samples).expect("manifests/samples") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("sample");
        for document in serde_yaml::Deserializer::from_str(&text) {
            let object: Value = serde::Deserialize::deserialize(document).expect("YAML");
            let file = match object["kind"].as_str() {
                Some("Shop") => "shop.dev_shops.yaml",
                Some("Worker") => "shop.dev_workers.yaml",
                Some("Backup") => "shop.dev_backups.yaml",
                Some("Restore") => "shop.dev_restores.yaml",
                _ => continue,
            };
            assert_eq!(
                broken(file, &object, None),
                Vec::<String>::new(),
                "{}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 8,
        "only {checked} custom resources in the samples"
    );
}

#[test]
fn a_backend_is_exactly_one_of_managed_or_external_and_cannot_switch() {
    let both = shop(json!({"version": "1.0.0", "database": {
        "managed": {}, "external": {"secretRef": {"name": "db"}}}}));
    assert_eq!(
        broken("shop.dev_shops.yaml", &both, None),
        ["set exactly one of managed, external or cloudNativePG"]
    );
    let neither = shop(json!({"version": "1.0.0", "redis": {}}));
    assert_eq!(
        broken("shop.dev_shops.yaml", &neither, None),
        ["set exactly one of managed or external"]
    );

    let managed = shop(json!({"version": "1.0.0", "database": {"managed": {}}}));
    let external =
        shop(json!({"version": "1.0.0", "database": {"external": {"secretRef": {"name": "db"}}}}));
    let messages = broken("shop.dev_shops.yaml", &external, Some(&managed));
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("a backend cannot switch")),
        "{messages:?}"
    );
    assert_eq!(
        broken("shop.dev_shops.yaml", &managed, Some(&managed)),
        Vec::<String>::new()
    );
}

#[test]
fn managed_storage_is_immutable_and_autoscaling_bounds_are_ordered() {
    let small =
        shop(json!({"version": "1", "database": {"managed": {"storage": {"size": "1Gi"}}}}));
    let large =
        shop(json!({"version": "2", "database": {"managed": {"storage": {"size": "5Gi"}}}}));
    assert_eq!(
        broken("shop.dev_shops.yaml", &large, Some(&small)),
        ["storage is immutable"]
    );

    let inverted = shop(json!({"version": "1", "api": {
        "autoscaling": {"minReplicas": 5, "maxReplicas": 2},
        "resources": {"requests": {"cpu": "100m"}}}}));
    assert_eq!(
        broken("shop.dev_shops.yaml", &inverted, None),
        ["maxReplicas must be at least minReplicas"]
    );
}

#[test]
fn worker_type_and_shop_are_immutable() {
    let email = json!({"apiVersion": "shop.dev/v1alpha1", "kind": "Worker", "metadata": {"name": "w"},
        "spec": {"shopRef": "demo", "type": "email"}});
    let mut invoice = email.clone();
    invoice["spec"]["type"] = json!("invoice");
    invoice["spec"]["shopRef"] = json!("other");
    let mut messages = broken("shop.dev_workers.yaml", &invoice, Some(&email));
    messages.sort();
    assert_eq!(messages, ["shopRef is immutable", "type is immutable"]);
}

#[test]
fn backup_schedules_retention_and_storage_are_checked() {
    let pvc = json!({"pvc": {"claimName": "backups"}});
    for good in [
        "0 3 * * *",
        "*/15 * * * *",
        "0 0 1 jan,jul *",
        "30 2 * * MON-FRI",
        "@daily",
    ] {
        let object = backup(json!({"shopRef": "demo", "schedule": good, "storage": pvc}));
        assert_eq!(
            broken("shop.dev_backups.yaml", &object, None),
            Vec::<String>::new(),
            "{good}"
        );
    }
    for bad in ["every day", "* * * *", "0 3 * * * *", "@fortnightly"] {
        let object = backup(json!({"shopRef": "demo", "schedule": bad, "storage": pvc}));
        let messages = broken("shop.dev_backups.yaml", &object, None);
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("schedule must be five cron fields")),
            "{bad}: {messages:?}"
        );
    }
    let zero = backup(json!({"shopRef": "demo", "retention": {"keepLast": 0}, "storage": pvc}));
    assert_eq!(
        broken("shop.dev_backups.yaml", &zero, None),
        ["keepLast must be greater than 0"]
    );
    let empty = backup(json!({"shopRef": "demo", "retention": {}, "storage": pvc}));
    assert_eq!(
        broken("shop.dev_backups.yaml", &empty, None),
        ["retention needs keepLast, maxAge or both"]
    );
    let wordy = backup(json!({"shopRef": "demo", "retention": {"maxAge": "30 d"}, "storage": pvc}));
    assert!(broken("shop.dev_backups.yaml", &wordy, None)[0].starts_with("maxAge must be"));
    let both = backup(json!({"shopRef": "demo", "storage": {
        "pvc": {"size": "1Gi"}, "s3": {"bucket": "bkt", "secretRef": {"name": "s3"}}}}));
    assert_eq!(
        broken("shop.dev_backups.yaml", &both, None),
        ["set exactly one of storage.pvc or storage.s3"]
    );
    let vague = backup(json!({"shopRef": "demo", "storage": {"pvc": {}}}));
    assert_eq!(
        broken("shop.dev_backups.yaml", &vague, None),
        ["set exactly one of claimName (an existing claim) or size (a new one)"]
    );
}

#[test]
fn names_longer_than_forty_characters_are_refused() {
    let mut long = shop(json!({"version": "1.0.0"}));
    long["metadata"]["name"] = json!("a".repeat(41));
    let messages = broken("shop.dev_shops.yaml", &long, None);
    assert!(
        messages.iter().any(|m| m.contains("at most 40 characters")),
        "{messages:?}"
    );
}

#[test]
fn api_ports_may_not_collide() {
    let clash = shop(json!({"version": "1", "api": {"service": {"httpPort": 9090}}}));
    let messages = broken("shop.dev_shops.yaml", &clash, None);
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("httpPort and grpcPort must differ")),
        "{messages:?}"
    );
}

#[test]
fn a_null_storage_size_reads_as_the_default() {
    let object =
        shop(json!({"version": "1", "database": {"managed": {"storage": {"size": null}}}}));
    let parsed: shop_operator::crd::Shop = serde_json::from_value(object).expect("a Shop");
    let managed = parsed.spec.database.managed.expect("managed");
    assert_eq!(managed.storage.size.0, "1Gi");
}

fn worker(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "shop.dev/v1alpha1", "kind": "Worker", "metadata": {"name": name}, "spec": spec})
}

#[test]
fn shop_and_worker_names_must_make_valid_service_names() {
    // `{shop}-api` and `{worker}-worker` are Services: DNS-1035 labels, so no leading digit, no
    // dot, no upper case; the API server itself accepts all of these as custom resource names.
    for bad in ["2shop", "shop.v2", "Shop", "shop-", "-shop"] {
        let mut object = shop(json!({"version": "1.0.0"}));
        object["metadata"]["name"] = json!(bad);
        let messages = broken("shop.dev_shops.yaml", &object, None);
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("a Shop's name must be a DNS-1035 label")),
            "{bad}: {messages:?}"
        );
        let object = worker(bad, json!({"shopRef": "demo", "type": "email"}));
        let messages = broken("shop.dev_workers.yaml", &object, None);
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("a Worker's name must be a DNS-1035 label")),
            "{bad}: {messages:?}"
        );
    }
    for good in ["shop", "s", "shop-2", "a1-b2"] {
        let mut object = shop(json!({"version": "1.0.0"}));
        object["metadata"]["name"] = json!(good);
        assert_eq!(
            broken("shop.dev_shops.yaml", &object, None),
            Vec::<String>::new()
        );
        let object = worker(good, json!({"shopRef": "demo", "type": "email"}));
        assert_eq!(
            broken("shop.dev_workers.yaml", &object, None),
            Vec::<String>::new()
        );
    }
}

#[test]
fn autoscaling_needs_a_cpu_request() {
    const MESSAGE: &str = "autoscaling needs resources.requests.cpu: the HPA scales on a percentage of the CPU request";
    let autoscaling = json!({"minReplicas": 2, "maxReplicas": 5});
    for resources in [
        None,
        Some(json!({"limits": {"cpu": "1"}})),
        Some(json!({"requests": {"memory": "128Mi"}})),
    ] {
        let mut api = json!({"autoscaling": autoscaling});
        let mut pool = json!({"shopRef": "demo", "type": "analytics", "autoscaling": autoscaling});
        if let Some(resources) = &resources {
            api["resources"] = resources.clone();
            pool["resources"] = resources.clone();
        }
        let object = shop(json!({"version": "1", "api": api}));
        assert_eq!(
            broken("shop.dev_shops.yaml", &object, None),
            [MESSAGE],
            "{resources:?}"
        );
        let object = worker("analytics", pool);
        assert_eq!(
            broken("shop.dev_workers.yaml", &object, None),
            [MESSAGE],
            "{resources:?}"
        );
    }
    let requests = json!({"requests": {"cpu": "100m"}});
    let object =
        shop(json!({"version": "1", "api": {"autoscaling": autoscaling, "resources": requests}}));
    assert_eq!(
        broken("shop.dev_shops.yaml", &object, None),
        Vec::<String>::new()
    );
    let object = worker(
        "analytics",
        json!({"shopRef": "demo", "type": "analytics", "autoscaling": autoscaling, "resources": requests}),
    );
    assert_eq!(
        broken("shop.dev_workers.yaml", &object, None),
        Vec::<String>::new()
    );
}

#[test]
fn webhook_urls_need_a_signing_secret() {
    let unsigned = shop(json!({"version": "1", "notifications": {
        "webhookUrls": ["https://push.example.com/hook"]}}));
    assert_eq!(
        broken("shop.dev_shops.yaml", &unsigned, None),
        ["webhookUrls need signingSecretRef: every webhook request is signed"]
    );
    let signed = shop(json!({"version": "1", "notifications": {
        "webhookUrls": ["https://push.example.com/hook"],
        "signingSecretRef": {"name": "hooks", "key": "secret"}}}));
    assert_eq!(
        broken("shop.dev_shops.yaml", &signed, None),
        Vec::<String>::new()
    );
    let none = shop(json!({"version": "1", "notifications": {"webhookUrls": []}}));
    assert_eq!(
        broken("shop.dev_shops.yaml", &none, None),
        Vec::<String>::new()
    );
}

#[test]
fn invoice_storage_is_exactly_one_of_a_bucket_or_a_volume() {
    const MESSAGE: &str = "set exactly one of invoices.storage.s3 or invoices.storage.volume";
    let s3 = json!({"bucket": "invoices", "secretRef": {"name": "s3"}});
    let volume = json!({"claimName": "invoices"});
    let both = shop(json!({"version": "1", "invoices": {"storage": {"s3": s3, "volume": volume}}}));
    assert_eq!(broken("shop.dev_shops.yaml", &both, None), [MESSAGE]);
    let neither = shop(json!({"version": "1", "invoices": {"storage": {}}}));
    assert_eq!(broken("shop.dev_shops.yaml", &neither, None), [MESSAGE]);
    for storage in [json!({"s3": s3}), json!({"volume": volume})] {
        let object = shop(json!({"version": "1", "invoices": {"storage": storage}}));
        assert_eq!(
            broken("shop.dev_shops.yaml", &object, None),
            Vec::<String>::new()
        );
    }
    let ftp = shop(json!({"version": "1", "invoices": {"storage": {"s3": {
        "bucket": "invoices", "endpoint": "ftp://minio:9000", "secretRef": {"name": "s3"}}}}}));
    assert_eq!(
        broken("shop.dev_shops.yaml", &ftp, None),
        ["endpoint must be an http:// or https:// URL"]
    );
}

#[test]
fn a_backup_claim_is_created_once_so_its_size_and_class_cannot_change() {
    let claim = |size: &str, class: &str| {
        backup(json!({"shopRef": "demo", "storage": {"pvc": {
            "size": size, "storageClassName": class}}}))
    };
    let old = claim("10Gi", "standard");
    let mut messages = broken("shop.dev_backups.yaml", &claim("20Gi", "fast"), Some(&old));
    messages.sort();
    assert_eq!(
        messages,
        [
            "storage.pvc.size is immutable: the operator creates the claim once; to grow it, resize the PersistentVolumeClaim itself",
            "storage.pvc.storageClassName is immutable, as a claim's class is",
        ]
    );
    assert_eq!(
        broken(
            "shop.dev_backups.yaml",
            &claim("10Gi", "standard"),
            Some(&old)
        ),
        Vec::<String>::new()
    );
    // Moving to an existing claim is an edit, not a resize.
    let existing = backup(json!({"shopRef": "demo", "storage": {"pvc": {"claimName": "mine"}}}));
    assert_eq!(
        broken("shop.dev_backups.yaml", &existing, Some(&old)),
        Vec::<String>::new()
    );
}

#[test]
fn the_database_and_rabbitmq_are_one_of_three_choices_and_never_switch() {
    let file = "shop.dev_shops.yaml";
    let choices = [
        (
            "database",
            "cloudNativePG",
            json!({"postgresMajorVersion": 17}),
        ),
        ("rabbitmq", "clusterOperator", json!({"replicas": 3})),
    ];
    for (field, operated, spec) in choices {
        let with = |choice: Value| shop(json!({"version": "1", field: choice}));
        let handed_over = with(json!({ operated: spec }));
        let managed = with(json!({"managed": {}}));
        let external = with(json!({"external": {"secretRef": {"name": "url"}}}));
        assert_eq!(broken(file, &handed_over, None), Vec::<String>::new());
        let switch = format!("a backend cannot switch between managed, external and {operated}");
        for other in [&managed, &external] {
            for (new, old) in [(&handed_over, other), (other, &handed_over)] {
                let messages = broken(file, new, Some(old));
                assert!(
                    messages.iter().any(|m| m.starts_with(&switch)),
                    "{field}: {messages:?}"
                );
            }
        }
        let two = with(json!({"managed": {}, operated: spec}));
        assert_eq!(
            broken(file, &two, None),
            [format!(
                "set exactly one of managed, external or {operated}"
            )]
        );
    }

    // A major version never goes down; RabbitMQ nodes are never removed.
    let postgres = |major: i32| {
        shop(
            json!({"version": "1", "database": {"cloudNativePG": {"postgresMajorVersion": major}}}),
        )
    };
    assert_eq!(
        broken(file, &postgres(16), Some(&postgres(17))),
        [
            "postgresMajorVersion cannot go down: PostgreSQL cannot open a newer major version's data"
        ]
    );
    assert_eq!(
        broken(file, &postgres(17), Some(&postgres(16))),
        Vec::<String>::new()
    );
    let nodes = |replicas: i32| {
        shop(json!({"version": "1", "rabbitmq": {"clusterOperator": {"replicas": replicas}}}))
    };
    assert_eq!(
        broken(file, &nodes(1), Some(&nodes(3))),
        ["replicas cannot go down: the RabbitMQ Cluster Operator does not scale a cluster down"]
    );
    assert_eq!(
        broken(file, &nodes(5), Some(&nodes(3))),
        Vec::<String>::new()
    );
}

fn restore(spec: Value) -> Value {
    json!({"apiVersion": "shop.dev/v1alpha1", "kind": "Restore", "metadata": {"name": "rollback"}, "spec": spec})
}

#[test]
fn a_restore_names_exactly_one_backup_and_never_changes() {
    let file = "shop.dev_restores.yaml";
    let s3 = json!({"s3": {"bucket": "shop-backups", "secretRef": {"name": "s3"}}});
    let good = [
        json!({"backupRef": "nightly"}),
        json!({"backupRef": "nightly", "run": "nightly-backup-29412180"}),
        json!({"backupId": "20261204T030000Z-1a2b", "storage": s3}),
    ];
    for source in &good {
        let object = restore(json!({"shopRef": "demo", "mode": "inPlace", "source": source}));
        assert_eq!(
            broken(file, &object, None),
            Vec::<String>::new(),
            "{source}"
        );
    }
    let bad = [
        (json!({}), "set exactly one of source.backupRef"),
        (
            json!({"backupRef": "nightly", "backupId": "x", "storage": s3}),
            "set exactly one of source.backupRef",
        ),
        (
            json!({"backupId": "x"}),
            "source.backupId and source.storage go together",
        ),
        (
            json!({"backupId": "x", "storage": s3, "run": "nightly-1"}),
            "source.run names a run of source.backupRef",
        ),
        (
            json!({"backupId": "../x", "storage": s3}),
            "backupId is an id as `shop-api backup list` shows it",
        ),
    ];
    for (source, message) in bad {
        let object = restore(json!({"shopRef": "demo", "mode": "inPlace", "source": source}));
        let errors = broken(file, &object, None);
        assert!(
            errors.iter().any(|e| e.starts_with(message)),
            "{source}: {errors:?}"
        );
    }
    let old = restore(json!({"shopRef": "demo", "mode": "inPlace", "source": good[0]}));
    for change in [
        json!({"shopRef": "other", "mode": "inPlace", "source": good[0]}),
        json!({"shopRef": "demo", "mode": "intoNewShop", "source": good[0]}),
        json!({"shopRef": "demo", "mode": "inPlace", "source": good[1]}),
    ] {
        let errors = broken(file, &restore(change.clone()), Some(&old));
        assert!(
            errors
                .iter()
                .any(|e| e.contains("a Restore's spec is immutable")),
            "{change}: {errors:?}"
        );
    }
}
