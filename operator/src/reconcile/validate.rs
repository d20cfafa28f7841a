//! The validate stage's shared parts: what can make a resource impossible to act upon, as typed
//! values (never strings searched for meaning), and the check of the Secrets a spec names.
//! Each kind's own `validate` module turns what was read into a `Validated…` value.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Secret;

use crate::crd::Shop;

/// A Secret (or one key of it) that a spec names and that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSecret {
    /// Where the spec names it, e.g. `spec.database.external.secretRef`.
    pub field: String,
    /// The Secret's name.
    pub name: String,
    /// The key that is missing, when a key is named; `None`: the whole Secret is missing.
    pub key: Option<String>,
}

impl fmt::Display for MissingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "key {key} of Secret {} ({})", self.name, self.field),
            None => write!(f, "Secret {} ({})", self.name, self.field),
        }
    }
}

/// A Secret the spec names at `field`, with the key it reads (if one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretReference {
    /// Where the spec names it.
    pub field: String,
    /// The Secret's name.
    pub name: String,
    /// The key read from it; `None` when the whole Secret is used (as environment variables).
    pub key: Option<String>,
}

/// Why a resource cannot be acted upon. Nothing is changed in the cluster when validation fails.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// Secrets the spec names do not exist or lack the key it reads.
    #[error("missing {}", join(.0))]
    MissingSecrets(Vec<MissingSecret>),
    /// A PersistentVolumeClaim the spec names does not exist (its pods would stay Pending).
    #[error("PersistentVolumeClaim {name} ({field}) does not exist")]
    ClaimNotFound {
        /// Where the spec names it.
        field: String,
        /// Its name.
        name: String,
    },
    /// The Shop that `spec.shopRef` names does not exist.
    #[error("Shop {name} (spec.shopRef) does not exist")]
    ShopNotFound {
        /// Its name.
        name: String,
    },
    /// `spec.schedule` is not a schedule.
    #[error("spec.schedule: {message}")]
    InvalidSchedule {
        /// What is wrong with it.
        message: String,
    },
    /// A Worker of this type needs Shop settings that are not set.
    #[error("{worker_type} workers need {} of Shop {shop}", fields.join(" and "))]
    SettingMissing {
        /// The Worker's type.
        worker_type: &'static str,
        /// The Shop.
        shop: String,
        /// The Shop fields to set, e.g. `spec.smtp`.
        fields: Vec<String>,
    },
}

impl ValidationError {
    /// Label for the `errors` metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::MissingSecrets(_) => "missing_secret",
            Self::ClaimNotFound { .. } => "missing_claim",
            Self::ShopNotFound { .. } => "shop_not_found",
            Self::InvalidSchedule { .. } => "invalid_schedule",
            Self::SettingMissing { .. } => "setting_missing",
        }
    }

    /// CamelCase reason of the `Ready=False` condition.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingSecrets(_) => "SecretMissing",
            Self::ClaimNotFound { .. } => "ClaimMissing",
            Self::ShopNotFound { .. } => "ShopNotFound",
            Self::InvalidSchedule { .. } => "InvalidSchedule",
            Self::SettingMissing { .. } => "SettingMissing",
        }
    }

    /// Whether only an edit of the resource itself can fix it (rather than an object appearing
    /// beside it).
    pub fn needs_a_spec_change(&self) -> bool {
        matches!(self, Self::InvalidSchedule { .. })
    }
}

/// The Shop `spec.shopRef` names, which must exist.
pub fn required_shop(found: Option<Shop>, shop_ref: &str) -> Result<Shop, ValidationError> {
    found.ok_or_else(|| ValidationError::ShopNotFound {
        name: shop_ref.to_owned(),
    })
}

/// Whether a Worker or Backup can run against its Shop in this pass. A Shop that is paused or not
/// migrated yet is no error: the resource waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The Shop is not ready for it; nothing is applied.
    Wait {
        /// CamelCase reason for `Ready=False`.
        reason: &'static str,
        /// What the resource waits for.
        message: String,
    },
    /// Run at the Shop's running version.
    Run {
        /// `status.runningVersion` of the Shop.
        version: String,
    },
}

impl Plan {
    /// The plan against `shop`; `paused_blocks`: whether a paused Shop holds the resource back.
    pub fn against(shop: &Shop, paused_blocks: bool) -> Self {
        let name = shop.metadata.name.as_deref().unwrap_or_default();
        if paused_blocks && shop.spec.paused {
            return Self::Wait {
                reason: "ShopPaused",
                message: format!("Shop {name} is paused"),
            };
        }
        match shop.status.as_ref().and_then(|s| s.running_version.clone()) {
            None => Self::Wait {
                reason: "WaitingForShop",
                message: format!("Shop {name} has not finished its first migration"),
            },
            Some(version) => Self::Run { version },
        }
    }
}

fn join(missing: &[MissingSecret]) -> String {
    missing
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The references among `wanted` that `found` (Secrets by name, `None` when absent) cannot
/// satisfy.
pub fn missing_secrets(
    wanted: &[SecretReference],
    found: &BTreeMap<String, Option<Secret>>,
) -> Vec<MissingSecret> {
    wanted
        .iter()
        .filter(|reference| {
            let secret = found.get(&reference.name).and_then(Option::as_ref);
            match (&reference.key, secret) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some(key), Some(secret)) => !has_key(secret, key),
            }
        })
        .map(|reference| MissingSecret {
            field: reference.field.clone(),
            name: reference.name.clone(),
            key: reference.key.clone(),
        })
        .collect()
}

fn has_key(secret: &Secret, key: &str) -> bool {
    secret
        .data
        .as_ref()
        .is_some_and(|data| data.contains_key(key))
        || secret
            .string_data
            .as_ref()
            .is_some_and(|data| data.contains_key(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(field: &str, name: &str, key: Option<&str>) -> SecretReference {
        SecretReference {
            field: field.to_owned(),
            name: name.to_owned(),
            key: key.map(str::to_owned),
        }
    }

    #[test]
    fn an_absent_secret_or_key_is_missing_and_named_by_its_field() {
        let with_url = Secret {
            string_data: Some([("url".to_owned(), "postgres://x".to_owned())].into()),
            ..Secret::default()
        };
        let found = BTreeMap::from([("db".to_owned(), Some(with_url)), ("pay".to_owned(), None)]);
        let wanted = [
            reference("spec.database.external.secretRef", "db", Some("url")),
            reference("spec.auth.jwtSecretRef", "db", Some("jwt")),
            reference("spec.payments", "pay", None),
        ];
        let missing = missing_secrets(&wanted, &found);
        assert_eq!(missing.len(), 2);
        assert_eq!(missing[0].field, "spec.auth.jwtSecretRef");
        let error = ValidationError::MissingSecrets(missing);
        assert_eq!(
            error.to_string(),
            "missing key jwt of Secret db (spec.auth.jwtSecretRef), Secret pay (spec.payments)"
        );
    }
}
