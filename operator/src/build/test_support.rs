//! Shops for builder tests: as the API server would hand them to a reconciler (name, namespace,
//! uid set), with every default filled in by deserialising the spec like the API server does.

use std::cell::Cell;

use kube::api::ObjectMeta;

use crate::crd::{Shop, ShopSpec};

/// Namespace of the test Shops.
pub(crate) const NAMESPACE: &str = "shop";
/// Name of the test Shops.
pub(crate) const NAME: &str = "demo";
/// UID of the test Shops (owner references carry it).
pub(crate) const UID: &str = "7f3c2a4e-1b5d-4c6e-9a8b-0d1e2f3a4b5c";

/// A Shop with this spec (JSON as a user would write it), read back from the API server.
pub(crate) fn shop_with_spec(spec: serde_json::Value) -> Shop {
    let spec: ShopSpec = serde_json::from_value(spec).expect("a valid Shop spec");
    Shop {
        metadata: ObjectMeta {
            name: Some(NAME.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            uid: Some(UID.to_owned()),
            generation: Some(1),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    }
}

/// `spec: {version: 1.0.0}`: every backend managed, every default.
pub(crate) fn minimal_shop() -> Shop {
    shop_with_spec(serde_json::json!({ "version": "1.0.0" }))
}

/// Everything set: external database, managed Redis and RabbitMQ with storage, resources and
/// `deleteVolumeWithShop`, a private registry, autoscaling, an Ingress with TLS, every business
/// setting (invoices in a bucket), Stripe payments and SMTP credentials Secrets, ServiceMonitors
/// and alerting rules with extra labels, traces. A spec the CRD accepts (`fixtures_pass_the_crd_rules`).
pub(crate) fn full_shop() -> Shop {
    shop_with_spec(serde_json::json!({
        "version": "2.3.1",
        "image": {
            "apiRepository": "registry.example.com/shop/shop-api",
            "workersRepository": "registry.example.com/shop/shop-workers",
            "pullPolicy": "Always",
            "pullSecrets": [{ "name": "registry-credentials" }]
        },
        "api": {
            "replicas": 3,
            "resources": {
                "requests": { "cpu": "250m", "memory": "256Mi" },
                "limits": { "memory": "512Mi" }
            },
            "autoscaling": {
                "minReplicas": 2,
                "maxReplicas": 10,
                "targetCpuUtilizationPercent": 60
            },
            "service": { "type": "ClusterIP", "httpPort": 8080, "grpcPort": 9000 },
            "ingress": {
                "host": "shop.example.com",
                "className": "nginx",
                "tlsSecretName": "shop-example-com-tls"
            },
            "rateLimitPerMinute": 600,
            "corsAllowedOrigins": ["https://shop.example.com", "https://admin.example.com"],
            "requestTimeoutSeconds": 20,
            "logFormat": "text"
        },
        "database": {
            "external": { "secretRef": { "name": "shop-database", "key": "url" } }
        },
        "redis": {
            "managed": {
                "storage": { "size": "2Gi", "storageClassName": "fast-ssd" },
                "resources": {
                    "requests": { "cpu": "100m", "memory": "128Mi" },
                    "limits": { "memory": "256Mi" }
                },
                "deleteVolumeWithShop": true
            }
        },
        "rabbitmq": {
            "managed": {
                "storage": { "size": "5Gi", "storageClassName": "fast-ssd" },
                "image": "registry.example.com/mirror/rabbitmq:4.0.5-management-alpine",
                "resources": {
                    "requests": { "cpu": "200m", "memory": "512Mi" },
                    "limits": { "memory": "1Gi" }
                },
                "deleteVolumeWithShop": true
            }
        },
        "payments": { "provider": "stripe", "secretRef": { "name": "shop-payments" } },
        "commerce": { "taxRateBps": 1900, "lowStockThreshold": 3 },
        "invoices": {
            "seller": ["Example GmbH", "Hauptstrasse 1", "10115 Berlin", "Germany"],
            "storage": {
                "s3": {
                    "bucket": "shop-invoices",
                    "endpoint": "http://minio.storage.svc:9000",
                    "region": "eu-central-1",
                    "secretRef": { "name": "shop-invoices-s3" }
                }
            }
        },
        "smtp": {
            "host": "smtp.example.com",
            "port": 2525,
            "from": "Example Shop <shop@example.com>",
            "starttls": true,
            "credentialsSecretRef": { "name": "shop-smtp" }
        },
        "notifications": {
            "webhookUrls": ["https://push.example.com/hooks/shop"],
            "signingSecretRef": { "name": "shop-webhooks", "key": "signing-key" }
        },
        "monitoring": {
            "serviceMonitor": true,
            "serviceMonitorLabels": { "release": "kube-prometheus-stack" },
            "prometheusRule": { "enabled": true, "labels": { "role": "alert-rules" } },
            "tracing": { "endpoint": "http://otel-collector.monitoring:4318", "samplingRatio": "0.25" }
        }
    }))
}

/// A deterministic secret generator: `generated-secret-1`, `generated-secret-2`, ...
pub(crate) fn counter_secrets() -> impl Fn() -> String {
    let count = Cell::new(0_u32);
    move || {
        count.set(count.get() + 1);
        format!("generated-secret-{}", count.get())
    }
}

/// The messages of the CRD's CEL rules `object` breaks (empty: the API server would accept it,
/// as far as CEL goes; the samples are also checked against the whole schema by k8s-validate).
pub(crate) fn cel_violations<K>(object: &K) -> Vec<String>
where
    K: kube::CustomResourceExt + serde::Serialize,
{
    match kube::core::cel::validate_cel(object) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .as_slice()
            .iter()
            .map(|error| error.message.clone())
            .collect(),
    }
}
