//! Build: the objects one Shop should have, decided from the validated snapshot alone. Pure:
//! no I/O, so it is tested directly and `shop-operator render` prints the same objects.
//!
//! The API moves to a new version only after that version's migration Job succeeded: the API
//! Deployment is built at [`DesiredShop::serving_version`], which becomes `spec.version` once the
//! Job completed. A failed migration leaves the old version serving.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::ResourceExt;
use serde_json::Value;

use super::operated::{self, DesiredOperated};
use super::validate::ValidatedShop;
use crate::build::prometheus_rule::{PrometheusRule, shop_prometheus_rule};
use crate::build::shop as build;
use crate::crd::Shop;
use crate::names::{self, Backend};
use crate::reconcile::monitoring;
use crate::reconcile::observe::{JobState, job_state};

/// Annotation on a migration Job: a hash of its pod template, to notice a Shop edit that changes
/// what a (failed, immutable) Job would run.
pub const TEMPLATE_HASH_ANNOTATION: &str = "shop.dev/template-hash";

/// Everything one Shop should have, in the order it is applied.
#[derive(Debug, Clone)]
pub struct DesiredShop {
    /// Settings of every shop process.
    pub config_map: ConfigMap,
    /// Hash of the ConfigMap's data, on pod templates.
    pub config_hash: String,
    /// Secrets of generated credentials: the JWT key and each managed backend's.
    pub generated_secrets: Vec<GeneratedSecret>,
    /// Each managed backend's objects.
    pub backends: Vec<DesiredBackend>,
    /// The backends handed to other operators (CloudNativePG, RabbitMQ Cluster Operator).
    pub operated: DesiredOperated,
    /// What to do about the schema.
    pub migration: Migration,
    /// The version the API runs after this pass, if any has been migrated.
    pub serving_version: Option<String>,
    /// The API's objects, once a version has been migrated.
    pub api: Option<DesiredApi>,
    /// The API's ServiceMonitor.
    pub service_monitor: monitoring::Plan,
    /// The Shop's alerting rules.
    pub prometheus_rule: monitoring::Planned<PrometheusRule>,
}

/// A Secret of generated credentials.
#[derive(Debug, Clone)]
pub struct GeneratedSecret {
    /// The Secret, with kept values verbatim and missing ones generated.
    pub secret: Secret,
    /// Whether it did not exist before this pass.
    pub new: bool,
    /// What the credentials are for, for the Event.
    pub what: &'static str,
}

/// A managed backend's objects (its Secret is among the generated Secrets).
#[derive(Debug, Clone)]
pub struct DesiredBackend {
    /// Which backend.
    pub backend: Backend,
    /// Headless Service.
    pub service: Service,
    /// The server.
    pub stateful_set: StatefulSet,
    /// Who may connect; `None` deletes the operator's NetworkPolicy.
    pub network_policy: Option<NetworkPolicy>,
}

/// What to do about the migration of `spec.version`.
#[derive(Debug, Clone)]
pub enum Migration {
    /// The schema is at `spec.version` already.
    Done,
    /// The Job is created once the database is ready.
    WaitingForDatabase,
    /// A new Shop created to receive a backup (`shop.dev/restore-from`): nothing is migrated
    /// (nor served) until the `intoNewShop` Restore filled its database and removed the mark.
    WaitingForRestore {
        /// The Restore it waits for.
        restore: String,
    },
    /// Create this Job.
    Start(Box<Job>),
    /// The Job exists; it is never re-applied (its template is immutable).
    Existing {
        /// The Job as it is.
        job: Box<Job>,
        /// Where it is.
        state: JobState,
    },
    /// The Job failed and the Shop changed what it would run since: delete it, so that the
    /// next pass starts a fresh one.
    Replace {
        /// The Job's name.
        job_name: String,
    },
}

/// The API's objects.
#[derive(Debug, Clone)]
pub struct DesiredApi {
    /// `shop-api serve` at the serving version.
    pub deployment: Deployment,
    /// Its Service.
    pub service: Service,
    /// Its PodDisruptionBudget.
    pub pdb: PodDisruptionBudget,
    /// Its autoscaler; `None` deletes the operator's.
    pub hpa: Option<HorizontalPodAutoscaler>,
    /// Its Ingress; `None` deletes the operator's.
    pub ingress: Option<Ingress>,
}

