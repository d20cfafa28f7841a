//! Reconciles a `Backup`: a CronJob (scheduled) or a Job (run once) of `shop-api backup create`
//! with the Shop's database credentials, and a status built from the Jobs' outcomes and the
//! reports their pods leave in their termination messages.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::ListParams;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use crate::apply::{apply, delete_owned, write_status};
use crate::build::backup as build;
use crate::conditions::{self, Observed};
use crate::context::Context;
use crate::crd::{Backup, BackupStatus, Shop};
use crate::error::{Error, Result};
use crate::labels;
use crate::names;
use crate::reconcile::shop::{JobState, job_state};

/// How soon to look again while a run is in progress or the Shop is not ready.
const WAITING_REQUEUE: Duration = Duration::from_secs(30);
/// How soon to look again otherwise: new runs of a CronJob also wake the controller (it owns
/// the CronJob, not the Jobs the CronJob creates).
const STEADY_REQUEUE: Duration = Duration::from_secs(120);

/// Brings the cluster in line with one Backup.
pub async fn reconcile(backup: Arc<Backup>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = backup
        .namespace()
        .ok_or_else(|| Error::InvalidSpec("a Backup is namespaced".to_owned()))?;
    let mut status = backup.status.clone().unwrap_or_default();
    let mut observed = Vec::new();
    let mut requeue = Some(WAITING_REQUEUE);
    let shop_ref = &backup.spec.shop_ref;
    let shop = Api::<Shop>::namespaced(ctx.client.clone(), &namespace)
        .get_opt(shop_ref)
        .await?;
    let schedule_error = backup
        .spec
        .schedule
        .as_deref()
        .map(build::validate_schedule);

    match (shop, schedule_error) {
        (_, Some(Err(message))) => {
            // Nothing to retry until the spec changes.
            requeue = None;
            observed.push(Observed::no("Ready", "InvalidSchedule", message));
        }
        (None, _) => observed.push(Observed::no(
            "Ready",
            "ShopNotFound",
            format!("Shop {shop_ref} does not exist"),
        )),
        (Some(shop), _) => match shop.status.as_ref().and_then(|s| s.running_version.clone()) {
            None => observed.push(Observed::no(
                "Ready",
                "WaitingForShop",
                format!("Shop {shop_ref} has not finished its first migration"),
            )),
            Some(version) => {
                observed.push(apply_runs(&ctx, &backup, &shop, &version, &mut status).await?);
                let running = status
                    .history
                    .first()
                    .is_some_and(|run| run.outcome == "Running");
                if !running {
                    requeue = Some(STEADY_REQUEUE);
                }
            }
        },
    }

    let jobs = list_runs(&ctx, &backup, &namespace).await?;
    let pods = list_pods(&ctx, &backup, &namespace).await?;
    status.history = build::backup_runs(&jobs, &build::reports_from_pods(&pods));
    if let Some(latest) = status.history.iter().find(|run| run.outcome == "Succeeded") {
        status.last_successful_backup = Some(latest.clone());
    }
    if let Some(finished) = status.history.iter().find(|run| run.outcome != "Running") {
        let job = &finished.job;
        observed.push(if finished.outcome == "Succeeded" {
            Observed::yes(
                "LastBackupSucceeded",
                "Succeeded",
                format!("Job {job} succeeded"),
            )
        } else {
            Observed::no(
                "LastBackupSucceeded",
                "Failed",
                format!("Job {job} failed; see its logs"),
            )
        });
    }
    status.observed_generation = backup.metadata.generation;
    status.conditions = conditions::merge(
        &status.conditions,
        &observed,
        backup.metadata.generation,
        Timestamp::now(),
    );
    write_status(&ctx.client, &*backup, backup.status.as_ref(), &status).await?;
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Applies the claim and the CronJob or Job; returns the `Ready` condition.
async fn apply_runs(
    ctx: &Context,
    backup: &Backup,
    shop: &Shop,
    version: &str,
    status: &mut BackupStatus,
) -> Result<Observed> {
    let client = &ctx.client;
    let namespace = backup.namespace().unwrap_or_default();
    let uid = backup.uid().unwrap_or_default();
    let cron_job_name = names::backup_cron_job(&backup.name_any());
    if let Some(claim) = build::backup_claim(backup) {
        apply(client, &claim).await?;
    }
    if backup.spec.schedule.is_some() {
        let (cron_job, _) = apply(client, &build::backup_cron_job(backup, shop, version)).await?;
        status.last_schedule_time = cron_job.status.and_then(|status| status.last_schedule_time);
        let schedule = backup.spec.schedule.as_deref().unwrap_or_default();
        return Ok(if backup.spec.suspend {
            Observed::no(
                "Ready",
                "Suspended",
                format!("schedule {schedule} is suspended"),
            )
        } else {
            Observed::yes(
                "Ready",
                "Scheduled",
                format!("backups run on schedule {schedule}"),
            )
        });
    }
    delete_owned::<CronJob>(client, &namespace, &cron_job_name, &uid).await?;
    let job = build::backup_job(backup, shop, version);
    let job_name = job.name_any();
    let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
    // A Job's pod template is immutable: a Job that exists is left as it is, whatever the Shop
    // did since (a new run needs a new generation of the Backup, which names a new Job).
    if jobs.get_opt(&job_name).await?.is_none() {
        apply(client, &job).await?;
        // Runs of earlier generations that never started (created suspended) are superseded.
        for old in list_runs(ctx, backup, &namespace).await? {
            let never_started = old
                .status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .is_none();
            let suspended = old.spec.as_ref().and_then(|spec| spec.suspend) == Some(true);
            if old.name_any() != job_name && never_started && suspended {
                delete_owned::<Job>(client, &namespace, &old.name_any(), &uid).await?;
            }
        }
    }
    let live = jobs.get_opt(&job_name).await?;
    Ok(match live.as_ref().map(job_state) {
        _ if backup.spec.suspend => Observed::no(
            "Ready",
            "Suspended",
            format!("Job {job_name} waits until suspend is cleared"),
        ),
        Some(JobState::Running) | None => {
            Observed::yes("Ready", "Running", format!("Job {job_name} is backing up"))
        }
        Some(JobState::Succeeded) => {
            Observed::yes("Ready", "Completed", format!("Job {job_name} completed"))
        }
        Some(JobState::Failed) => Observed::no("Ready", "Failed", format!("Job {job_name} failed")),
    })
}

async fn list_runs(ctx: &Context, backup: &Backup, namespace: &str) -> Result<Vec<Job>> {
    let selector = labels::to_selector_string(&build::backup_selector(backup));
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), namespace);
    Ok(jobs
        .list(&ListParams::default().labels(&selector))
        .await?
        .items)
}

async fn list_pods(ctx: &Context, backup: &Backup, namespace: &str) -> Result<Vec<Pod>> {
    let selector = labels::to_selector_string(&build::backup_selector(backup));
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    Ok(pods
        .list(&ListParams::default().labels(&selector))
        .await?
        .items)
}
