use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use serde_json::json;

use super::*;
use crate::build::backup::backup_pod_template;
use crate::build::shop::{api_deployment, api_service_monitor, config_map, migration_job};
use crate::build::test_support::{full_shop, minimal_shop, shop_with_spec};
use crate::build::worker::{missing_settings, worker_deployment};
use crate::crd::{Backup, Worker, WorkerSpec};

fn worker(type_: WorkerType) -> Worker {
    let mut worker = Worker::new(
        type_.as_str(),
        WorkerSpec {
            shop_ref: "demo".to_owned(),
            type_,
            replicas: 1,
            concurrency: 4,
            resources: None,
            autoscaling: None,
        },
    );
    worker.metadata.namespace = Some("shop".to_owned());
    worker.metadata.uid = Some("00000000-0000-4000-8000-00000000000a".to_owned());
    worker
}

fn settings(shop: &Shop) -> BTreeMap<String, String> {
    config_map(shop).data.expect("data")
}

fn template_pod(template: Option<PodTemplateSpec>) -> PodSpec {
    template.and_then(|template| template.spec).expect("a pod")
}

/// The pod of every process of `shop`, named: the API, the migration, each worker type, a backup
/// to S3 (which has AWS credentials of its own).
pub(super) fn pods(shop: &Shop) -> Vec<(String, PodSpec)> {
    let mut pods = vec![
        (
            "api".to_owned(),
            template_pod(
                api_deployment(shop, "1.0.0", "hash")
                    .spec
                    .map(|s| s.template),
            ),
        ),
        (
            "migration".to_owned(),
            template_pod(migration_job(shop, "1.0.0").spec.map(|s| s.template)),
        ),
    ];
    for type_ in WorkerType::ALL {
        let deployment = worker_deployment(&worker(type_), shop, "1.0.0");
        pods.push((
            type_.as_str().to_owned(),
            template_pod(deployment.spec.map(|s| s.template)),
        ));
    }
    let backup: Backup = serde_json::from_value(json!({
        "apiVersion": "shop.dev/v1alpha1", "kind": "Backup",
        "metadata": { "name": "nightly", "namespace": "shop", "uid": "b" },
        "spec": { "shopRef": "demo", "storage": { "s3": {
            "bucket": "backups", "secretRef": { "name": "backup-s3" } } } }
    }))
    .expect("a Backup");
    pods.push((
        "backup".to_owned(),
        template_pod(Some(backup_pod_template(&backup, shop, "1.0.0"))),
    ));
    pods
}

/// Variables a pod's container takes from Secret keys, beyond the backend URLs and JWT key every
/// shop process gets.
pub(super) fn secret_vars(pod: &PodSpec) -> Vec<(String, String, String)> {
    pod.containers[0]
        .env
        .iter()
        .flatten()
        .filter(|var| {
            !["DATABASE_URL", "REDIS_URL", "AMQP_URL", "SHOP_JWT_SECRET"]
                .contains(&var.name.as_str())
        })
        .filter_map(|var| {
            let from = var.value_from.as_ref()?.secret_key_ref.as_ref()?;
            Some((var.name.clone(), from.name.clone(), from.key.clone()))
        })
        .collect()
}

fn invoice_volume_shop() -> Shop {
    shop_with_spec(json!({
        "version": "1.0.0",
        "invoices": { "storage": { "volume": { "claimName": "invoices-rwx" } } },
        "smtp": { "host": "relay.mail.svc", "from": "shop@example.com", "starttls": false }
    }))
}

#[test]
fn a_shop_without_settings_sets_no_variable_so_the_binary_defaults_apply() {
    let shop = minimal_shop();
    let keys: Vec<String> = settings(&shop).into_keys().collect();
    assert_eq!(
        keys,
        [
            "SHOP_DEMO_SEED",
            "SHOP_GRPC_ADDR",
            "SHOP_HTTP_ADDR",
            "SHOP_LOG_FORMAT",
            "SHOP_TRUST_FORWARDED_FOR"
        ]
    );
    for (name, pod) in pods(&shop) {
        assert_eq!(secret_vars(&pod), [], "{name}");
        let volumes: Vec<&str> = pod
            .volumes
            .iter()
            .flatten()
            .map(|volume| volume.name.as_str())
            .collect();
        assert!(!volumes.contains(&INVOICE_VOLUME), "{name}");
    }
    assert!(settings_secret_keys(&shop).is_empty());
}

