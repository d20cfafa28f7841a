//! Apply: the claim, then the CronJob, or the Job of this generation. A Job's pod template is
//! immutable, so an existing Job is left as it is whatever the Shop did since (a new run needs a
//! new generation of the Backup, which names a new Job).

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::ResourceExt;

use super::desired::{DesiredBackup, Runs};
use super::validate::ValidatedBackup;
use crate::apply::{apply, delete_owned};
use crate::context::Context;
use crate::error::Result;
use crate::names;

/// What the API server answered.
#[derive(Debug)]
pub enum Applied {
    /// The CronJob.
    Scheduled(Box<CronJob>),
    /// The Job of this generation.
    Once(Box<Job>),
}

/// Applies `desired`.
pub async fn apply_all(
    ctx: &Context,
    validated: &ValidatedBackup<'_>,
    desired: &DesiredBackup,
) -> Result<Applied> {
    let client = &ctx.client;
    let backup = validated.backup;
    let namespace = &validated.namespace;
    let uid = backup.uid().unwrap_or_default();
    // The claim is created once: re-applying it would undo a size someone grew it to by hand
    // (a shrink, which the API server refuses), and its spec is immutable in the Backup anyway.
    if let (Some(claim), false) = (&desired.claim, validated.found.claim_exists) {
        apply(client, claim).await?;
    }
    match &desired.runs {
        Runs::Scheduled(cron_job) => {
            let (cron_job, _) = apply(client, cron_job.as_ref()).await?;
            Ok(Applied::Scheduled(Box::new(cron_job)))
        }
        Runs::Once(job) => {
            let cron_job = names::backup_cron_job(&backup.name_any());
            delete_owned::<CronJob>(client, namespace, &cron_job, &uid).await?;
            if let Some(existing) = &validated.found.job {
                return Ok(Applied::Once(Box::new(existing.clone())));
            }
            let (created, _) = apply(client, job.as_ref()).await?;
            // Runs of earlier generations that never started (created suspended) are superseded.
            for old in &validated.found.runs.jobs {
                let never_started = old
                    .status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .is_none();
                let suspended = old.spec.as_ref().and_then(|spec| spec.suspend) == Some(true);
                if old.name_any() != created.name_any() && never_started && suspended {
                    delete_owned::<Job>(client, namespace, &old.name_any(), &uid).await?;
                }
            }
            Ok(Applied::Once(Box::new(created)))
        }
    }
}
