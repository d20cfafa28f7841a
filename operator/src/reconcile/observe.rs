//! Reading the state of children the operator does not control itself: Jobs finish, Deployments
//! roll out. Shared by the reconcilers' build and status stages.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;

/// Where a Job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Still running (or not started).
    Running,
    /// Completed successfully.
    Succeeded,
    /// Gave up after its retries.
    Failed,
}

/// A Job's state from its `Complete` / `Failed` conditions.
pub fn job_state(job: &Job) -> JobState {
    let conditions = job
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref());
    let holds = |type_: &str| {
        conditions.is_some_and(|all| all.iter().any(|c| c.type_ == type_ && c.status == "True"))
    };
    if holds("Complete") {
        JobState::Succeeded
    } else if holds("Failed") {
        JobState::Failed
    } else {
        JobState::Running
    }
}

/// Whether a Deployment has finished rolling out its current spec. Without `spec.replicas`
/// (handed to an autoscaler) the replicas the Deployment reports are the count wanted.
pub fn deployment_available(deployment: &Deployment) -> bool {
    let Some(status) = &deployment.status else {
        return false;
    };
    let wanted = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or_else(|| status.replicas.unwrap_or(1).max(1));
    status.observed_generation >= deployment.metadata.generation
        && status.updated_replicas.unwrap_or(0) >= wanted
        && status.available_replicas.unwrap_or(0) >= wanted
}