/// Decides the objects of `validated`; `new_secret` generates credentials that do not exist yet.
pub fn desired(validated: &ValidatedShop<'_>, new_secret: &dyn Fn() -> String) -> DesiredShop {
    let shop = validated.shop;
    let found = &validated.found;
    let config_map = build::config_map(shop);
    let config_hash = build::config_hash(&config_map);

    let mut generated_secrets = Vec::new();
    if let Some(secret) = build::credentials_secret(shop, found.credentials.as_ref(), new_secret) {
        generated_secrets.push(GeneratedSecret {
            secret,
            new: found.credentials.is_none(),
            what: "the JWT signing key",
        });
    }
    let mut backends = Vec::new();
    for (backend, managed) in build::managed_backends(shop) {
        let existing = found
            .backend(backend)
            .and_then(|found| found.secret.as_ref());
        generated_secrets.push(GeneratedSecret {
            secret: build::backend_secret(shop, backend, existing, new_secret),
            new: existing.is_none(),
            what: backend.as_str(),
        });
        backends.push(DesiredBackend {
            backend,
            service: build::backend_service(shop, backend),
            stateful_set: build::backend_stateful_set(shop, backend, managed),
            network_policy: shop
                .spec
                .network_policy
                .enabled
                .then(|| build::backend_network_policy(shop, backend)),
        });
    }

    let operated = operated::desired(shop, &found.operated);
    let migration = migration(validated);
    let serving_version = match &migration {
        Migration::Done
        | Migration::Existing {
            state: JobState::Succeeded,
            ..
        } => Some(validated.target_version().to_owned()),
        _ => validated.running_version.clone(),
    };
    let api = serving_version.as_deref().map(|version| DesiredApi {
        deployment: {
            let mut deployment = build::api_deployment(shop, version, &config_hash);
            let credentials = found.operated.credentials_version.as_deref();
            operated::annotate_credentials(&mut deployment, credentials);
            deployment
        },
        service: build::api_service(shop),
        pdb: build::api_pdb(shop),
        hpa: build::api_hpa(shop),
        ingress: build::api_ingress(shop),
    });
    let service_monitor = monitoring::Plan::new(
        shop.spec.monitoring.service_monitor,
        found.service_monitor_crd,
        || build::api_service_monitor(shop),
    );
    let prometheus_rule = monitoring::Planned::try_new(
        shop.spec.monitoring.prometheus_rule.enabled,
        found.prometheus_rule_crd,
        || shop_prometheus_rule(shop),
    );
    DesiredShop {
        config_map,
        config_hash,
        generated_secrets,
        backends,
        operated,
        migration,
        serving_version,
        api,
        service_monitor,
        prometheus_rule,
    }
}

/// Whether the Shop's database can take a migration: a managed one whose StatefulSet has a ready
/// replica, a CloudNativePG Cluster that serves, or an external one (its Secret exists:
/// validation checked).
pub fn database_ready(validated: &ValidatedShop<'_>) -> bool {
    if let Some(ready) = operated::database_ready(&validated.found.operated) {
        return ready;
    }
    match validated.found.backend(Backend::Postgres) {
        Some(found) => found
            .stateful_set
            .as_ref()
            .is_some_and(|stateful_set| ready_replicas(stateful_set) >= 1),
        None => build::backend_spec(validated.shop, Backend::Postgres)
            .external
            .is_some(),
    }
}

/// Ready replicas of a StatefulSet, from its status.
pub fn ready_replicas(stateful_set: &StatefulSet) -> i32 {
    stateful_set
        .status
        .as_ref()
        .and_then(|status| status.ready_replicas)
        .unwrap_or(0)
}

fn migration(validated: &ValidatedShop<'_>) -> Migration {
    let target = validated.target_version();
    if validated.running_version.as_deref() == Some(target) {
        return Migration::Done;
    }
    let held_by = validated
        .shop
        .annotations()
        .get(crate::crd::RESTORE_FROM_ANNOTATION);
    if let (None, Some(restore)) = (&validated.running_version, held_by) {
        return Migration::WaitingForRestore {
            restore: restore.clone(),
        };
    }
    let job = migration_job(validated.shop, target);
    match &validated.found.migration_job {
        Some(existing) => {
            let state = job_state(existing);
            let existing_hash = existing.annotations().get(TEMPLATE_HASH_ANNOTATION);
            let template_hash = job.annotations().get(TEMPLATE_HASH_ANNOTATION);
            if state == JobState::Failed && existing_hash != template_hash {
                Migration::Replace {
                    job_name: existing.name_any(),
                }
            } else {
                Migration::Existing {
                    job: Box::new(existing.clone()),
                    state,
                }
            }
        }
        None if database_ready(validated) => Migration::Start(Box::new(job)),
        None => Migration::WaitingForDatabase,
    }
}

/// The migration Job of `version`, annotated with a hash of its pod template.
pub fn migration_job(shop: &Shop, version: &str) -> Job {
    let mut job = build::migration_job(shop, version);
    let template = job.spec.as_ref().map_or(Value::Null, |spec| {
        serde_json::to_value(&spec.template).unwrap_or(Value::Null)
    });
    job.annotations_mut().insert(
        TEMPLATE_HASH_ANNOTATION.to_owned(),
        names::short_hash(&template.to_string()),
    );
    job
}

impl DesiredShop {
    /// Every object this pass would apply, as JSON, in order: what `shop-operator render` prints.
    pub fn objects(&self) -> Vec<Value> {
        fn push(objects: &mut Vec<Value>, object: &impl serde::Serialize) {
            // Typed Kubernetes objects always serialise; nothing to print otherwise.
            if let Ok(value) = serde_json::to_value(object) {
                objects.push(value);
            }
        }
        let mut objects = Vec::new();
        push(&mut objects, &self.config_map);
        for generated in &self.generated_secrets {
            push(&mut objects, &generated.secret);
        }
        for backend in &self.backends {
            push(&mut objects, &backend.service);
            push(&mut objects, &backend.stateful_set);
            if let Some(policy) = &backend.network_policy {
                push(&mut objects, policy);
            }
        }
        objects.extend(self.operated.objects());
        if let Migration::Start(job) = &self.migration {
            push(&mut objects, job.as_ref());
        }
        if let Some(api) = &self.api {
            push(&mut objects, &api.deployment);
            push(&mut objects, &api.service);
            push(&mut objects, &api.pdb);
            if let Some(hpa) = &api.hpa {
                push(&mut objects, hpa);
            }
            if let Some(ingress) = &api.ingress {
                push(&mut objects, ingress);
            }
        }
        if let monitoring::Plan::Apply(monitor) = &self.service_monitor {
            push(&mut objects, monitor.as_ref());
        }
        if let monitoring::Planned::Apply(rule) = &self.prometheus_rule {
            push(&mut objects, rule.as_ref());
        }
        objects
    }
}
