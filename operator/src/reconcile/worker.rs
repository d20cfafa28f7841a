//! Reconciles a `Worker`.

use std::sync::Arc;

use kube::runtime::controller::Action;

use crate::context::Context;
use crate::crd::Worker;
use crate::error::Result;

/// Brings the cluster in line with one Worker.
pub async fn reconcile(worker: Arc<Worker>, ctx: Arc<Context>) -> Result<Action> {
    let _ = (worker, ctx);
    Ok(Action::await_change())
}
