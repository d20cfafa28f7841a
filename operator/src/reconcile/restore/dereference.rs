//! Dereference: the Restore's Shop, its Backup and S3 credentials, its Jobs, and the Deployments
//! whose state maintenance waits for (the Shop's API and Workers).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;

use super::desired::restore_selector;
use crate::build::worker as worker_build;
use crate::crd::{Backup, Restore, Shop};
use crate::labels;
use crate::names;
use crate::reconcile::dereference::{DereferenceError, get, list};

/// What the cluster holds for one Restore.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The Shop `spec.shopRef` names.
    pub shop: Option<Shop>,
    /// The Backup `spec.source.backupRef` names, when it names one and it exists.
    pub backup: Option<Backup>,
    /// The S3 credentials Secret of the backup's storage, by name; `None` when absent.
    pub secrets: BTreeMap<String, Option<Secret>>,
    /// The Restore's Jobs.
    pub jobs: Vec<Job>,
    /// The Shop's API Deployment.
    pub api: Option<Deployment>,
    /// The Deployments of the Shop's Workers.
    pub workers: Vec<Deployment>,
}

/// Reads everything the later stages need.
pub async fn dereference(
    client: &Client,
    restore: &Restore,
    namespace: &str,
) -> Result<Found, DereferenceError> {
    let shop_name = &restore.spec.shop_ref;
    let shop = get::<Shop>(client, namespace, shop_name).await?;
    let backup = match &restore.spec.source.backup_ref {
        Some(name) => get::<Backup>(client, namespace, name).await?,
        None => None,
    };
    let storage = restore
        .spec
        .source
        .storage
        .as_ref()
        .or(backup.as_ref().map(|backup| &backup.spec.storage));
    let mut secrets = BTreeMap::new();
    if let Some(s3) = storage.and_then(|storage| storage.s3.as_ref()) {
        let name = s3.secret_ref.name.clone();
        let secret = get::<Secret>(client, namespace, &name).await?;
        secrets.insert(name, secret);
    }
    let selector = labels::to_selector_string(&restore_selector(restore));
    let workers = labels::selector(worker_build::APP, shop_name, worker_build::COMPONENT);
    Ok(Found {
        shop,
        backup,
        secrets,
        jobs: list::<Job>(client, namespace, &selector).await?,
        api: get::<Deployment>(client, namespace, &names::api(shop_name)).await?,
        workers: list::<Deployment>(client, namespace, &labels::to_selector_string(&workers))
            .await?,
    })
}
