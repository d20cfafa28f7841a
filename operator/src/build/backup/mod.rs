//! A `Backup`'s objects: a CronJob (scheduled) or a Job (one backup now) running
//! `shop-api backup create` in the Shop's API image, and optionally the claim backups go to.
//! Also the pure half of the Backup's status: runs from Jobs and the reports their pods leave in
//! their termination messages.
//!
//! Each backup pod writes a one-line JSON report (`shop-api backup create --report-file`, fed by
//! `SHOP_BACKUP_REPORT_FILE`) to `/dev/termination-log`; Kubernetes copies that file into the
//! container's termination message, where the reconciler reads the size and location of each run
//! without any access to the storage itself.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvFromSource, EnvVar, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, Pod, PodSpec, PodTemplateSpec,
    SecretEnvSource, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::ResourceExt;
use serde::{Deserialize, Serialize};

use super::{
    API_SERVICE_NAME, SHOP_UID, controlled_meta, image, restricted_container_security,
    restricted_pod_security, shop_env, shop_env_from, tracing_env,
};
use crate::crd::{Backup, BackupRun, RunVerification, Shop};
use crate::{labels, names};

/// `app.kubernetes.io/name` of backup objects.
pub const APP: &str = "shop-backup";
/// `app.kubernetes.io/component` of backup objects.
pub const COMPONENT: &str = "backup";
/// Name of the backup container (whose termination message carries the report).
pub const CONTAINER: &str = "backup";
/// Where a PVC is mounted in the backup pod.
pub const PVC_MOUNT_PATH: &str = "/backups";
/// The file Kubernetes turns into the container's termination message.
pub const TERMINATION_LOG: &str = "/dev/termination-log";
/// Region of an S3 bucket whose Backup names none.
pub const DEFAULT_S3_REGION: &str = "us-east-1";
/// Runs kept in `status.history`.
pub const HISTORY_LIMIT: usize = 10;
/// Pod retries of one backup run before its Job fails.
pub const BACKOFF_LIMIT: i32 = 2;
/// Finished Jobs a CronJob keeps, each way (and so the runs the status can show).
pub const JOBS_HISTORY_LIMIT: i32 = 3;

/// Labels of every object of a Backup, and of its pods.
pub fn backup_labels(backup: &Backup) -> BTreeMap<String, String> {
    let mut labels = labels::full(APP, &backup.spec.shop_ref, COMPONENT, None);
    labels.insert(labels::BACKUP_LABEL.to_owned(), backup.name_any());
    labels
}

/// Labels that select a Backup's Jobs (and pods): the reconciler lists its runs with these.
pub fn backup_selector(backup: &Backup) -> BTreeMap<String, String> {
    let mut labels = labels::selector(APP, &backup.spec.shop_ref, COMPONENT);
    labels.insert(labels::BACKUP_LABEL.to_owned(), backup.name_any());
    labels
}

fn owned_meta(backup: &Backup, name: String) -> ObjectMeta {
    controlled_meta(backup, name, backup_labels(backup))
}

fn plain_env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

/// The claim a PVC-stored Backup mounts: the one it names, or the one the operator creates.
pub fn claim_name(backup: &Backup) -> Option<String> {
    let pvc = backup.spec.storage.pvc.as_ref()?;
    Some(
        pvc.claim_name
            .clone()
            .unwrap_or_else(|| names::backup_claim(&backup.name_any())),
    )
}

/// `shop-api backup create --target URL`: `file:///backups` for a claim, `s3://BUCKET/PREFIX`.
pub fn target_url(backup: &Backup) -> String {
    match &backup.spec.storage.s3 {
        Some(s3) => {
            let prefix = s3.prefix.as_deref().unwrap_or_default().trim_matches('/');
            if prefix.is_empty() {
                format!("s3://{}", s3.bucket)
            } else {
                format!("s3://{}/{prefix}", s3.bucket)
            }
        }
        None => format!("file://{PVC_MOUNT_PATH}"),
    }
}

/// Arguments of the backup container (the image's entrypoint is `shop-api`).
pub fn backup_args(backup: &Backup) -> Vec<String> {
    let mut args: Vec<String> = ["backup", "create", "--target"].map(str::to_owned).into();
    args.push(target_url(backup));
    let retention = backup.spec.retention.as_ref();
    let keep_last = retention.and_then(|retention| retention.keep_last);
    let max_age = retention.and_then(|retention| retention.max_age.as_ref());
    if keep_last.is_some() || max_age.is_some() {
        args.push("--prune".to_owned());
    }
    if let Some(keep_last) = keep_last {
        args.push("--keep-last".to_owned());
        args.push(keep_last.to_string());
    }
    if let Some(max_age) = max_age {
        args.push("--max-age".to_owned());
        args.push(max_age.clone());
    }
    if backup.spec.verify {
        args.push("--verify".to_owned());
    }
    args
}

