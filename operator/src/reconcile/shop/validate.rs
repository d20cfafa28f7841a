//! Validate: turns what was read into a [`ValidatedShop`], or says why nothing can be done.
//! Builders take only validated input, so they never meet a Shop whose Secrets are missing.

use kube::ResourceExt;

use super::dereference::{Found, invoice_claim_name, secret_references};
use crate::crd::Shop;
use crate::reconcile::validate::{ValidationError, missing_secrets};

/// A Shop whose references all resolve, with what the cluster holds for it.
#[derive(Debug, Clone)]
pub struct ValidatedShop<'a> {
    /// The Shop as read from the API server.
    pub shop: &'a Shop,
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The version the API runs now (`status.runningVersion`), if any has been migrated yet.
    pub running_version: Option<String>,
    /// What the cluster holds.
    pub found: Found,
}

impl ValidatedShop<'_> {
    /// The version the spec asks for.
    pub fn target_version(&self) -> &str {
        &self.shop.spec.version
    }
}

/// Checks that every Secret the spec names exists with the key it reads.
pub fn validate<'a>(
    shop: &'a Shop,
    namespace: String,
    found: Found,
) -> Result<ValidatedShop<'a>, ValidationError> {
    let missing = missing_secrets(&secret_references(shop), &found.secrets);
    if !missing.is_empty() {
        return Err(ValidationError::MissingSecrets(missing));
    }
    if let (false, Some(claim)) = (found.invoice_claim, invoice_claim_name(shop)) {
        return Err(ValidationError::ClaimNotFound {
            field: "spec.invoices.storage.volume.claimName".to_owned(),
            name: claim.to_owned(),
        });
    }
    Ok(ValidatedShop {
        shop,
        name: shop.name_any(),
        namespace,
        running_version: shop
            .status
            .as_ref()
            .and_then(|status| status.running_version.clone()),
        found,
    })
}
