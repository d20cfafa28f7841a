//! `Backup`: scheduled or one-off database backups of a `Shop`.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::SecretRef;

/// Five cron fields (minute hour day-of-month month day-of-week) or a `@` macro, as CronJobs accept.
const CRON_RULE: &str = r"self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|([0-9*,/?-]+|[0-9*,/?-]*[A-Za-z]{3}[A-Za-z0-9*,/?-]*)(\\s+([0-9*,/?-]+|[0-9*,/?-]*[A-Za-z]{3}[A-Za-z0-9*,/?-]*)){4})$')";

/// Desired backups of one shop's database.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "shop.dev",
    version = "v1alpha1",
    kind = "Backup",
    namespaced,
    status = "BackupStatus",
    shortname = "sbk",
    category = "shop",
    printcolumn = r#"{"name":"Shop","type":"string","jsonPath":".spec.shopRef"}"#,
    printcolumn = r#"{"name":"Schedule","type":"string","jsonPath":".spec.schedule"}"#,
    printcolumn = r#"{"name":"Last Backup","type":"date","jsonPath":".status.lastSuccessfulBackup.time"}"#,
    printcolumn = r#"{"name":"Verification","type":"string","priority":1,"jsonPath":".status.lastSuccessfulBackup.verification.outcome"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("size(self.metadata.name) <= 40").message("a Backup's name must be at most 40 characters")
)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// Name of the Shop (same namespace) whose database is backed up.
    #[schemars(length(min = 1, max = 63))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("shopRef is immutable"))]
    pub shop_ref: String,
    /// Cron schedule in five fields (e.g. `0 3 * * *`); absent means one backup now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    #[x_kube(validation = Rule::new(CRON_RULE).message("schedule must be five cron fields (minute hour day month weekday) or @daily, @hourly, ..."))]
    pub schedule: Option<String>,
    /// Which old backups to delete after each new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// Where backups are stored.
    pub storage: BackupStorage,
    /// Stop scheduling new backups.
    #[serde(default)]
    pub suspend: bool,
    /// After each backup, restore it into a scratch database and compare row counts with its
    /// manifest (`shop-api backup create --verify`). On Postgres the scratch database
    /// (`shop_verify_*`) is created on the Shop's database server, so its user needs CREATEDB.
    /// A backup that fails verification is kept, and shown in the status.
    #[serde(default)]
    pub verify: bool,
}

/// Retention policy: a backup is deleted only when no rule keeps it; the newest is always kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.keepLast) || has(self.maxAge)").message("retention needs keepLast, maxAge or both"))]
pub struct Retention {
    /// Keep the N newest backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self > 0").message("keepLast must be greater than 0"))]
    pub keep_last: Option<i32>,
    /// Keep backups younger than this: `30d`, `12h`, `45m`, `2w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 7))]
    #[x_kube(validation = Rule::new(r"self.matches('^[1-9][0-9]{0,5}[mhdw]$')").message("maxAge must be a number and a unit: 45m, 12h, 30d or 2w"))]
    pub max_age: Option<String>,
}

/// Backup storage: exactly one of `pvc` or `s3`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.pvc) != has(self.s3)").message("set exactly one of storage.pvc or storage.s3"))]
pub struct BackupStorage {
    /// A PersistentVolumeClaim mounted into the backup Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<PvcStorage>,
    /// An S3-compatible bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Storage>,
}

/// A volume for backups: an existing claim, or one the operator creates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.claimName) != has(self.size)").message("set exactly one of claimName (an existing claim) or size (a new one)"))]
pub struct PvcStorage {
    /// An existing PersistentVolumeClaim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
    /// Size of a claim the operator creates (kept when the Backup is deleted). Immutable: the
    /// claim is made once; to grow it, resize the claim itself, if its StorageClass allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("storage.pvc.size is immutable: the operator creates the claim once; to grow it, resize the PersistentVolumeClaim itself"))]
    pub size: Option<Quantity>,
    /// StorageClass of a claim the operator creates. Immutable, as a claim's class is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("storage.pvc.storageClassName is immutable, as a claim's class is"))]
    pub storage_class_name: Option<String>,
}

/// An S3-compatible bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct S3Storage {
    /// Endpoint URL for S3-compatible stores (MinIO, Ceph...); AWS when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 8, max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("endpoint must be an http:// or https:// URL"))]
    pub endpoint: Option<String>,
    /// Bucket name.
    #[schemars(length(min = 3, max = 63))]
    pub bucket: String,
    /// Key prefix inside the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Region; `us-east-1` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Secret with `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub secret_ref: SecretRef,
}

/// Observed state of a backup.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// The generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the schedule or Job is in place), `LastBackupSucceeded` and, once a run was
    /// verified, `LastBackupVerified`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// When the CronJob last started a Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// The newest backup that completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_backup: Option<BackupRun>,
    /// The most recent runs, newest first (at most ten).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<BackupRun>,
}

/// One backup Job's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupRun {
    /// The Job that ran it.
    pub job: String,
    /// When it finished (or started, while it runs).
    pub time: Time,
    /// `Succeeded`, `Failed` or `Running`.
    pub outcome: String,
    /// Size of the stored backup, when it succeeded and reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Where the backup is stored, when it succeeded and reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Seconds from the Job's start to its completion or failure, once it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
    /// The outcome of verifying the stored backup (`spec.verify`), when the run reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<RunVerification>,
}

/// Whether a run's backup passed verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunVerification {
    /// `Verified` or `Failed`.
    pub outcome: String,
    /// Why verification failed, as the verify step said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
