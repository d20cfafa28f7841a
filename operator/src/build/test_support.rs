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
/// `deleteVolumeWithShop`, a private registry, autoscaling, an Ingress with TLS, a rate limit,
/// payments and SMTP Secrets, ServiceMonitors.
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
            "service": { "type": "ClusterIP", "httpPort": 8080, "grpcPort": 9090 },
            "ingress": {
                "host": "shop.example.com",
                "className": "nginx",
                "tlsSecretName": "shop-example-com-tls"
            },
            "rateLimitPerMinute": 600,
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
        "payments": { "name": "shop-payments" },
        "smtp": { "secretRef": { "name": "shop-smtp" } },
        "monitoring": { "serviceMonitor": true }
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
