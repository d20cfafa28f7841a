//! Validate: a Backup needs a valid schedule (when it has one), its Shop and its S3 credentials
//! Secret. A Shop that has not migrated yet is no error: the Backup waits for it.

use super::dereference::{Found, secret_references};
use crate::build::backup as build;
use crate::crd::{Backup, Shop};
use crate::reconcile::validate::{Plan, ValidationError, missing_secrets, required_shop};

/// A Backup whose references resolve.
#[derive(Debug, Clone)]
pub struct ValidatedBackup<'a> {
    /// The Backup as read.
    pub backup: &'a Backup,
    /// Its namespace.
    pub namespace: String,
    /// Its Shop.
    pub shop: Shop,
    /// What the cluster holds.
    pub found: Found,
    /// Whether runs can be set up now.
    pub plan: Plan,
}

/// Checks the Backup's schedule and references.
pub fn validate(
    backup: &Backup,
    namespace: String,
    mut found: Found,
) -> Result<ValidatedBackup<'_>, ValidationError> {
    if let Some(schedule) = &backup.spec.schedule {
        build::validate_schedule(schedule)
            .map_err(|message| ValidationError::InvalidSchedule { message })?;
    }
    let shop = required_shop(found.shop.take(), &backup.spec.shop_ref)?;
    let missing = missing_secrets(&secret_references(backup), &found.secrets);
    if !missing.is_empty() {
        return Err(ValidationError::MissingSecrets(missing));
    }
    // A paused Shop still serves its data: backups go on.
    let plan = Plan::against(&shop, false);
    Ok(ValidatedBackup {
        backup,
        namespace,
        shop,
        found,
        plan,
    })
}
