//! A `Worker`'s objects: the Deployment of `shop-workers --only TYPE`, its metrics Service, an
//! optional HorizontalPodAutoscaler and (with the Prometheus Operator) a ServiceMonitor.
//!
//! The Worker, not the Shop, owns them: deleting a Worker removes its pool, and the pool's status
//! (replicas, selector for the scale subresource) belongs to the Worker.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HTTPGetAction, PodSpec,
    PodTemplateSpec, Probe, Service, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::service_monitor::{
    ServiceMonitor, ServiceMonitorEndpoint, ServiceMonitorSpec, service_monitor_labels,
};
use super::settings::{Reader, add_settings};
use super::shop::{CONFIG_HASH_ANNOTATION, config_hash, config_map};
use super::{
    SHOP_UID, controlled_meta, cpu_autoscaler, image, restricted_container_security,
    restricted_pod_security, shop_env, shop_env_from, tracing_env,
};
use crate::crd::{Shop, Worker, WorkerType};
use crate::{labels, names};

/// `app.kubernetes.io/name` of worker pods.
pub const APP: &str = "shop-workers";
/// `app.kubernetes.io/component` of worker pods.
pub const COMPONENT: &str = "worker";
/// Port of the workers' `/healthz`, `/readyz` and `/metrics`.
pub const METRICS_PORT: i32 = 9100;
/// Name of the metrics port on the container and the Service.
pub const METRICS_PORT_NAME: &str = "metrics";
/// Seconds a worker has after SIGTERM to finish (and ack) the messages it holds.
pub const TERMINATION_GRACE_SECONDS: i64 = 60;

/// A Shop setting without which a type of Worker cannot run: its pods would crash-loop (or, for
/// mail, write files to a read-only filesystem), so the Worker reports the setting instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// `spec.smtp`: email Workers send through it.
    Smtp,
    /// `spec.invoices.storage`: invoice Workers store PDFs there, media Workers image variants.
    InvoiceStorage,
}

impl Setting {
    /// The Shop field to set.
    pub fn field(self) -> &'static str {
        match self {
            Self::Smtp => "spec.smtp",
            Self::InvoiceStorage => "spec.invoices.storage",
        }
    }

    /// The settings a type of Worker needs.
    pub fn required_by(worker_type: WorkerType) -> &'static [Self] {
        match worker_type {
            WorkerType::Email => &[Self::Smtp],
            // Media Workers keep image variants beside the invoice PDFs.
            WorkerType::Invoice | WorkerType::Media => &[Self::InvoiceStorage],
            WorkerType::Notification | WorkerType::Analytics => &[],
        }
    }

    /// Whether `shop` sets it.
    pub fn is_set(self, shop: &Shop) -> bool {
        match self {
            Self::Smtp => shop.spec.smtp.is_some(),
            Self::InvoiceStorage => shop.spec.invoices.storage.is_some(),
        }
    }
}

/// The Shop fields (e.g. `spec.smtp`) that `worker`'s type needs and `shop` does not set; empty
/// when the Worker can run.
pub fn missing_settings(worker: &Worker, shop: &Shop) -> Vec<String> {
    Setting::required_by(worker.spec.type_)
        .iter()
        .filter(|setting| !setting.is_set(shop))
        .map(|setting| setting.field().to_owned())
        .collect()
}

/// Labels selecting the pods of one Worker: the shop's worker component plus the Worker's name,
/// so that two Workers of one Shop never select each other's pods. Also `status.selector`.
pub fn worker_selector(worker: &Worker) -> BTreeMap<String, String> {
    let mut selector = labels::selector(APP, &worker.spec.shop_ref, COMPONENT);
    selector.insert(labels::WORKER_LABEL.to_owned(), worker.name_any());
    selector
}

/// Labels of the Worker's objects; the version only on the Deployment and its pods.
fn worker_labels(worker: &Worker, version: Option<&str>) -> BTreeMap<String, String> {
    let mut labels = labels::full(APP, &worker.spec.shop_ref, COMPONENT, version);
    labels.insert(labels::WORKER_LABEL.to_owned(), worker.name_any());
    labels
}

