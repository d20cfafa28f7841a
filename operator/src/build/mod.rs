//! Pure builders: a custom resource (plus what was read from the cluster) in, desired objects out.
//! No I/O here, so every object the operator can emit is unit- and snapshot-tested directly.
//!
//! One module per resource kind; this module holds what several of them share: how a shop process
//! is configured (environment from the Shop's ConfigMap and Secrets) and the pod hardening every
//! container gets.

pub mod backup;
pub mod cnpg;
pub mod prometheus_rule;
pub mod rabbitmq_cluster;
pub mod service_monitor;
pub mod settings;
pub mod shop;
#[cfg(test)]
pub(crate) mod test_support;
pub mod worker;

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapEnvSource, EnvFromSource, EnvVar, EnvVarSource, PodSecurityContext,
    SeccompProfile, SecretEnvSource, SecretKeySelector, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::collections::BTreeMap;

use kube::{Resource, ResourceExt};

use crate::crd::{AutoscalingSpec, SecretKeyRef, Shop};
use crate::names::{self, Backend};

pub use settings::settings_secret_keys;

/// UID and GID the shop's images run as (a non-root user baked into the images).
pub const SHOP_UID: i64 = 10001;

/// The owner reference that makes `owner` the controller of a child: deleting it deletes the child.
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    owner
        .controller_owner_ref(&())
        .expect("objects read from the API server have a name and uid")
}

/// Metadata of an object `owner` controls: its name, the owner's namespace, labels, and the owner
/// as controller (so that deleting the owner collects it).
pub fn controlled_meta<K: Resource<DynamicType = ()>>(
    owner: &K,
    name: String,
    labels: BTreeMap<String, String>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: owner.meta().namespace.clone(),
        labels: Some(labels),
        owner_references: Some(vec![controller_ref(owner)]),
        ..ObjectMeta::default()
    }
}

/// Where a backend's URL comes from: the user's Secret for external, CloudNativePG's application
/// Secret for a `cloudNativePG` database, the operator's Secret for managed. (A `clusterOperator`
/// RabbitMQ has no URL in a Secret: [`shop_env`] composes it.)
pub fn backend_url_ref(shop: &Shop, backend: Backend) -> SecretKeyRef {
    let name = shop.name_any();
    if let Some(external) = shop::backend_spec(shop, backend).external {
        return external.secret_ref.clone();
    }
    if backend == Backend::Postgres && shop.spec.database.cloud_native_pg.is_some() {
        return SecretKeyRef {
            name: cnpg::app_secret_name(&name),
            key: cnpg::URI_KEY.to_owned(),
        };
    }
    SecretKeyRef {
        name: names::backend(&name, backend),
        key: names::URL_KEY.to_owned(),
    }
}

/// Where the JWT signing secret comes from.
pub fn jwt_secret_ref(shop: &Shop) -> SecretKeyRef {
    shop.spec
        .auth
        .jwt_secret_ref
        .clone()
        .unwrap_or_else(|| SecretKeyRef {
            name: names::credentials_secret(&shop.name_any()),
            key: names::JWT_SECRET_KEY.to_owned(),
        })
}

fn secret_env(name: &str, from: SecretKeyRef) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: from.name,
                key: from.key,
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// Environment variables every shop process (API, migration, workers, backups) gets: the backend
/// URLs and the JWT secret, always from Secrets so that no credential appears in a pod spec.
pub fn shop_env(shop: &Shop) -> Vec<EnvVar> {
    let mut env = Vec::new();
    for backend in Backend::ALL {
        if backend == Backend::RabbitMq && shop.spec.rabbitmq.cluster_operator.is_some() {
            env.extend(rabbitmq_cluster::amqp_env(shop));
        } else {
            env.push(secret_env(
                backend.url_env(),
                backend_url_ref(shop, backend),
            ));
        }
    }
    env.push(secret_env("SHOP_JWT_SECRET", jwt_secret_ref(shop)));
    env
}

