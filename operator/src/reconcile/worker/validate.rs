//! Validate: a Worker needs its Shop, and the Shop settings its type needs. A Shop that is paused
//! or not migrated yet is no error: the Worker waits for it.

use kube::ResourceExt;

use super::dereference::Found;
use crate::crd::{Shop, Worker};
use crate::reconcile::validate::ValidationError;

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

/// Whether the pool runs in this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The Shop is not there yet; nothing is applied.
    Wait {
        /// CamelCase reason for `Ready=False`.
        reason: &'static str,
        /// What the Worker waits for.
        message: String,
    },
    /// Run the pool at the Shop's running version.
    Run {
        /// `status.runningVersion` of the Shop.
        version: String,
    },
}

/// Checks the Worker's references.
pub fn validate(
    worker: &Worker,
    namespace: String,
    mut found: Found,
) -> Result<ValidatedWorker<'_>, ValidationError> {
    let shop_ref = &worker.spec.shop_ref;
    let shop = found
        .shop
        .take()
        .ok_or_else(|| ValidationError::ShopNotFound {
            name: shop_ref.clone(),
        })?;
    let missing = crate::build::worker::missing_settings(worker, &shop);
    if !missing.is_empty() {
        return Err(ValidationError::SettingMissing {
            worker_type: worker.spec.type_.as_str(),
            shop: shop.name_any(),
            fields: missing,
        });
    }
    let running = shop
        .status
        .as_ref()
        .and_then(|status| status.running_version.clone());
    let plan = match running {
        _ if shop.spec.paused => Plan::Wait {
            reason: "ShopPaused",
            message: format!("Shop {shop_ref} is paused"),
        },
        None => Plan::Wait {
            reason: "WaitingForShop",
            message: format!("Shop {shop_ref} has not finished its first migration"),
        },
        Some(version) => Plan::Run { version },
    };
    Ok(ValidatedWorker {
        worker,
        namespace,
        shop,
        found,
        plan,
    })
}
