//! Validate: a Worker needs its Shop, and the Shop settings its type needs. A Shop that is paused
//! or not migrated yet is no error: the Worker waits for it.

use kube::ResourceExt;

use super::dereference::Found;
use crate::crd::{Shop, Worker};
use crate::reconcile::validate::{Plan, ValidationError, required_shop};

/// A Worker whose Shop exists and has what the Worker's type needs.
#[derive(Debug, Clone)]
pub struct ValidatedWorker<'a> {
    /// The Worker as read.
    pub worker: &'a Worker,
    /// Its namespace.
    pub namespace: String,
    /// Its Shop.
    pub shop: Shop,
    /// What the cluster holds.
    pub found: Found,
    /// Whether the pool can run now.
    pub plan: Plan,
}

/// Checks the Worker's references.
pub fn validate(
    worker: &Worker,
    namespace: String,
    mut found: Found,
) -> Result<ValidatedWorker<'_>, ValidationError> {
    let shop = required_shop(found.shop.take(), &worker.spec.shop_ref)?;
    let missing = crate::build::worker::missing_settings(worker, &shop);
    if !missing.is_empty() {
        return Err(ValidationError::SettingMissing {
            worker_type: worker.spec.type_.as_str(),
            shop: shop.name_any(),
            fields: missing,
        });
    }
    // A paused Shop changes nothing, not even its Workers.
    let plan = Plan::against(&shop, true);
    Ok(ValidatedWorker {
        worker,
        namespace,
        shop,
        found,
        plan,
    })
}
