//! Dereference: the Backup's Shop, its S3 credentials Secret, its runs (Jobs) and their pods.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret};
use kube::{Client, ResourceExt};

use crate::build::backup as build;
use crate::crd::{Backup, Shop};
use crate::labels;
use crate::names;
use crate::reconcile::dereference::{DereferenceError, get, list};
use crate::reconcile::validate::SecretReference;

/// What the cluster holds for one Backup.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The Shop `spec.shopRef` names.
    pub shop: Option<Shop>,
    /// The Secrets the spec names, by name; `None` when absent.
    pub secrets: BTreeMap<String, Option<Secret>>,
    /// The Job of this generation (a one-off Backup), when it exists.
    pub job: Option<Job>,
    /// Whether the claim the operator creates for the Backup (`storage.pvc.size`) exists.
    pub claim_exists: bool,
    /// Every run of this Backup.
    pub runs: Runs,
}

/// A Backup's Jobs and their pods.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    /// The Jobs (one per run).
    pub jobs: Vec<Job>,
    /// Their pods, whose termination messages carry the reports.
    pub pods: Vec<Pod>,
}

/// The Secrets the Backup's spec names.
pub fn secret_references(backup: &Backup) -> Vec<SecretReference> {
    // The backup pod reads the whole Secret as its environment; these are the keys it needs.
    let keys = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];
    backup
        .spec
        .storage
        .s3
        .iter()
        .flat_map(|s3| {
            keys.map(|key| SecretReference {
                field: "spec.storage.s3.secretRef".to_owned(),
                name: s3.secret_ref.name.clone(),
                key: Some(key.to_owned()),
            })
        })
        .collect()
}

/// Reads everything the later stages need.
pub async fn dereference(
    client: &Client,
    backup: &Backup,
    namespace: &str,
) -> Result<Found, DereferenceError> {
    let shop = get::<Shop>(client, namespace, &backup.spec.shop_ref).await?;
    let mut secrets = BTreeMap::new();
    for reference in secret_references(backup) {
        let secret = get::<Secret>(client, namespace, &reference.name).await?;
        secrets.insert(reference.name, secret);
    }
    let job_name = names::backup_job(&backup.name_any(), backup.metadata.generation.unwrap_or(0));
    let job = if backup.spec.schedule.is_none() {
        get::<Job>(client, namespace, &job_name).await?
    } else {
        None
    };
    let claim_exists = match build::backup_claim(backup) {
        Some(claim) => get::<PersistentVolumeClaim>(client, namespace, &claim.name_any())
            .await?
            .is_some(),
        None => false,
    };
    Ok(Found {
        shop,
        secrets,
        job,
        claim_exists,
        runs: runs(client, backup, namespace).await?,
    })
}

/// The Backup's runs as they are now.
pub async fn runs(
    client: &Client,
    backup: &Backup,
    namespace: &str,
) -> Result<Runs, DereferenceError> {
    let selector = labels::to_selector_string(&build::backup_selector(backup));
    Ok(Runs {
        jobs: list::<Job>(client, namespace, &selector).await?,
        pods: list::<Pod>(client, namespace, &selector).await?,
    })
}
