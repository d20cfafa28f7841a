//! Build: the Restore's Jobs, decided from the validated Restore (pure). They run the Shop's image
//! with its database credentials, and mount the backup's storage as the Backup's Jobs do.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use kube::ResourceExt;

use super::validate::{Source, storage_holder, target_url};
use crate::build::backup as backup_build;
use crate::build::controlled_meta;
use crate::crd::{Restore, RestoreMode, Shop};
use crate::labels;

/// `app.kubernetes.io/name` of a Restore's Jobs.
pub const APP: &str = "shop-restore";
/// `app.kubernetes.io/component` of a Restore's Jobs.
pub const COMPONENT: &str = "restore";
/// Label naming the Restore a Job belongs to.
pub const RESTORE_LABEL: &str = "shop.dev/restore";
/// Pod retries of one step before its Job fails: a second try rules out a flaky connection;
/// a backup that is bad stays bad.
pub const BACKOFF_LIMIT: i32 = 1;

/// The steps that run as Jobs, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `shop-api backup verify`: checksum, then a restore into a scratch database.
    Verify,
    /// `shop-api backup restore`.
    Restore,
    /// `shop-api migrate`.
    Migrate,
}

impl Step {
    /// Suffix of the Job's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Restore => "restore",
            Self::Migrate => "migrate",
        }
    }
}

/// Labels that select a Restore's Jobs.
pub fn restore_selector(restore: &Restore) -> BTreeMap<String, String> {
    let mut labels = labels::selector(APP, &restore.spec.shop_ref, COMPONENT);
    labels.insert(RESTORE_LABEL.to_owned(), restore.name_any());
    labels
}

/// Name of the Job of `step`.
pub fn job_name(restore: &Restore, step: Step) -> String {
    format!("{}-{}", restore.name_any(), step.as_str())
}

/// The container's arguments (the image's entrypoint is `shop-api`). The restore's target
/// database is the pod's own `DATABASE_URL` (from the Shop's Secret), expanded by the kubelet so
/// that no credential is part of the Job.
pub fn args(restore: &Restore, source: &Source, step: Step) -> Vec<String> {
    let target = target_url(source);
    let mut args: Vec<String> = match step {
        Step::Verify => vec!["backup".into(), "verify".into(), source.id.clone()],
        Step::Restore => vec![
            "backup".into(),
            "restore".into(),
            source.id.clone(),
            "--to".into(),
            "$(DATABASE_URL)".into(),
        ],
        Step::Migrate => return vec!["migrate".into()],
    };
    // In place the database has the shop's tables, which the restore replaces; a new Shop's
    // database must be empty, and the command refuses one that is not.
    if step == Step::Restore && restore.spec.mode == RestoreMode::InPlace {
        args.push("--force".into());
    }
    args.push("--target".into());
    args.push(target);
    args
}

/// The Job of `step` at the Shop's `version`.
pub fn job(restore: &Restore, shop: &Shop, source: &Source, step: Step, version: &str) -> Job {
    let holder = storage_holder(&source.storage);
    let mut template = backup_build::backup_pod_template(&holder, shop, version);
    let mut labels = labels::full(APP, &restore.spec.shop_ref, COMPONENT, None);
    labels.insert(RESTORE_LABEL.to_owned(), restore.name_any());
    if let Some(metadata) = template.metadata.as_mut() {
        metadata.labels = Some(labels.clone());
    }
    if let Some(container) = template
        .spec
        .as_mut()
        .and_then(|pod| pod.containers.first_mut())
    {
        container.name = COMPONENT.to_owned();
        container.args = Some(args(restore, source, step));
        // No report file: the outcome is the Job's.
        if let Some(env) = container.env.as_mut() {
            env.retain(|var| var.name != "SHOP_BACKUP_REPORT_FILE");
        }
    }
    Job {
        metadata: controlled_meta(restore, job_name(restore, step), labels),
        spec: Some(JobSpec {
            backoff_limit: Some(BACKOFF_LIMIT),
            template,
            ..JobSpec::default()
        }),
        ..Job::default()
    }
}
