//! Reconciles a `Worker`: a Deployment of `shop-workers --only TYPE` wired to its Shop's
//! configuration and Secrets, at the version the Shop runs (never ahead of the Shop's schema).
//! Stages as for the Shop: [`dereference`] → [`validate`] → [`desired`] → [`apply`] → [`status`].

pub mod apply;
pub mod dereference;
pub mod desired;
pub mod status;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;

use crate::context::Context;
use crate::crd::Worker;
use crate::error::Result;
use crate::reconcile::dereference::namespace_of;
use crate::reconcile::status::{report_failure, write_observed};
use crate::reconcile::validate::Plan;

/// How soon to look again while waiting for the Shop or for pods.
const WAITING_REQUEUE: Duration = Duration::from_secs(30);
/// How soon to look again when the pool is ready.
const STEADY_REQUEUE: Duration = Duration::from_secs(300);

/// Brings the cluster in line with one Worker.
pub async fn reconcile(worker: Arc<Worker>, ctx: Arc<Context>) -> Result<Action> {
    match run(&worker, &ctx).await {
        Ok(true) => Ok(Action::requeue(STEADY_REQUEUE)),
        Ok(false) => Ok(Action::requeue(WAITING_REQUEUE)),
        Err(error) => {
            report_failure(&ctx, &*worker, status::failure_conditions(&error), &error).await;
            Err(error)
        }
    }
}

/// One pass through the stages; returns whether the pool is ready.
async fn run(worker: &Worker, ctx: &Context) -> Result<bool> {
    let namespace = namespace_of(worker)?;
    let found = dereference::dereference(&ctx.client, worker, &namespace).await?;
    let validated = validate::validate(worker, namespace, found)?;
    let mut next = status::base(worker);
    let observed = match &validated.plan {
        Plan::Wait { reason, message } => status::waiting(&validated, reason, message.clone()),
        Plan::Run { version } => {
            let desired = desired::desired(&validated, version);
            let applied = apply::apply_all(ctx, &validated, &desired).await?;
            status::publish_events(ctx, &validated, &desired).await;
            status::observe(&validated, &desired, &applied, &mut next)
        }
    };
    let ready = status::is_ready(&observed);
    write_observed(ctx, worker, next, &observed).await?;
    Ok(ready)
}

/// The objects the operator would apply for `worker` once `shop` runs its `spec.version`: what
/// `shop-operator render` prints.
pub fn render(worker: &Worker, shop: &crate::crd::Shop) -> Result<Vec<serde_json::Value>> {
    let namespace = namespace_of(worker)?;
    let found = dereference::Found {
        shop: Some(shop.clone()),
        deployment: None,
        service_monitor_crd: true,
        credentials_version: None,
    };
    let mut validated = validate::validate(worker, namespace, found)?;
    let version = shop.spec.version.clone();
    validated.plan = Plan::Run {
        version: version.clone(),
    };
    Ok(desired::desired(&validated, &version).objects())
}