/// The pod of one backup run.
pub fn backup_pod_template(backup: &Backup, shop: &Shop, version: &str) -> PodTemplateSpec {
    // DATABASE_URL and friends, from Secrets; then where the report goes.
    let mut env = shop_env(shop);
    env.push(plain_env("SHOP_BACKUP_REPORT_FILE", TERMINATION_LOG));
    env.extend(tracing_env(shop, &format!("{API_SERVICE_NAME}-backup")));
    let mut env_from = shop_env_from(shop);
    let mut volumes = vec![Volume {
        name: "tmp".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }];
    // /tmp is also where an S3 backup is staged before it is uploaded.
    let mut mounts = vec![VolumeMount {
        name: "tmp".to_owned(),
        mount_path: "/tmp".to_owned(),
        ..VolumeMount::default()
    }];

    if let Some(s3) = &backup.spec.storage.s3 {
        if let Some(endpoint) = &s3.endpoint {
            env.push(plain_env("SHOP_BACKUP_S3_ENDPOINT", endpoint));
        }
        env.push(plain_env(
            "AWS_REGION",
            s3.region.as_deref().unwrap_or(DEFAULT_S3_REGION),
        ));
        // AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: straight from the user's Secret, so that
        // no credential is ever part of the pod spec.
        env_from.push(EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: s3.secret_ref.name.clone(),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        });
    }
    if let Some(claim) = claim_name(backup) {
        volumes.push(Volume {
            name: "backups".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim,
                read_only: None,
            }),
            ..Volume::default()
        });
        mounts.push(VolumeMount {
            name: "backups".to_owned(),
            mount_path: PVC_MOUNT_PATH.to_owned(),
            ..VolumeMount::default()
        });
    }

    let pull_secrets = &shop.spec.image.pull_secrets;
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(backup_labels(backup)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: CONTAINER.to_owned(),
                image: Some(image(&shop.spec.image.api_repository, version)),
                image_pull_policy: Some(shop.spec.image.pull_policy.clone()),
                args: Some(backup_args(backup)),
                env: Some(env),
                env_from: Some(env_from),
                security_context: Some(restricted_container_security()),
                termination_message_path: Some(TERMINATION_LOG.to_owned()),
                termination_message_policy: Some("File".to_owned()),
                volume_mounts: Some(mounts),
                ..Container::default()
            }],
            restart_policy: Some("Never".to_owned()),
            automount_service_account_token: Some(false),
            security_context: Some(restricted_pod_security(SHOP_UID)),
            image_pull_secrets: (!pull_secrets.is_empty()).then(|| pull_secrets.clone()),
            volumes: Some(volumes),
            ..PodSpec::default()
        }),
    }
}

fn job_spec(backup: &Backup, shop: &Shop, version: &str) -> JobSpec {
    JobSpec {
        backoff_limit: Some(BACKOFF_LIMIT),
        template: backup_pod_template(backup, shop, version),
        ..JobSpec::default()
    }
}

/// The CronJob of a scheduled Backup (`spec.schedule` set; the reconciler builds a [`backup_job`]
/// otherwise). One run at a time: a backup that overruns its schedule delays the next one.
pub fn backup_cron_job(backup: &Backup, shop: &Shop, version: &str) -> CronJob {
    CronJob {
        metadata: owned_meta(backup, names::backup_cron_job(&backup.name_any())),
        spec: Some(CronJobSpec {
            schedule: backup.spec.schedule.clone().unwrap_or_default(),
            suspend: Some(backup.spec.suspend),
            concurrency_policy: Some("Forbid".to_owned()),
            successful_jobs_history_limit: Some(JOBS_HISTORY_LIMIT),
            failed_jobs_history_limit: Some(JOBS_HISTORY_LIMIT),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(backup_labels(backup)),
                    ..ObjectMeta::default()
                }),
                spec: Some(job_spec(backup, shop, version)),
            },
            ..CronJobSpec::default()
        }),
        ..CronJob::default()
    }
}

/// The Job of an unscheduled Backup: one backup of the current generation of its spec. A
/// suspended Backup's Job is created suspended (it starts when `suspend` is cleared).
pub fn backup_job(backup: &Backup, shop: &Shop, version: &str) -> Job {
    let name = names::backup_job(&backup.name_any(), backup.metadata.generation.unwrap_or(0));
    Job {
        metadata: owned_meta(backup, name),
        spec: Some(JobSpec {
            suspend: backup.spec.suspend.then_some(true),
            ..job_spec(backup, shop, version)
        }),
        ..Job::default()
    }
}

