//! The kinds the test API handles itself, and the requests it parses.

use serde_json::{Value, json};

/// A kind the test API handles itself.
#[derive(Debug)]
pub struct Kind {
    pub prefix: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    /// Whether it has a status subresource.
    pub status: bool,
}

const fn kind(
    prefix: &'static str,
    plural: &'static str,
    kind: &'static str,
    status: bool,
) -> Kind {
    Kind {
        prefix,
        plural,
        kind,
        status,
    }
}

/// The kinds the operator creates or reads, and the Shop's own.
pub const KINDS: &[Kind] = &[
    kind("/api/v1", "configmaps", "ConfigMap", false),
    kind("/api/v1", "secrets", "Secret", false),
    kind("/api/v1", "services", "Service", true),
    kind(
        "/api/v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
    ),
    kind("/api/v1", "serviceaccounts", "ServiceAccount", false),
    kind("/apis/apps/v1", "deployments", "Deployment", true),
    kind("/apis/apps/v1", "statefulsets", "StatefulSet", true),
    kind("/apis/batch/v1", "jobs", "Job", true),
    kind("/apis/batch/v1", "cronjobs", "CronJob", true),
    kind(
        "/apis/policy/v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
    ),
    kind(
        "/apis/autoscaling/v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
    ),
    kind("/apis/networking.k8s.io/v1", "ingresses", "Ingress", true),
    kind(
        "/apis/networking.k8s.io/v1",
        "networkpolicies",
        "NetworkPolicy",
        false,
    ),
    kind(
        "/apis/monitoring.coreos.com/v1",
        "servicemonitors",
        "ServiceMonitor",
        false,
    ),
    kind(
        "/apis/monitoring.coreos.com/v1",
        "prometheusrules",
        "PrometheusRule",
        false,
    ),
    // The backends a Shop hands to CloudNativePG and the RabbitMQ Cluster Operator.
    kind("/apis/postgresql.cnpg.io/v1", "clusters", "Cluster", true),
    kind(
        "/apis/rabbitmq.com/v1beta1",
        "rabbitmqclusters",
        "RabbitmqCluster",
        true,
    ),
    kind("/apis/shop.dev/v1alpha1", "shops", "Shop", true),
    kind("/apis/shop.dev/v1alpha1", "workers", "Worker", true),
    kind("/apis/shop.dev/v1alpha1", "backups", "Backup", true),
    kind("/apis/shop.dev/v1alpha1", "restores", "Restore", true),
];

impl Kind {
    pub fn api_version(&self) -> &'static str {
        self.prefix
            .trim_start_matches("/api/")
            .trim_start_matches("/apis/")
    }

    pub fn collection(&self, namespace: &str) -> String {
        format!("{}/namespaces/{namespace}/{}", self.prefix, self.plural)
    }

    /// The part of an object a write to `subresource` may change.
    pub fn scope(&self, subresource: &str) -> impl Fn(&Value) -> Value + use<> {
        let (status, subresource) = (self.status, subresource.to_owned());
        move |object: &Value| match (status, subresource.as_str()) {
            (false, _) => object.clone(),
            (true, "status") => json!({"status": object.get("status")}),
            (true, _) => without(object, &["status"]),
        }
    }
}

pub fn without(object: &Value, keys: &[&str]) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        for key in keys {
            map.remove(*key);
        }
    }
    object
}

/// A request for one kind in a namespace.
pub struct Target {
    pub kind: &'static Kind,
    pub namespace: String,
    pub name: Option<String>,
    pub subresource: String,
}

impl Target {
    pub fn parse(path: &str) -> Option<Target> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (prefix_len, rest) = match segments.as_slice() {
            ["api", _, rest @ ..] => (2, rest),
            ["apis", _, _, rest @ ..] => (3, rest),
            _ => return None,
        };
        let prefix = format!("/{}", segments[..prefix_len].join("/"));
        let (namespace, plural, name, subresource) = match rest {
            ["namespaces", namespace, plural] => (namespace, plural, None, ""),
            ["namespaces", namespace, plural, name] => (namespace, plural, Some(name), ""),
            ["namespaces", namespace, plural, name, sub] => (namespace, plural, Some(name), *sub),
            _ => return None,
        };
        let kind = KINDS
            .iter()
            .find(|kind| kind.prefix == prefix && kind.plural == *plural)?;
        Some(Target {
            kind,
            namespace: (*namespace).to_owned(),
            name: name.map(|name| (*name).to_owned()),
            subresource: subresource.to_owned(),
        })
    }
}
