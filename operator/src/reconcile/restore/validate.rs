//! Validate: which backup (its id and storage), from a Backup's run or given directly; the
//! Restore's Shop; the S3 credentials. A backup that cannot be found yet is no error: the
//! Restore waits in `Pending` and says why.

use super::dereference::Found;
use crate::build::backup as backup_build;
use crate::crd::{BackupRun, BackupStorage, Restore, Shop};
use crate::reconcile::validate::{
    SecretReference, ValidationError, missing_secrets, required_shop,
};

/// A Restore whose Shop exists.
#[derive(Debug, Clone)]
pub struct ValidatedRestore<'a> {
    /// The Restore as read.
    pub restore: &'a Restore,
    /// Its namespace.
    pub namespace: String,
    /// Its Shop.
    pub shop: Shop,
    /// The backup, once it is found.
    pub source: Result<Source, Blocked>,
    /// What the cluster holds.
    pub found: Found,
}

/// A backup to restore.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// Its id, as `shop-api backup list` shows it.
    pub id: String,
    /// Where it is stored.
    pub storage: BackupStorage,
}

/// Why the Restore cannot start yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// CamelCase reason.
    pub reason: &'static str,
    /// What to do about it.
    pub message: String,
}

/// Checks the Restore's references.
pub fn validate(
    restore: &Restore,
    namespace: String,
    mut found: Found,
) -> Result<ValidatedRestore<'_>, ValidationError> {
    let shop = required_shop(found.shop.take(), &restore.spec.shop_ref)?;
    let source = source(restore, &found);
    if let Ok(source) = &source {
        let references: Vec<SecretReference> = source
            .storage
            .s3
            .iter()
            .flat_map(|s3| {
                ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"].map(|key| SecretReference {
                    field: "storage.s3.secretRef".to_owned(),
                    name: s3.secret_ref.name.clone(),
                    key: Some(key.to_owned()),
                })
            })
            .collect();
        let missing = missing_secrets(&references, &found.secrets);
        if !missing.is_empty() {
            return Err(ValidationError::MissingSecrets(missing));
        }
    }
    Ok(ValidatedRestore {
        restore,
        namespace,
        shop,
        source,
        found,
    })
}

/// The backup the source names.
fn source(restore: &Restore, found: &Found) -> Result<Source, Blocked> {
    let spec = &restore.spec.source;
    if let (Some(id), Some(storage)) = (&spec.backup_id, &spec.storage) {
        return Ok(Source {
            id: id.clone(),
            storage: storage.clone(),
        });
    }
    let name = spec.backup_ref.as_deref().unwrap_or_default();
    let Some(backup) = &found.backup else {
        return Err(Blocked {
            reason: "BackupNotFound",
            message: format!("Backup {name} (spec.source.backupRef) does not exist"),
        });
    };
    let status = backup.status.as_ref();
    let run: Option<&BackupRun> = match &spec.run {
        Some(job) => status.and_then(|status| status.history.iter().find(|run| &run.job == job)),
        None => status.and_then(|status| status.last_successful_backup.as_ref()),
    };
    let wanted = spec
        .run
        .as_ref()
        .map_or_else(|| "a successful run".to_owned(), |job| format!("run {job}"));
    let id = run
        .filter(|run| run.outcome == "Succeeded")
        .and_then(|run| run.location.as_deref())
        .and_then(id_of_location);
    match id {
        Some(id) => Ok(Source {
            id,
            storage: backup.spec.storage.clone(),
        }),
        None => Err(Blocked {
            reason: "BackupRunNotFound",
            message: format!(
                "Backup {name} has no record of {wanted} that stored a backup (status.history)"
            ),
        }),
    }
}

/// The backup id in a stored backup's location: `s3://bucket/prefix/ID.dump.zst` → `ID`.
pub fn id_of_location(location: &str) -> Option<String> {
    let file = location.rsplit('/').next()?;
    let id = file
        .strip_suffix(".dump.zst")
        .or_else(|| file.strip_suffix(".sqlite.zst"))?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// Where the backup is, as `shop-api backup --target` takes it.
pub fn target_url(source: &Source) -> String {
    backup_build::target_url(&storage_holder(&source.storage))
}

/// A Backup carrying only `storage`: the backup Job builders read a storage through a Backup.
pub fn storage_holder(storage: &BackupStorage) -> crate::crd::Backup {
    crate::crd::Backup::new(
        "restore",
        crate::crd::BackupSpec {
            shop_ref: String::new(),
            schedule: None,
            retention: None,
            storage: storage.clone(),
            suspend: false,
            verify: false,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::id_of_location;

    #[test]
    fn the_id_is_the_data_files_name() {
        assert_eq!(
            id_of_location("s3://b/demo/20261204T030000Z-1a2b.dump.zst").as_deref(),
            Some("20261204T030000Z-1a2b")
        );
        assert_eq!(
            id_of_location("file:///backups/x.sqlite.zst").as_deref(),
            Some("x")
        );
        assert_eq!(id_of_location("file:///backups/x.json"), None);
    }
}