#[test]
fn every_setting_reaches_the_config_map_under_the_name_the_binaries_read() {
    let full = settings(&full_shop());
    let expected = [
        ("SHOP_TAX_RATE_BPS", "1900"),
        ("SHOP_LOW_STOCK_THRESHOLD", "3"),
        ("SHOP_RATE_LIMIT_PER_MINUTE", "600"),
        (
            "SHOP_CORS_ALLOWED_ORIGINS",
            "https://shop.example.com,https://admin.example.com",
        ),
        ("SHOP_REQUEST_TIMEOUT_SECONDS", "20"),
        ("SHOP_PUBLIC_URL", "https://shop.example.com"),
        (
            "SHOP_INVOICE_SELLER",
            "Example GmbH|Hauptstrasse 1|10115 Berlin|Germany",
        ),
        ("SHOP_INVOICE_BUCKET", "shop-invoices"),
        ("SHOP_INVOICE_S3_ENDPOINT", "http://minio.storage.svc:9000"),
        ("AWS_REGION", "eu-central-1"),
        ("SHOP_SMTP_HOST", "smtp.example.com"),
        ("SHOP_SMTP_PORT", "2525"),
        ("SHOP_SMTP_FROM", "Example Shop <shop@example.com>"),
        ("SHOP_SMTP_STARTTLS", "true"),
        (
            "SHOP_NOTIFY_WEBHOOK_URLS",
            "https://push.example.com/hooks/shop",
        ),
    ];
    for (key, value) in expected {
        assert_eq!(full.get(key).map(String::as_str), Some(value), "{key}");
    }
    assert!(
        !full.contains_key("SHOP_INVOICE_DIR"),
        "a bucket, not a folder"
    );
    // Nothing secret is in the ConfigMap.
    for value in full.values() {
        assert!(!value.contains("shop-smtp") && !value.contains("shop-webhooks"));
    }
}

#[test]
fn a_rate_limit_of_zero_turns_the_limit_off_and_is_passed_on() {
    let shop = shop_with_spec(json!({ "version": "1.0.0", "api": { "rateLimitPerMinute": 0 } }));
    assert_eq!(settings(&shop)["SHOP_RATE_LIMIT_PER_MINUTE"], "0");
}

#[test]
fn secret_settings_reach_only_the_processes_that_use_them() {
    let aws = |name: &str| {
        (
            name.to_owned(),
            "shop-invoices-s3".to_owned(),
            name.to_owned(),
        )
    };
    let var =
        |name: &str, secret: &str, key: &str| (name.to_owned(), secret.to_owned(), key.to_owned());
    let s3 = [aws("AWS_ACCESS_KEY_ID"), aws("AWS_SECRET_ACCESS_KEY")];
    for (name, pod) in pods(&full_shop()) {
        let expected: Vec<_> = match name.as_str() {
            "api" => {
                let mut vars = s3.to_vec();
                vars.push(var("SHOP_STRIPE_SECRET_KEY", "shop-payments", "secretKey"));
                vars.push(var(
                    "SHOP_STRIPE_WEBHOOK_SECRET",
                    "shop-payments",
                    "webhookSecret",
                ));
                vars
            }
            // The media Worker stores image sizes in the invoices' bucket.
            "invoice" | "media" => s3.to_vec(),
            "email" => {
                let mut vars = s3.to_vec();
                vars.push(var("SHOP_SMTP_USERNAME", "shop-smtp", "username"));
                vars.push(var("SHOP_SMTP_PASSWORD", "shop-smtp", "password"));
                vars
            }
            "notification" => vec![var(
                "SHOP_NOTIFY_WEBHOOK_SECRET",
                "shop-webhooks",
                "signing-key",
            )],
            // The backup's own bucket credentials come from its Secret (envFrom); an invoice
            // credential here would override them.
            "migration" | "analytics" | "backup" => Vec::new(),
            other => panic!("unexpected process {other}"),
        };
        assert_eq!(secret_vars(&pod), expected, "{name}");
    }
    assert_eq!(
        settings_secret_keys(&full_shop()),
        [
            (
                "spec.invoices.storage.s3.secretRef",
                "shop-invoices-s3".to_owned(),
                "AWS_ACCESS_KEY_ID".to_owned()
            ),
            (
                "spec.invoices.storage.s3.secretRef",
                "shop-invoices-s3".to_owned(),
                "AWS_SECRET_ACCESS_KEY".to_owned()
            ),
            (
                "spec.smtp.credentialsSecretRef",
                "shop-smtp".to_owned(),
                "username".to_owned()
            ),
            (
                "spec.smtp.credentialsSecretRef",
                "shop-smtp".to_owned(),
                "password".to_owned()
            ),
            (
                "spec.notifications.signingSecretRef",
                "shop-webhooks".to_owned(),
                "signing-key".to_owned()
            ),
            (
                "spec.payments.secretRef",
                "shop-payments".to_owned(),
                "secretKey".to_owned()
            ),
            (
                "spec.payments.secretRef",
                "shop-payments".to_owned(),
                "webhookSecret".to_owned()
            ),
        ]
    );
}

