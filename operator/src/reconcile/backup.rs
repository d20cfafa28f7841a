//! Reconciles a `Backup`.

use std::sync::Arc;

use kube::runtime::controller::Action;

use crate::context::Context;
use crate::crd::Backup;
use crate::error::Result;

/// Brings the cluster in line with one Backup.
pub async fn reconcile(backup: Arc<Backup>, ctx: Arc<Context>) -> Result<Action> {
    let _ = (backup, ctx);
    Ok(Action::await_change())
}
