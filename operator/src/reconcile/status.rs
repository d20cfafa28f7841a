//! The status stage's shared parts: writing conditions with `observedGeneration`, and what every
//! reconciler does when a stage fails — `Ready=False` with the error's reason and message, and a
//! Warning Event — before the error goes on to be counted and retried.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;

use crate::apply::{Managed, write_status};
use crate::conditions::{self, ConditionType, Observed};
use crate::context::Context;
use crate::crd::{BackupStatus, RestoreStatus, ShopStatus, WorkerStatus};
use crate::error::Error;

/// A custom resource's status: conditions and the generation they describe.
pub trait Status: Clone + Default + PartialEq + Serialize {
    /// The conditions.
    fn conditions(&self) -> &[Condition];
    /// Replaces the conditions, and records the generation they describe.
    fn set_conditions(&mut self, conditions: Vec<Condition>, generation: Option<i64>);
}

macro_rules! impl_status {
    ($($status:ty),*) => {$(
        impl Status for $status {
            fn conditions(&self) -> &[Condition] {
                &self.conditions
            }
            fn set_conditions(&mut self, conditions: Vec<Condition>, generation: Option<i64>) {
                self.conditions = conditions;
                self.observed_generation = generation;
            }
        }
    )*};
}

impl_status!(ShopStatus, WorkerStatus, BackupStatus, RestoreStatus);

/// A custom resource of ours and its status type.
pub trait WithStatus: Managed {
    /// Its status type.
    type Status: Status;
    /// The status as read.
    fn status(&self) -> Option<&Self::Status>;
}

impl WithStatus for crate::crd::Shop {
    type Status = ShopStatus;
    fn status(&self) -> Option<&ShopStatus> {
        self.status.as_ref()
    }
}

impl WithStatus for crate::crd::Worker {
    type Status = WorkerStatus;
    fn status(&self) -> Option<&WorkerStatus> {
        self.status.as_ref()
    }
}

impl WithStatus for crate::crd::Restore {
    type Status = RestoreStatus;
    fn status(&self) -> Option<&RestoreStatus> {
        self.status.as_ref()
    }
}

impl WithStatus for crate::crd::Backup {
    type Status = BackupStatus;
    fn status(&self) -> Option<&BackupStatus> {
        self.status.as_ref()
    }
}

/// Writes `status` with the conditions of a successful pass (exactly `observed`), unless it
/// equals what the resource already has.
pub async fn write_observed<K: WithStatus>(
    ctx: &Context,
    object: &K,
    mut status: K::Status,
    observed: &[Observed],
) -> Result<(), Error> {
    let generation = object.meta().generation;
    let merged = conditions::merge(status.conditions(), observed, generation, Timestamp::now());
    status.set_conditions(merged, generation);
    Ok(write_status(&ctx.client, object, object.status(), &status).await?)
}

/// Shows a failed pass on the resource: `Ready=False` with the error's reason and message (plus
/// `extra` conditions the failure explains), the other conditions kept; and a Warning Event.
/// A failure to write either is logged: the reconcile error is what goes on.
pub async fn report_failure<K: WithStatus>(
    ctx: &Context,
    object: &K,
    extra: Vec<Observed>,
    error: &Error,
) {
    let mut observed = extra;
    observed.push(Observed::no(
        ConditionType::Ready,
        error.reason(),
        error.to_string(),
    ));
    let mut status = object.status().cloned().unwrap_or_default();
    let generation = object.meta().generation;
    let updated = conditions::update(status.conditions(), &observed, generation, Timestamp::now());
    status.set_conditions(updated, generation);
    if let Err(write_error) = write_status(&ctx.client, object, object.status(), &status).await {
        tracing::warn!(
            name = %object.name_any(),
            error = %write_error,
            "cannot write the status of a failed reconcile"
        );
    }
    ctx.event(
        &object.object_ref(&()),
        true,
        error.reason(),
        error.to_string(),
    )
    .await;
}

/// Conditions of the previous pass, for noticing transitions.
pub fn previous_conditions<K: WithStatus>(object: &K) -> &[Condition] {
    object.status().map_or(&[], |status| status.conditions())
}