/// Metadata of an object the Worker owns.
fn owned_meta(worker: &Worker, labels: BTreeMap<String, String>) -> ObjectMeta {
    controlled_meta(worker, names::worker(&worker.name_any()), labels)
}

fn http_probe(path: &str, period_seconds: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(METRICS_PORT_NAME.to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period_seconds),
        timeout_seconds: Some(2),
        failure_threshold: Some(failure_threshold),
        ..Probe::default()
    }
}

/// The worker pool's Deployment, running `version` of the Shop's workers image.
pub fn worker_deployment(worker: &Worker, shop: &Shop, version: &str) -> Deployment {
    let spec = &worker.spec;
    let labels = worker_labels(worker, Some(version));

    let mut env = shop_env(shop);
    env.push(EnvVar {
        name: "SHOP_WORKER_CONCURRENCY".to_owned(),
        value: Some(spec.concurrency.to_string()),
        ..EnvVar::default()
    });
    env.extend(tracing_env(shop, &format!("{APP}-{}", spec.type_.as_str())));

    let container = Container {
        name: COMPONENT.to_owned(),
        image: Some(image(&shop.spec.image.workers_repository, version)),
        image_pull_policy: Some(shop.spec.image.pull_policy.clone()),
        args: Some(vec!["--only".to_owned(), spec.type_.as_str().to_owned()]),
        env: Some(env),
        env_from: Some(shop_env_from(shop)),
        ports: Some(vec![ContainerPort {
            name: Some(METRICS_PORT_NAME.to_owned()),
            container_port: METRICS_PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(http_probe("/readyz", 5, 3)),
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(10),
            ..http_probe("/healthz", 10, 6)
        }),
        resources: spec.resources.clone(),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".to_owned(),
            mount_path: "/tmp".to_owned(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };

    let pull_secrets = &shop.spec.image.pull_secrets;
    let mut pod = PodSpec {
        containers: vec![container],
        // Workers talk to the database and the broker, never to the Kubernetes API.
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(restricted_pod_security(SHOP_UID)),
        image_pull_secrets: (!pull_secrets.is_empty()).then(|| pull_secrets.clone()),
        termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
        volumes: Some(vec![Volume {
            name: "tmp".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        }]),
        ..PodSpec::default()
    };
    add_settings(&mut pod, shop, Reader::Worker(spec.type_));
    Deployment {
        metadata: owned_meta(worker, labels.clone()),
        spec: Some(DeploymentSpec {
            // With an HPA the autoscaler owns the replica count; leaving the field out keeps
            // server-side apply from fighting it.
            replicas: spec.autoscaling.is_none().then_some(spec.replicas),
            selector: LabelSelector {
                match_labels: Some(worker_selector(worker)),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    // The settings are the Shop's ConfigMap: a changed one rolls the pods, as it
                    // does the API's (computed from the Shop, as the ConfigMap is).
                    annotations: Some(BTreeMap::from([(
                        CONFIG_HASH_ANNOTATION.to_owned(),
                        config_hash(&config_map(shop)),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// The ClusterIP Service in front of the pool's metrics port (what a ServiceMonitor scrapes).
pub fn worker_service(worker: &Worker, shop: &Shop) -> Service {
    debug_assert_eq!(worker.spec.shop_ref, shop.name_any());
    Service {
        metadata: owned_meta(worker, worker_labels(worker, None)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(worker_selector(worker)),
            ports: Some(vec![ServicePort {
                name: Some(METRICS_PORT_NAME.to_owned()),
                port: METRICS_PORT,
                target_port: Some(IntOrString::String(METRICS_PORT_NAME.to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The HorizontalPodAutoscaler (`autoscaling/v2`, CPU utilisation) when the Worker asks for one.
pub fn worker_hpa(worker: &Worker) -> Option<HorizontalPodAutoscaler> {
    let autoscaling = worker.spec.autoscaling.as_ref()?;
    let metadata = owned_meta(worker, worker_labels(worker, None));
    Some(cpu_autoscaler(
        metadata,
        names::worker(&worker.name_any()),
        autoscaling,
    ))
}

/// The ServiceMonitor that has Prometheus scrape the pool's `/metrics` every 30 seconds (created
/// only when the Shop asks for monitoring and the Prometheus Operator's CRD exists), with the
/// Shop's `serviceMonitorLabels`.
pub fn worker_service_monitor(worker: &Worker, shop: &Shop) -> ServiceMonitor {
    debug_assert_eq!(worker.spec.shop_ref, shop.name_any());
    ServiceMonitor {
        metadata: owned_meta(
            worker,
            service_monitor_labels(shop, worker_labels(worker, None)),
        ),
        spec: ServiceMonitorSpec {
            // The Service carries the selector labels, and only this Worker's Service has them.
            selector: LabelSelector {
                match_labels: Some(worker_selector(worker)),
                ..LabelSelector::default()
            },
            endpoints: vec![ServiceMonitorEndpoint::new(
                METRICS_PORT_NAME,
                "/metrics",
                "30s",
            )],
            namespace_selector: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    use super::*;
    use crate::crd::{AutoscalingSpec, WorkerSpec, WorkerType};

    const VERSION: &str = "1.4.2";

    fn shop() -> Shop {
        let mut shop: Shop = serde_yaml::from_str(
            r"
apiVersion: shop.dev/v1alpha1
kind: Shop
metadata:
  name: demo
  namespace: shop
  uid: 5b7c1a34-1111-4222-8333-000000000001
spec:
  version: 1.4.2
  image:
    pullSecrets:
      - name: registry
  payments:
    name: demo-payments
  smtp:
    host: smtp.example.com
    from: Demo Shop <shop@example.com>
    credentialsSecretRef:
      name: demo-smtp
  monitoring:
    serviceMonitor: true
    serviceMonitorLabels:
      release: kube-prometheus-stack
",
        )
        .expect("a valid Shop");
        shop.metadata.generation = Some(1);
        shop
    }

    fn worker(name: &str, type_: WorkerType, autoscaling: Option<AutoscalingSpec>) -> Worker {
        let mut worker = Worker::new(
            name,
            WorkerSpec {
                shop_ref: "demo".to_owned(),
                type_,
                replicas: 2,
                concurrency: 8,
                resources: Some(ResourceRequirements {
                    requests: Some(BTreeMap::from([
                        ("cpu".to_owned(), Quantity("100m".to_owned())),
                        ("memory".to_owned(), Quantity("64Mi".to_owned())),
                    ])),
                    limits: Some(BTreeMap::from([(
                        "memory".to_owned(),
                        Quantity("256Mi".to_owned()),
                    )])),
                    ..ResourceRequirements::default()
                }),
                autoscaling,
            },
        );
        worker.metadata.namespace = Some("shop".to_owned());
        worker.metadata.uid = Some("5b7c1a34-2222-4222-8333-000000000002".to_owned());
        worker
    }

    fn email() -> Worker {
        worker("email", WorkerType::Email, None)
    }

    fn analytics() -> Worker {
        worker(
            "analytics",
            WorkerType::Analytics,
            Some(AutoscalingSpec {
                min_replicas: 2,
                max_replicas: 10,
                target_cpu_utilization_percent: 60,
            }),
        )
    }

    fn pod(deployment: &Deployment) -> &PodSpec {
        deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.template.spec.as_ref())
            .expect("a pod template")
    }

    #[test]
    fn the_deployment_runs_only_its_type_in_the_workers_image_of_the_version() {
        let deployment = worker_deployment(&email(), &shop(), VERSION);
        let container = &pod(&deployment).containers[0];
        assert_eq!(
            container.image.as_deref(),
            Some("ghcr.io/shop-platform/shop-workers:1.4.2")
        );
        assert_eq!(
            container.args.as_deref(),
            Some(&["--only".to_owned(), "email".to_owned()][..])
        );
        let env = container.env.as_deref().expect("env");
        let concurrency = env
            .iter()
            .find(|var| var.name == "SHOP_WORKER_CONCURRENCY")
            .expect("the concurrency is passed");
        assert_eq!(concurrency.value.as_deref(), Some("8"));
        assert_eq!(
            deployment.metadata.name.as_deref(),
            Some("email-worker"),
            "named after the Worker"
        );
        assert_eq!(pod(&deployment).termination_grace_period_seconds, Some(60));
    }

    #[test]
    fn the_worker_owns_its_objects_not_the_shop() {
        let worker = analytics();
        let shop = shop();
        let owners = [
            worker_deployment(&worker, &shop, VERSION).metadata,
            worker_service(&worker, &shop).metadata,
            worker_hpa(&worker).expect("an HPA").metadata,
            worker_service_monitor(&worker, &shop).metadata,
        ]
        .map(|meta| meta.owner_references.expect("an owner"));
        for owner in owners {
            assert_eq!(owner.len(), 1);
            assert_eq!(owner[0].kind, "Worker");
            assert_eq!(owner[0].name, "analytics");
            assert_eq!(owner[0].controller, Some(true));
        }
    }

    #[test]
    fn the_selector_tells_workers_of_one_shop_apart_and_is_in_the_pod_labels() {
        let email = email();
        let analytics = analytics();
        assert_ne!(worker_selector(&email), worker_selector(&analytics));
        let deployment = worker_deployment(&email, &shop(), VERSION);
        let spec = deployment.spec.expect("a spec");
        let selector = spec.selector.match_labels.expect("match labels");
        assert_eq!(selector, worker_selector(&email));
        assert!(
            !selector.contains_key(labels::VERSION_LABEL),
            "selectors are immutable: no version in them"
        );
        let pod_labels = spec
            .template
            .metadata
            .and_then(|meta| meta.labels)
            .expect("pod labels");
        for (key, value) in &selector {
            assert_eq!(pod_labels.get(key), Some(value), "{key}");
        }
        assert_eq!(
            pod_labels.get(labels::VERSION_LABEL).map(String::as_str),
            Some(VERSION)
        );
        let service = worker_service(&email, &shop());
        assert_eq!(
            service.spec.and_then(|spec| spec.selector),
            Some(worker_selector(&email))
        );
    }

    #[test]
    fn the_service_monitor_scrapes_the_metrics_port_of_this_workers_service_only() {
        let worker = email();
        let shop = shop();
        let service = worker_service(&worker, &shop);
        let monitor = worker_service_monitor(&worker, &shop);
        let selector = monitor.spec.selector.match_labels.expect("match labels");
        let service_labels = service.metadata.labels.expect("labels");
        for (key, value) in &selector {
            assert_eq!(service_labels.get(key), Some(value), "{key}");
        }
        assert_eq!(
            selector.get(labels::WORKER_LABEL).map(String::as_str),
            Some("email")
        );
        let endpoint = &monitor.spec.endpoints[0];
        assert_eq!(endpoint.port.as_deref(), Some(METRICS_PORT_NAME));
        assert_eq!(endpoint.path.as_deref(), Some("/metrics"));
        // Every series gets `shop` from the Service's instance label, which names the Shop.
        let relabel = &endpoint.relabelings[0];
        let source = relabel.source_labels.join(",");
        assert_eq!(source, crate::build::service_monitor::SHOP_SOURCE_LABEL);
        assert_eq!(service_labels["app.kubernetes.io/instance"], "demo");
        let port = service
            .spec
            .and_then(|spec| spec.ports)
            .expect("ports")
            .remove(0);
        assert_eq!(
            (port.name.as_deref(), port.port),
            (Some(METRICS_PORT_NAME), 9100)
        );
    }

    #[test]
    fn autoscaling_leaves_replicas_to_the_hpa() {
        let fixed = worker_deployment(&email(), &shop(), VERSION);
        assert_eq!(fixed.spec.and_then(|spec| spec.replicas), Some(2));
        assert!(worker_hpa(&email()).is_none());

        let scaled = worker_deployment(&analytics(), &shop(), VERSION);
        assert_eq!(scaled.spec.and_then(|spec| spec.replicas), None);
        let hpa = worker_hpa(&analytics())
            .and_then(|hpa| hpa.spec)
            .expect("an HPA");
        assert_eq!(hpa.scale_target_ref.kind, "Deployment");
        assert_eq!(hpa.scale_target_ref.name, "analytics-worker");
        assert_eq!((hpa.min_replicas, hpa.max_replicas), (Some(2), 10));
    }

    #[test]
    fn no_credential_is_a_plain_env_value() {
        let deployment = worker_deployment(&email(), &shop(), VERSION);
        let container = &pod(&deployment).containers[0];
        for var in container.env.as_deref().expect("env") {
            if var.name == "SHOP_WORKER_CONCURRENCY" {
                continue;
            }
            assert!(var.value.is_none(), "{} has a literal value", var.name);
            assert!(
                var.value_from
                    .as_ref()
                    .is_some_and(|from| from.secret_key_ref.is_some()),
                "{} comes from a Secret",
                var.name
            );
        }
        let env_from = container.env_from.as_deref().expect("envFrom");
        let secrets: Vec<_> = env_from
            .iter()
            .filter_map(|source| source.secret_ref.as_ref())
            .map(|secret| secret.name.as_str())
            .collect();
        assert_eq!(
            secrets,
            ["demo-payments"],
            "settings are single keys, not envFrom"
        );
        let smtp: Vec<_> = container
            .env
            .iter()
            .flatten()
            .filter_map(|var| {
                let from = var.value_from.as_ref()?.secret_key_ref.as_ref()?;
                (from.name == "demo-smtp").then_some((var.name.as_str(), from.key.as_str()))
            })
            .collect();
        assert_eq!(
            smtp,
            [
                ("SHOP_SMTP_USERNAME", "username"),
                ("SHOP_SMTP_PASSWORD", "password")
            ]
        );
    }

    #[test]
    fn the_service_monitor_has_the_shops_extra_labels_but_keeps_its_own() {
        let mut shop = shop();
        shop.spec
            .monitoring
            .service_monitor_labels
            .insert("app.kubernetes.io/managed-by".to_owned(), "helm".to_owned());
        let labels = worker_service_monitor(&email(), &shop)
            .metadata
            .labels
            .expect("labels");
        assert_eq!(labels["release"], "kube-prometheus-stack");
        assert_eq!(
            labels["app.kubernetes.io/managed-by"], "shop-operator",
            "the operator finds its objects by this label"
        );
        assert_eq!(labels[labels::WORKER_LABEL], "email");
    }

    #[test]
    fn a_changed_shop_setting_rolls_the_workers() {
        let hash = |shop: &Shop| {
            worker_deployment(&email(), shop, VERSION)
                .spec
                .and_then(|spec| spec.template.metadata)
                .and_then(|meta| meta.annotations)
                .and_then(|annotations| annotations.get(CONFIG_HASH_ANNOTATION).cloned())
                .expect("a config hash")
        };
        let before = shop();
        let mut after = shop();
        after.spec.notifications.webhook_urls = vec!["https://hooks.example.com".to_owned()];
        assert_eq!(hash(&before), hash(&shop()));
        assert_ne!(hash(&before), hash(&after));
    }

    #[test]
    fn the_fixtures_are_workers_and_a_shop_the_crds_accept() {
        use crate::build::test_support::cel_violations;
        for worker in [email(), analytics()] {
            assert_eq!(cel_violations(&worker), Vec::<String>::new());
        }
        assert_eq!(cel_violations(&shop()), Vec::<String>::new());
    }

    #[test]
    fn an_email_worker() {
        let worker = email();
        let shop = shop();
        insta::assert_yaml_snapshot!(
            "email_deployment",
            worker_deployment(&worker, &shop, VERSION)
        );
        insta::assert_yaml_snapshot!("email_service", worker_service(&worker, &shop));
        insta::assert_yaml_snapshot!(
            "email_service_monitor",
            worker_service_monitor(&worker, &shop)
        );
    }

    #[test]
    fn an_autoscaled_analytics_worker() {
        let worker = analytics();
        let shop = shop();
        insta::assert_yaml_snapshot!(
            "analytics_deployment",
            worker_deployment(&worker, &shop, VERSION)
        );
        insta::assert_yaml_snapshot!("analytics_hpa", worker_hpa(&worker));
    }
}
