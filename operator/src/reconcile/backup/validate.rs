//! Validate: a Backup needs a valid schedule (when it has one), its Shop and its S3 credentials
//! Secret. A Shop that has not migrated yet is no error: the Backup waits for it.

use super::dereference::{Found, secret_references};
use crate::build::backup as build;
use crate::crd::{Backup, Shop};
use crate::reconcile::validate::{ValidationError, missing_secrets};

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

/// Whether the Backup's runs are set up in this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The Shop is not running yet.
    Wait {
        /// CamelCase reason for `Ready=False`.
        reason: &'static str,
        /// What the Backup waits for.
        message: String,
    },
    /// Set up the runs with the Shop's running version.
    Run {
        /// `status.runningVersion` of the Shop.
        version: String,
    },
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
    let shop_ref = &backup.spec.shop_ref;
    let shop = found
        .shop
        .take()
        .ok_or_else(|| ValidationError::ShopNotFound {
            name: shop_ref.clone(),
        })?;
    let missing = missing_secrets(&secret_references(backup), &found.secrets);
    if !missing.is_empty() {
        return Err(ValidationError::MissingSecrets(missing));
    }
    let plan = match shop.status.as_ref().and_then(|s| s.running_version.clone()) {
        None => Plan::Wait {
            reason: "WaitingForShop",
            message: format!("Shop {shop_ref} has not finished its first migration"),
        },
        Some(version) => Plan::Run { version },
    };
    Ok(ValidatedBackup {
        backup,
        namespace,
        shop,
        found,
        plan,
    })
}