/// `OTEL_SERVICE_NAME` of the API's pods; the migration and backup Jobs and each Worker type
/// append their own part (`shop-api-migrate`, `shop-workers-email`), so that traces tell them
/// apart.
pub const API_SERVICE_NAME: &str = "shop-api";

/// The OpenTelemetry variables of a shop process named `service` when the Shop asks for traces
/// (`spec.monitoring.tracing`); none otherwise, which leaves tracing off. New traces are sampled
/// at the Shop's ratio; a request that arrives traced keeps its parent's decision, so one order is
/// one whole trace across the API, the relay and the workers.
pub fn tracing_env(shop: &Shop, service: &str) -> Vec<EnvVar> {
    let Some(tracing) = &shop.spec.monitoring.tracing else {
        return Vec::new();
    };
    let plain = |name: &str, value: &str| EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    };
    vec![
        plain("OTEL_EXPORTER_OTLP_ENDPOINT", &tracing.endpoint),
        plain("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        plain("OTEL_TRACES_SAMPLER_ARG", tracing.sampler_arg()),
        plain("OTEL_SERVICE_NAME", service),
    ]
}

/// `envFrom` of every shop process: the payments Secret of the old `payments: {name}` shape, then
/// the Shop's ConfigMap (every
/// non-secret setting). Of two sources setting one variable the later wins, so a setting left in
/// the payments Secret (from before settings were Shop fields) never overrides the Shop's field.
/// Secret settings are single keys, given only to the processes that use them
/// ([`settings::add_settings`]).
pub fn shop_env_from(shop: &Shop) -> Vec<EnvFromSource> {
    let mut sources = Vec::new();
    // Only the old shape (`payments: {name}`) passes a whole Secret; the new one passes single
    // keys to the API (settings::add_settings).
    if let Some(legacy) = shop
        .spec
        .payments
        .as_ref()
        .and_then(|payments| payments.legacy_secret())
    {
        sources.push(EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: legacy.to_owned(),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        });
    }
    sources.push(EnvFromSource {
        config_map_ref: Some(ConfigMapEnvSource {
            name: names::config_map(&shop.name_any()),
            optional: Some(false),
        }),
        ..EnvFromSource::default()
    });
    sources
}

/// The restricted Pod Security Standard, at pod level.
pub fn restricted_pod_security(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// The restricted Pod Security Standard, at container level, with a read-only root filesystem.
pub fn restricted_container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: None,
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..SecurityContext::default()
    }
}

/// A HorizontalPodAutoscaler scaling the Deployment `deployment` on average CPU utilisation, as
/// `autoscaling` asks (the API's and every Worker pool's).
pub fn cpu_autoscaler(
    metadata: ObjectMeta,
    deployment: String,
    autoscaling: &AutoscalingSpec,
) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata,
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: deployment,
            },
            min_replicas: Some(autoscaling.min_replicas),
            max_replicas: autoscaling.max_replicas,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(autoscaling.target_cpu_utilization_percent),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            behavior: None,
        }),
        ..HorizontalPodAutoscaler::default()
    }
}

/// The image of a shop binary at a version.
pub fn image(repository: &str, version: &str) -> String {
    format!("{repository}:{version}")
}

#[cfg(test)]
mod env_order_tests {
    use super::shop_env_from;
    use crate::build::test_support::shop_with_spec;

    #[test]
    fn the_shops_settings_win_over_keys_left_in_the_payments_secret() {
        // Of two envFrom sources setting one variable, Kubernetes keeps the later one.
        let shop = shop_with_spec(serde_json::json!({
            "version": "1.0.0", "payments": {"name": "stripe"}, "commerce": {"taxRateBps": 700},
        }));
        let sources = shop_env_from(&shop);
        let last = sources.last().expect("sources");
        assert_eq!(
            last.config_map_ref
                .as_ref()
                .map(|source| source.name.as_str()),
            Some("demo-config"),
            "the ConfigMap comes last: {sources:?}"
        );
        assert_eq!(
            sources[0]
                .secret_ref
                .as_ref()
                .map(|source| source.name.as_str()),
            Some("stripe")
        );
    }
}
