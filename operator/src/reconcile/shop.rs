//! Reconciles a `Shop`.

use std::sync::Arc;

use kube::runtime::controller::Action;

use crate::context::Context;
use crate::crd::Shop;
use crate::error::Result;

/// Brings the cluster in line with one Shop.
pub async fn reconcile(shop: Arc<Shop>, ctx: Arc<Context>) -> Result<Action> {
    let _ = (shop, ctx);
    Ok(Action::await_change())
}