#[test]
fn an_invoice_volume_is_shared_by_the_api_and_the_invoice_email_and_media_workers() {
    let shop = invoice_volume_shop();
    assert_eq!(settings(&shop)["SHOP_INVOICE_DIR"], INVOICE_DIR);
    for (name, pod) in pods(&shop) {
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|volume| volume.name == INVOICE_VOLUME);
        let mount = pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .find(|mount| mount.name == INVOICE_VOLUME);
        match name.as_str() {
            "api" | "invoice" | "email" | "media" => {
                let claim = volume
                    .and_then(|volume| volume.persistent_volume_claim.as_ref())
                    .unwrap_or_else(|| panic!("{name} has no invoice claim"));
                assert_eq!(claim.claim_name, "invoices-rwx");
                let mount = mount.unwrap_or_else(|| panic!("{name} mounts no invoices"));
                // Stored locations are file:// URLs under this path, the same in every pod.
                assert_eq!(mount.mount_path, INVOICE_DIR, "{name}");
                // Only the invoice Worker may write invoices; the API (uploaded images) and the
                // media Worker (their sizes) write `images/` alone; email Workers read.
                assert_eq!(
                    mount.read_only,
                    (name != "invoice").then_some(true),
                    "{name}"
                );
                assert_eq!(claim.read_only, (name == "email").then_some(true), "{name}");
                let images: Vec<_> = pod.containers[0]
                    .volume_mounts
                    .iter()
                    .flatten()
                    .filter(|mount| mount.sub_path.as_deref() == Some("images"))
                    .map(|mount| (mount.mount_path.clone(), mount.read_only))
                    .collect();
                let expected = match name.as_str() {
                    "api" | "media" => vec![(format!("{INVOICE_DIR}/images"), None)],
                    _ => Vec::new(),
                };
                assert_eq!(images, expected, "{name}");
            }
            _ => assert!(volume.is_none() && mount.is_none(), "{name}"),
        }
    }
}

/// Where a worker writes by default (relative to its read-only working directory) and the
/// settings that send it elsewhere: README.md's Workers section.
/// The third field is the subfolder written (the media Worker writes only `images/`).
const DEFAULT_WRITES: [(WorkerType, &str, &str, &str); 3] = [
    (
        WorkerType::Invoice,
        "SHOP_INVOICE_DIR",
        "",
        "SHOP_INVOICE_BUCKET",
    ),
    (
        WorkerType::Media,
        "SHOP_INVOICE_DIR",
        "/images",
        "SHOP_INVOICE_BUCKET",
    ),
    (WorkerType::Email, "SHOP_MAIL_DIR", "", "SHOP_SMTP_HOST"),
];

#[test]
fn a_worker_the_shop_has_the_settings_for_writes_nothing_to_its_read_only_root() {
    for shop in [full_shop(), invoice_volume_shop()] {
        let config = settings(&shop);
        for type_ in WorkerType::ALL {
            let worker = worker(type_);
            assert_eq!(missing_settings(&worker, &shop), Vec::<String>::new());
            let pod = template_pod(
                worker_deployment(&worker, &shop, "1.0.0")
                    .spec
                    .map(|spec| spec.template),
            );
            let container = &pod.containers[0];
            let security = container.security_context.as_ref().expect("security");
            assert_eq!(security.read_only_root_filesystem, Some(true));
            for (writer, folder, subfolder, instead) in DEFAULT_WRITES {
                if writer != type_ || config.contains_key(instead) {
                    continue;
                }
                // Otherwise the folder must be set, to a writable mount.
                let path = config
                    .get(folder)
                    .unwrap_or_else(|| panic!("{type_:?} would write to the default {folder}"));
                let path = format!("{path}{subfolder}");
                // The mount deepest in the path decides, as in the container.
                let writable = container
                    .volume_mounts
                    .iter()
                    .flatten()
                    .filter(|mount| path.starts_with(&mount.mount_path))
                    .max_by_key(|mount| mount.mount_path.len())
                    .is_some_and(|mount| mount.read_only != Some(true));
                assert!(
                    writable,
                    "{type_:?}: {folder}={path} is not a writable mount"
                );
            }
        }
    }
}

#[test]
fn a_worker_names_the_shop_settings_it_lacks() {
    let missing = |type_, shop: &Shop| missing_settings(&worker(type_), shop);
    let bare = minimal_shop();
    assert_eq!(missing(WorkerType::Email, &bare), ["spec.smtp"]);
    assert_eq!(
        missing(WorkerType::Invoice, &bare),
        ["spec.invoices.storage"]
    );
    assert_eq!(
        missing(WorkerType::Notification, &bare),
        Vec::<String>::new()
    );
    assert_eq!(missing(WorkerType::Analytics, &bare), Vec::<String>::new());
    // Image sizes are stored beside the invoices.
    assert_eq!(missing(WorkerType::Media, &bare), ["spec.invoices.storage"]);
    // A seller alone is not storage.
    let seller_only = shop_with_spec(json!({
        "version": "1.0.0", "invoices": { "seller": ["Shop"] }
    }));
    assert_eq!(
        missing(WorkerType::Invoice, &seller_only),
        ["spec.invoices.storage"]
    );
}

#[test]
fn the_api_service_monitor_has_the_shops_extra_labels() {
    let labels = api_service_monitor(&full_shop())
        .metadata
        .labels
        .expect("labels");
    assert_eq!(labels["release"], "kube-prometheus-stack");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "shop-operator");
}
