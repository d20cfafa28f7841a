//! `Restore`: puts a stored backup back into a Shop's database, in place (the Shop in read-only
//! maintenance meanwhile) or into a new Shop before its API first starts.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::backup::BackupStorage;

/// Annotation on a Shop while a Restore works on it in place; its value names the Restore. The
/// Shop's API pods get `SHOP_MAINTENANCE=read-only` and its Workers scale to zero while it is set.
/// Removing it by hand (`kubectl annotate shop NAME shop.dev/maintenance-`) ends the maintenance.
pub const MAINTENANCE_ANNOTATION: &str = "shop.dev/maintenance";

/// Annotation a new Shop is created with to be filled from a backup first: its value names the
/// `intoNewShop` Restore. While it is set and the Shop has never run, the Shop migrates nothing
/// and starts no API; the Restore removes it once the backup is restored.
pub const RESTORE_FROM_ANNOTATION: &str = "shop.dev/restore-from";

/// One restore of one backup into one Shop's database. Its spec is immutable: a Restore runs
/// once; to run another, create another.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "shop.dev",
    version = "v1alpha1",
    kind = "Restore",
    namespaced,
    status = "RestoreStatus",
    shortname = "srs",
    category = "shop",
    printcolumn = r#"{"name":"Shop","type":"string","jsonPath":".spec.shopRef"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Backup","type":"string","jsonPath":".status.backupId"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("size(self.metadata.name) <= 40").message("a Restore's name must be at most 40 characters")
)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSpec {
    /// Name of the Shop (same namespace) whose database is restored.
    #[schemars(length(min = 1, max = 63))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("a Restore's spec is immutable: create a new Restore"))]
    pub shop_ref: String,
    /// Which backup.
    #[x_kube(validation = Rule::new("self == oldSelf").message("a Restore's spec is immutable: create a new Restore"))]
    pub source: RestoreSource,
    /// `inPlace`: replace the database of a running Shop, which is read-only meanwhile.
    /// `intoNewShop`: fill the database of a Shop created with the annotation
    /// `shop.dev/restore-from: <this Restore>`, before its API first starts.
    #[x_kube(validation = Rule::new("self == oldSelf").message("a Restore's spec is immutable: create a new Restore"))]
    pub mode: RestoreMode,
}

/// How a restore treats its Shop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RestoreMode {
    /// Replace the database of a running Shop.
    InPlace,
    /// Fill the database of a new Shop before its API starts.
    IntoNewShop,
}

impl RestoreMode {
    /// As written in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InPlace => "inPlace",
            Self::IntoNewShop => "intoNewShop",
        }
    }
}

/// A backup: a run of a `Backup` of this namespace, or a backup id in a storage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.backupRef) != has(self.backupId)").message("set exactly one of source.backupRef (with an optional run) or source.backupId (with storage)"))]
#[x_kube(validation = Rule::new("has(self.backupId) == has(self.storage)").message("source.backupId and source.storage go together"))]
#[x_kube(validation = Rule::new("!has(self.run) || has(self.backupRef)").message("source.run names a run of source.backupRef"))]
pub struct RestoreSource {
    /// A Backup (same namespace): its storage, and its runs in `status.history`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub backup_ref: Option<String>,
    /// The Job of the run to restore (`kubectl get backup NAME -o yaml`: `status.history[].job`);
    /// absent means the Backup's last successful backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub run: Option<String>,
    /// A backup id, as `shop-api backup list` shows it (e.g. from a Backup that was deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    #[x_kube(validation = Rule::new(r"self.matches('^[A-Za-z0-9][A-Za-z0-9._-]*$')").message("backupId is an id as `shop-api backup list` shows it"))]
    pub backup_id: Option<String>,
    /// Where `backupId` is stored: the same shape as a Backup's `spec.storage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<BackupStorage>,
}

/// Where a restore is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum RestorePhase {
    /// Waiting for its Shop, its backup or another Restore of the same Shop.
    Pending,
    /// A Job checks the backup (checksum, and a restore into a scratch database) before
    /// anything is touched.
    Verifying,
    /// The Shop turns read-only and its Workers scale to zero (`inPlace`).
    EnteringMaintenance,
    /// A Job restores the backup into the Shop's database.
    Restoring,
    /// A Job migrates the restored database to the Shop's version (`inPlace`).
    Migrating,
    /// Maintenance is lifted and the API rolls back to serving writes (`inPlace`).
    LeavingMaintenance,
    /// Done: the Shop serves the restored data (`intoNewShop`: it migrates and starts next).
    Succeeded,
    /// Stopped; the `Ready` condition says why. Maintenance is lifted.
    Failed,
}

impl RestorePhase {
    /// As written in the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Verifying => "Verifying",
            Self::EnteringMaintenance => "EnteringMaintenance",
            Self::Restoring => "Restoring",
            Self::Migrating => "Migrating",
            Self::LeavingMaintenance => "LeavingMaintenance",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
        }
    }

    /// Whether the restore is over.
    pub fn finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// Observed state of a restore.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStatus {
    /// The generation the conditions describe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`: `True` once the restore succeeded; while it runs, `False` with the phase as the
    /// reason; after a failure, `False` with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The current phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    /// The id of the backup restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// Where it is stored (`s3://bucket/prefix` or `file:///backups`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Every phase entered, in order, with when it started and finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseRecord>,
}

/// When one phase started and ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseRecord {
    /// The phase.
    pub phase: RestorePhase,
    /// When it started.
    pub started_at: Time,
    /// When it ended; absent while it lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
}