/// The claim the operator creates when `storage.pvc.size` is set.
///
/// It deliberately has no owner reference: deleting a Backup (or its Shop) must never take the
/// backups with it, because backups are what one restores from after exactly such a mistake. The
/// claim stays until someone deletes it; a new Backup of the same name mounts it again.
pub fn backup_claim(backup: &Backup) -> Option<PersistentVolumeClaim> {
    let pvc = backup.spec.storage.pvc.as_ref()?;
    let size = pvc.size.clone()?;
    Some(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(names::backup_claim(&backup.name_any())),
            namespace: backup.namespace(),
            labels: Some(backup_labels(backup)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), size)])),
                ..VolumeResourceRequirements::default()
            }),
            storage_class_name: pvc.storage_class_name.clone(),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    })
}

// ---------------------------------------------------------------------------------------------
// Schedules

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const FIELDS: [&str; 5] = ["minute", "hour", "day of month", "month", "day of week"];

/// Checks a schedule the way a CronJob reads it (the standard five fields of Go's
/// `robfig/cron`, which Kubernetes uses): numbers, `*`, ranges, lists, steps, month and weekday
/// names, `?` in the day fields, and the `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
/// `@midnight` and `@hourly` macros. The CRD's CEL rule checks only the shape; this also checks
/// the values (no minute 61), so that a bad schedule is reported on the Backup instead of failing
/// the CronJob. Extensions Kubernetes does not accept (`L`, `W`, `#`, seconds) are refused.
pub fn validate_schedule(schedule: &str) -> Result<(), String> {
    parse_schedule(schedule).map(drop)
}

/// The schedule as [`validate_schedule`] checks it, parsed.
fn parse_schedule(schedule: &str) -> Result<croner::Cron, String> {
    let invalid = |why: String| Err(format!("invalid schedule {schedule:?}: {why}"));
    let trimmed = schedule.trim();
    let expanded = match trimmed.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        macro_ if macro_.starts_with('@') => {
            return invalid(
                "the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly"
                    .to_owned(),
            );
        }
        _ => trimmed,
    };
    let fields: Vec<&str> = expanded.split_whitespace().collect();
    if fields.len() != 5 {
        return invalid(format!(
            "{} fields where five (minute hour day-of-month month day-of-week) are needed",
            fields.len()
        ));
    }
    for (index, field) in fields.iter().enumerate() {
        if let Err(why) = check_field(index, field) {
            return invalid(format!("{}: {why}", FIELDS[index]));
        }
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        // `5/15` (from 5, every 15) is valid for Kubernetes; croner calls that sloppy.
        .sloppy_ranges(true)
        .build()
        .parse(expanded)
        .or_else(|error| invalid(error.to_string()))
}

/// Runs looked at by [`schedule_interval_seconds`]: enough for a run every minute of one month
/// (the narrowest schedule whose longest gap is a year), bounded so that the answer is quick.
const INTERVAL_RUNS: usize = 100_000;

/// The longest gap, in seconds, a schedule allows between two runs (in UTC, as the CronJob
/// controller runs it by default): `86400` for `@daily`, the weekend for one on weekdays, four
/// years for the 29th of February. What an alert on the age of the last backup compares with.
/// `None` when the schedule is invalid or never runs.
pub fn schedule_interval_seconds(schedule: &str) -> Option<i64> {
    use chrono::TimeZone;
    let cron = parse_schedule(schedule).ok()?;
    // A fixed start makes the answer the same on every call; 2000 began a 28-year calendar
    // cycle, and nine years cover every leap-day gap (but 2100's).
    let start = chrono::Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single()?;
    let horizon = start + chrono::Duration::days(9 * 366);
    let mut longest = None;
    let mut previous: Option<chrono::DateTime<chrono::Utc>> = None;
    for run in cron.iter_after(start).take(INTERVAL_RUNS) {
        if let Some(previous) = previous {
            let gap = (run - previous).num_seconds();
            longest = Some(longest.map_or(gap, |longest: i64| longest.max(gap)));
        }
        if run > horizon {
            break;
        }
        previous = Some(run);
    }
    longest
}

