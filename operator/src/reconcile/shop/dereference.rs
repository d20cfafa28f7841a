//! Dereference: everything one Shop's reconcile reads from the cluster, read once and up front,
//! so that the later stages decide from one snapshot (and `shop-operator render` can decide from
//! an empty one).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::{Client, ResourceExt};

use crate::build::prometheus_rule::PrometheusRule;
use crate::build::shop as build;
use crate::crd::Shop;
use crate::names::{self, Backend};
use crate::reconcile::dereference::{DereferenceError, get};
use crate::reconcile::monitoring;
use crate::reconcile::validate::SecretReference;

use super::operated::{self, FoundOperated};

/// What the cluster holds for one Shop.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The user-supplied Secrets the spec names, by name; `None` when absent.
    pub secrets: BTreeMap<String, Option<Secret>>,
    /// The generated credentials Secret as it exists (kept values are never regenerated).
    pub credentials: Option<Secret>,
    /// Each managed backend's Secret and StatefulSet as they exist.
    pub backends: Vec<FoundBackend>,
    /// The migration Job of `spec.version`, when it exists.
    pub migration_job: Option<Job>,
    /// The API Deployment, when it exists.
    pub api_deployment: Option<Deployment>,
    /// Whether the Prometheus Operator's ServiceMonitor CRD is installed (read only when the
    /// Shop asks for a ServiceMonitor).
    pub service_monitor_crd: bool,
    /// Whether the Prometheus Operator's PrometheusRule CRD is installed (read only when the
    /// Shop asks for its alerting rules).
    pub prometheus_rule_crd: bool,
    /// Whether the claim of `spec.invoices.storage.volume` exists (true when none is named).
    pub invoice_claim: bool,
    /// The backends handed to other operators (CloudNativePG, the RabbitMQ Cluster Operator).
    pub operated: FoundOperated,
}

/// A managed backend's objects as they exist.
#[derive(Debug, Clone)]
pub struct FoundBackend {
    /// Which backend.
    pub backend: Backend,
    /// Its Secret (kept across Shop deletions when its volume is kept, and re-adopted).
    pub secret: Option<Secret>,
    /// Its StatefulSet.
    pub stateful_set: Option<StatefulSet>,
}

impl Found {
    /// The snapshot of an empty cluster where the CRDs (and the Prometheus Operator's) exist.
    pub fn empty_cluster(shop: &Shop) -> Self {
        Self {
            secrets: secret_references(shop)
                .into_iter()
                .map(|reference| (reference.name, None))
                .collect(),
            backends: build::managed_backends(shop)
                .into_iter()
                .map(|(backend, _)| FoundBackend {
                    backend,
                    secret: None,
                    stateful_set: None,
                })
                .collect(),
            service_monitor_crd: true,
            prometheus_rule_crd: true,
            invoice_claim: true,
            operated: FoundOperated::empty_cluster(shop),
            ..Self::default()
        }
    }

    /// The found objects of `backend`, when it is managed.
    pub fn backend(&self, backend: Backend) -> Option<&FoundBackend> {
        self.backends.iter().find(|found| found.backend == backend)
    }
}

/// Every Secret the Shop's spec names, with the field that names it and the key it reads.
pub fn secret_references(shop: &Shop) -> Vec<SecretReference> {
    let spec = &shop.spec;
    let mut references = Vec::new();
    for backend in Backend::ALL {
        if let Some(external) = build::backend_spec(shop, backend).external {
            references.push(SecretReference {
                field: format!("spec.{}.external.secretRef", backend_field(backend)),
                name: external.secret_ref.name.clone(),
                key: Some(external.secret_ref.key.clone()),
            });
        }
    }
    if let Some(jwt) = &spec.auth.jwt_secret_ref {
        references.push(SecretReference {
            field: "spec.auth.jwtSecretRef".to_owned(),
            name: jwt.name.clone(),
            key: Some(jwt.key.clone()),
        });
    }
    if let Some(legacy) = spec
        .payments
        .as_ref()
        .and_then(|payments| payments.legacy_secret())
    {
        references.push(SecretReference {
            field: "spec.payments".to_owned(),
            name: legacy.to_owned(),
            key: None,
        });
    }
    // The keys the settings' Secrets must hold (build::settings documents them).
    for (field, name, key) in crate::build::settings_secret_keys(shop) {
        references.push(SecretReference {
            field: field.to_owned(),
            name,
            key: Some(key.to_owned()),
        });
    }
    references
}

/// The claim the invoices are stored on, when the Shop names one.
pub fn invoice_claim_name(shop: &Shop) -> Option<&str> {
    shop.spec
        .invoices
        .storage
        .as_ref()?
        .volume
        .as_ref()
        .map(|volume| volume.claim_name.as_str())
}

/// The field of the Shop spec that holds `backend`.
pub fn backend_field(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "database",
        Backend::Redis => "redis",
        Backend::RabbitMq => "rabbitmq",
    }
}

/// Reads everything the later stages need.
pub async fn dereference(
    client: &Client,
    shop: &Shop,
    namespace: &str,
) -> Result<Found, DereferenceError> {
    let name = shop.name_any();
    let mut secrets = BTreeMap::new();
    for reference in secret_references(shop) {
        if let std::collections::btree_map::Entry::Vacant(entry) = secrets.entry(reference.name) {
            let secret = get::<Secret>(client, namespace, entry.key()).await?;
            entry.insert(secret);
        }
    }
    let credentials = if shop.spec.auth.jwt_secret_ref.is_none() {
        get::<Secret>(client, namespace, &names::credentials_secret(&name)).await?
    } else {
        None
    };
    let mut backends = Vec::new();
    for (backend, _) in build::managed_backends(shop) {
        let object = names::backend(&name, backend);
        backends.push(FoundBackend {
            backend,
            secret: get::<Secret>(client, namespace, &object).await?,
            stateful_set: get::<StatefulSet>(client, namespace, &object).await?,
        });
    }
    let migration_job = get::<Job>(
        client,
        namespace,
        &names::migration_job(&name, &shop.spec.version),
    )
    .await?;
    let api_deployment = get::<Deployment>(client, namespace, &names::api(&name)).await?;
    let service_monitor_crd =
        monitoring::crd_installed(client, shop.spec.monitoring.service_monitor).await?;
    let prometheus_rule_crd = monitoring::kind_installed::<PrometheusRule>(
        client,
        shop.spec.monitoring.prometheus_rule.enabled,
    )
    .await?;
    let invoice_claim = match invoice_claim_name(shop) {
        Some(claim) => get::<PersistentVolumeClaim>(client, namespace, claim)
            .await?
            .is_some(),
        None => true,
    };
    let operated = operated::dereference(client, shop, namespace).await?;
    Ok(Found {
        secrets,
        credentials,
        backends,
        migration_job,
        api_deployment,
        service_monitor_crd,
        prometheus_rule_crd,
        invoice_claim,
        operated,
    })
}
