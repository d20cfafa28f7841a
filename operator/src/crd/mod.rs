//! The custom resources: `Shop`, `Worker`, `Backup` and `Restore` in `shop.dev/v1alpha1`.
//!
//! The Rust types are the source of truth: `shop-operator crd` prints the CRDs derived from them,
//! and `crds/` holds that output (a test fails when it is stale). Rules a structural schema cannot
//! express (exactly one of two fields, immutability, cron syntax) are CEL `x-kubernetes-validations`
//! evaluated by the API server.

mod backends;
mod backup;
mod common;
mod restore;
mod settings;
mod shop;
mod worker;

pub use backends::{
    CloudNativePgMonitoring, CloudNativePgSpec, DatabaseSpec, RabbitmqClusterSpec, RabbitmqSpec,
};
pub use backup::{
    Backup, BackupRun, BackupSpec, BackupStatus, BackupStorage, PvcStorage, Retention,
    RunVerification, S3Storage,
};
pub use common::{AutoscalingSpec, NamedSecretKey, SecretKeyRef, SecretRef};
pub use restore::{
    MAINTENANCE_ANNOTATION, PhaseRecord, RESTORE_FROM_ANNOTATION, Restore, RestoreMode,
    RestorePhase, RestoreSource, RestoreSpec, RestoreStatus,
};
pub use settings::{
    CommerceSpec, InvoiceS3Storage, InvoiceStorage, InvoiceVolumeStorage, InvoicesSpec,
    NotificationsSpec, PaymentProvider, PaymentsSpec, SmtpSpec,
};
pub use shop::{
    ApiSpec, AuthSpec, BackendSpec, ExternalBackend, ImageSpec, IngressSpec, LogFormat,
    ManagedBackend, MonitoringSpec, NetworkPolicySpec, PrometheusRuleSpec, ServiceSpec,
    ServiceType, Shop, ShopEndpoints, ShopSpec, ShopStatus, StorageSpec, TracingSpec,
};
pub use worker::{Worker, WorkerSpec, WorkerStatus, WorkerType};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group of every custom resource of the platform.
pub const GROUP: &str = "shop.dev";

/// All CRDs, in the order `shop-operator crd` prints them.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![Shop::crd(), Worker::crd(), Backup::crd(), Restore::crd()]
}

/// Each CRD as a file name (kubebuilder's `GROUP_PLURAL.yaml`) and YAML: exactly what `crds/` holds.
pub fn files() -> Result<Vec<(String, String)>, serde_yaml::Error> {
    all()
        .into_iter()
        .map(|crd| {
            let file = format!("{GROUP}_{}.yaml", crd.spec.names.plural);
            Ok((file, serde_yaml::to_string(&crd)?))
        })
        .collect()
}

/// The CRDs as one multi-document YAML stream.
pub fn all_as_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for (_, yaml) in files()? {
        out.push_str("---\n");
        out.push_str(&yaml);
    }
    Ok(out)
}