/// The syntax of one field: comma-separated `*`, `?`, `A` or `A-B`, each optionally `/STEP`,
/// where values are numbers or (months and weekdays) three-letter names.
fn check_field(index: usize, field: &str) -> Result<(), String> {
    let names: &[&str] = match index {
        3 => &MONTHS,
        4 => &WEEKDAYS,
        _ => &[],
    };
    let value = |text: &str| -> Result<(), String> {
        let lower = text.to_ascii_lowercase();
        if text.is_empty() {
            Err(format!("{field:?} has an empty value"))
        } else if text.bytes().all(|byte| byte.is_ascii_digit()) {
            // croner accepts 7 for Sunday; Kubernetes does not.
            if index == 4 && text.parse::<u32>().map_or(true, |day| day > 6) {
                Err(format!(
                    "{text:?} is not a weekday: 0-6 (Sunday is 0) or SUN-SAT"
                ))
            } else {
                Ok(())
            }
        } else if names.contains(&lower.as_str()) {
            Ok(())
        } else {
            Err(format!("{text:?} is not a number or a name"))
        }
    };
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        if let Some(step) = step
            && (step.is_empty() || !step.bytes().all(|byte| byte.is_ascii_digit()))
        {
            return Err(format!("{part:?} has a step that is not a number"));
        }
        match range {
            "*" => {}
            "?" if index == 2 || index == 4 => {}
            _ => match range.split_once('-') {
                Some((low, high)) => {
                    value(low)?;
                    value(high)?;
                }
                None => value(range)?,
            },
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Status

/// What `shop-api backup create --report-file` writes: one line of JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupReport {
    /// The backup's id, as `shop-api backup list` shows it.
    pub id: String,
    /// Full URL of the stored data file (`s3://...` or `file:///backups/...`).
    pub location: String,
    /// Size of the stored data file.
    pub size_bytes: i64,
    /// When the backup was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,
    /// The outcome of `--verify` (absent without it, and in reports of older images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<RunVerification>,
}

/// The report in a termination message: its last non-empty line, when that is a report.
/// Anything else (a crash's message, a truncated line) is no report.
pub fn parse_report(termination_message: &str) -> Option<BackupReport> {
    let line = termination_message
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())?;
    serde_json::from_str(line).ok()
}

/// Reports of finished backup pods, keyed by the Job that ran them (the `job-name` label the Job
/// controller puts on its pods). Only a `backup` container that exited 0 reports.
pub fn reports_from_pods(pods: &[Pod]) -> BTreeMap<String, BackupReport> {
    pods.iter()
        .filter_map(|pod| {
            let labels = pod.metadata.labels.as_ref()?;
            let job = labels
                .get("batch.kubernetes.io/job-name")
                .or_else(|| labels.get("job-name"))?;
            let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
            let terminated = statuses
                .iter()
                .find(|status| status.name == CONTAINER)?
                .state
                .as_ref()?
                .terminated
                .as_ref()
                .filter(|terminated| terminated.exit_code == 0)?;
            let report = parse_report(terminated.message.as_deref()?)?;
            Some((job.clone(), report))
        })
        .collect()
}

fn true_condition<'a>(
    job: &'a Job,
    type_: &str,
) -> Option<&'a k8s_openapi::api::batch::v1::JobCondition> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == type_ && condition.status == "True")
}

/// The runs of a Backup, newest first, at most [`HISTORY_LIMIT`]: `Succeeded` (the Job's
/// `Complete` condition; time of completion, size, location and verification from the run's
/// report when there is one), `Failed` (its `Failed` condition; time of failure) or `Running` (time it started).
/// Runs are ordered by when they started; a Job that has neither started nor been created on a
/// server (no time at all) is left out.
pub fn backup_runs(jobs: &[Job], reports: &BTreeMap<String, BackupReport>) -> Vec<BackupRun> {
    let mut runs: Vec<(Time, BackupRun)> = jobs
        .iter()
        .filter_map(|job| {
            let name = job.metadata.name.clone()?;
            let status = job.status.as_ref();
            let started = status
                .and_then(|status| status.start_time.clone())
                .or_else(|| job.metadata.creation_timestamp.clone())?;
            let completed = status.and_then(|status| status.completion_time.clone());
            let (outcome, time) = if let Some(condition) = true_condition(job, "Complete") {
                let time = completed.or_else(|| condition.last_transition_time.clone());
                ("Succeeded", time)
            } else if let Some(condition) = true_condition(job, "Failed") {
                let time = condition.last_transition_time.clone().or(completed);
                ("Failed", time)
            } else {
                ("Running", None)
            };
            let report = (outcome == "Succeeded")
                .then(|| reports.get(&name))
                .flatten();
            // From the Job's own start (not its creation: a suspended Job waits uncounted).
            let duration_seconds = match (status.and_then(|s| s.start_time.as_ref()), &time) {
                (Some(start), Some(end)) => Some((end.0.as_second() - start.0.as_second()).max(0)),
                _ => None,
            };
            let run = BackupRun {
                job: name,
                time: time.unwrap_or_else(|| started.clone()),
                outcome: outcome.to_owned(),
                size_bytes: report.map(|report| report.size_bytes),
                location: report.map(|report| report.location.clone()),
                duration_seconds,
                verification: report.and_then(|report| report.verification.clone()),
            };
            Some((started, run))
        })
        .collect();
    runs.sort_by(|(a, run_a), (b, run_b)| b.cmp(a).then_with(|| run_b.job.cmp(&run_a.job)));
    runs.into_iter()
        .take(HISTORY_LIMIT)
        .map(|(_, run)| run)
        .collect()
}

#[cfg(test)]
mod tests;
