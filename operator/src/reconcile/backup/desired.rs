//! Build: the Backup's claim and its CronJob or Job, decided from the validated Backup (pure).

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;

use super::validate::ValidatedBackup;
use crate::build::backup as build;

/// The objects of one Backup.
#[derive(Debug, Clone)]
pub struct DesiredBackup {
    /// The claim the operator creates when `storage.pvc.size` is set (never owned: backups
    /// outlive their Backup).
    pub claim: Option<PersistentVolumeClaim>,
    /// What runs the backups.
    pub runs: Runs,
}

/// How the backups run.
#[derive(Debug, Clone)]
pub enum Runs {
    /// On a schedule.
    Scheduled(Box<CronJob>),
    /// Once per generation of the Backup; any CronJob of ours is deleted.
    Once(Box<Job>),
}

/// Decides the Backup's objects with the Shop's running `version`.
pub fn desired(validated: &ValidatedBackup<'_>, version: &str) -> DesiredBackup {
    let backup = validated.backup;
    let shop = &validated.shop;
    DesiredBackup {
        claim: build::backup_claim(backup),
        runs: if backup.spec.schedule.is_some() {
            Runs::Scheduled(Box::new(build::backup_cron_job(backup, shop, version)))
        } else {
            Runs::Once(Box::new(build::backup_job(backup, shop, version)))
        },
    }
}

impl DesiredBackup {
    /// Every object applied, as JSON, in order: what `shop-operator render` prints.
    pub fn objects(&self) -> Vec<serde_json::Value> {
        let mut objects = Vec::new();
        if let Some(claim) = &self.claim {
            objects.push(serde_json::to_value(claim));
        }
        objects.push(match &self.runs {
            Runs::Scheduled(cron_job) => serde_json::to_value(cron_job.as_ref()),
            Runs::Once(job) => serde_json::to_value(job.as_ref()),
        });
        // Typed Kubernetes objects always serialise.
        objects.into_iter().filter_map(Result::ok).collect()
    }
}
