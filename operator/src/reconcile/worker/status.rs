//! Status: replica counts and the selector for the scale subresource, `ShopFound`, `Ready` and
//! `MonitoringReady`, and the failure view of errors.

use kube::{Resource, ResourceExt};

use super::apply::Applied;
use super::desired::DesiredWorker;
use super::validate::ValidatedWorker;
use crate::build::worker as build;
use crate::conditions::{ConditionType, Observed};
use crate::context::Context;
use crate::crd::{Worker, WorkerStatus};
use crate::error::{Error, ValidationError};
use crate::labels;
use crate::names;
use crate::reconcile::status::previous_conditions;

/// The status every pass starts from: the previous one with the pool's selector.
pub fn base(worker: &Worker) -> WorkerStatus {
    let mut status = worker.status.clone().unwrap_or_default();
    status.selector = Some(labels::to_selector_string(&build::worker_selector(worker)));
    status
}

/// The conditions while the Worker waits for its Shop.
pub fn waiting(
    validated: &ValidatedWorker<'_>,
    reason: &'static str,
    message: String,
) -> Vec<Observed> {
    vec![
        shop_found(validated),
        Observed::no(ConditionType::Ready, reason, message),
    ]
}

fn shop_found(validated: &ValidatedWorker<'_>) -> Observed {
    Observed::yes(
        ConditionType::ShopFound,
        "ShopFound",
        format!("Shop {}", validated.worker.spec.shop_ref),
    )
}

/// The conditions of a pass that applied the pool; fills the replica counts into `status`.
pub fn observe(
    validated: &ValidatedWorker<'_>,
    desired: &DesiredWorker,
    applied: &Applied,
    status: &mut WorkerStatus,
) -> Vec<Observed> {
    let deployment = &applied.deployment;
    let live = deployment.status.clone().unwrap_or_default();
    status.replicas = live.replicas.unwrap_or(0);
    status.ready_replicas = live.ready_replicas.unwrap_or(0);
    let wanted = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(status.replicas);
    let ready = live.observed_generation >= deployment.metadata.generation
        && live.updated_replicas.unwrap_or(0) >= wanted
        && status.ready_replicas >= wanted;
    let counts = format!(
        "{} of {} replicas ready",
        status.ready_replicas, status.replicas
    );
    let mut observed = vec![
        shop_found(validated),
        if ready {
            Observed::yes(ConditionType::Ready, "Ready", counts)
        } else {
            Observed::no(ConditionType::Ready, "RollingOut", counts)
        },
    ];
    let name = names::worker(&validated.worker.name_any());
    observed.extend(
        desired
            .service_monitor
            .condition(&name, "scrapes the workers"),
    );
    observed
}

/// Whether `observed` says the Worker is ready.
pub fn is_ready(observed: &[Observed]) -> bool {
    observed
        .iter()
        .any(|condition| condition.type_ == ConditionType::Ready && condition.status)
}

/// A missing ServiceMonitor CRD, told once.
pub async fn publish_events(
    ctx: &Context,
    validated: &ValidatedWorker<'_>,
    desired: &DesiredWorker,
) {
    let worker = validated.worker;
    desired
        .service_monitor
        .publish_event(ctx, &worker.object_ref(&()), previous_conditions(worker))
        .await;
}

/// Conditions a failure explains besides `Ready`: the Shop is missing.
pub fn failure_conditions(error: &Error) -> Vec<Observed> {
    match error {
        Error::Validation(ValidationError::ShopNotFound { name }) => vec![Observed::no(
            ConditionType::ShopFound,
            "ShopNotFound",
            format!("Shop {name} does not exist"),
        )],
        _ => Vec::new(),
    }
}
