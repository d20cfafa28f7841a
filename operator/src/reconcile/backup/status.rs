//! Status: `Ready` from the CronJob or Job, the run history with the reports the pods left, the
//! last successful backup, `LastBackupSucceeded` and `LastBackupVerified`.

use super::apply::Applied;
use super::dereference::Runs;
use super::validate::ValidatedBackup;
use crate::build::backup as build;
use crate::conditions::{ConditionType, Observed};
use crate::crd::{BackupRun, BackupStatus};
use crate::reconcile::observe::{JobState, job_state};
use kube::ResourceExt;

/// The `Ready` condition of a pass that applied the runs; fills the schedule time.
pub fn ready(
    validated: &ValidatedBackup<'_>,
    applied: &Applied,
    status: &mut BackupStatus,
) -> Observed {
    let backup = validated.backup;
    match applied {
        Applied::Scheduled(cron_job) => {
            status.last_schedule_time = cron_job
                .status
                .as_ref()
                .and_then(|status| status.last_schedule_time.clone());
            let schedule = backup.spec.schedule.as_deref().unwrap_or_default();
            if backup.spec.suspend {
                Observed::no(
                    ConditionType::Ready,
                    "Suspended",
                    format!("schedule {schedule} is suspended"),
                )
            } else {
                Observed::yes(
                    ConditionType::Ready,
                    "Scheduled",
                    format!("backups run on schedule {schedule}"),
                )
            }
        }
        Applied::Once(job) => {
            let name = job.name_any();
            match job_state(job) {
                _ if backup.spec.suspend => Observed::no(
                    ConditionType::Ready,
                    "Suspended",
                    format!("Job {name} waits until suspend is cleared"),
                ),
                JobState::Running => Observed::yes(
                    ConditionType::Ready,
                    "Running",
                    format!("Job {name} is backing up"),
                ),
                JobState::Succeeded => Observed::yes(
                    ConditionType::Ready,
                    "Completed",
                    format!("Job {name} completed"),
                ),
                JobState::Failed => {
                    Observed::no(ConditionType::Ready, "Failed", format!("Job {name} failed"))
                }
            }
        }
    }
}

/// Fills the history and the last successful backup from `runs`; returns
/// `LastBackupSucceeded` once a run has finished.
pub fn history(runs: &Runs, status: &mut BackupStatus) -> Option<Observed> {
    status.history = build::backup_runs(&runs.jobs, &build::reports_from_pods(&runs.pods));
    if let Some(latest) = status.history.iter().find(|run| run.outcome == "Succeeded") {
        status.last_successful_backup = Some(latest.clone());
    }
    let finished = status.history.iter().find(|run| run.outcome != "Running")?;
    let job = &finished.job;
    Some(if finished.outcome == "Succeeded" {
        Observed::yes(
            ConditionType::LastBackupSucceeded,
            "Succeeded",
            format!("Job {job} succeeded"),
        )
    } else {
        Observed::no(
            ConditionType::LastBackupSucceeded,
            "Failed",
            format!("Job {job} failed; see its logs"),
        )
    })
}

/// Reason of `LastBackupVerified=False` and of the Warning Event of a failed verification.
pub const VERIFICATION_FAILED: &str = "VerificationFailed";

/// `LastBackupVerified` from the newest successful backup, once one carries a verification
/// (`spec.verify`); `None` before that.
pub fn verification(status: &BackupStatus) -> Option<Observed> {
    let run = status.last_successful_backup.as_ref()?;
    let verification = run.verification.as_ref()?;
    let what = describe(run);
    Some(if verification.outcome == "Verified" {
        Observed::yes(
            ConditionType::LastBackupVerified,
            "Verified",
            format!("{what} passed verification"),
        )
    } else {
        let why = verification
            .message
            .as_deref()
            .unwrap_or("no reason given; see the Job's logs");
        Observed::no(
            ConditionType::LastBackupVerified,
            VERIFICATION_FAILED,
            format!("{what} failed verification (the backup is kept): {why}"),
        )
    })
}

/// `the backup of Job J (LOCATION)`: which run, and where its backup is.
fn describe(run: &BackupRun) -> String {
    match &run.location {
        Some(location) => format!("the backup of Job {} ({location})", run.job),
        None => format!("the backup of Job {}", run.job),
    }
}
