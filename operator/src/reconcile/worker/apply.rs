//! Apply: the pool's Deployment (replicas handed to the autoscaler when there is one), its
//! Service, HPA and ServiceMonitor; what is no longer wanted is deleted.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::ResourceExt;

use super::desired::DesiredWorker;
use super::validate::ValidatedWorker;
use crate::apply::{apply, delete_owned, hand_over_if_autoscaled};
use crate::build::service_monitor::ServiceMonitor;
use crate::context::Context;
use crate::error::Result;
use crate::names;
use crate::reconcile::monitoring;

/// The pool's Deployment as the API server answered the apply.
#[derive(Debug)]
pub struct Applied {
    /// The Deployment.
    pub deployment: Deployment,
}

/// Applies `desired`.
pub async fn apply_all(
    ctx: &Context,
    validated: &ValidatedWorker<'_>,
    desired: &DesiredWorker,
) -> Result<Applied> {
    let client = &ctx.client;
    let namespace = &validated.namespace;
    let name = names::worker(&validated.worker.name_any());
    let uid = validated.worker.uid().unwrap_or_default();
    hand_over_if_autoscaled(
        client,
        validated.found.deployment.as_ref(),
        &desired.deployment,
    )
    .await?;
    let (deployment, _) = apply(client, &desired.deployment).await?;
    apply(client, &desired.service).await?;
    match &desired.hpa {
        Some(hpa) => {
            apply(client, hpa).await?;
        }
        None => {
            delete_owned::<HorizontalPodAutoscaler>(client, namespace, &name, &uid).await?;
        }
    }
    match &desired.service_monitor {
        monitoring::Plan::Apply(monitor) => {
            apply(client, monitor.as_ref()).await?;
        }
        monitoring::Plan::Absent => {
            delete_owned::<ServiceMonitor>(client, namespace, &name, &uid).await?;
        }
        monitoring::Plan::CrdMissing | monitoring::Plan::Invalid(_) => {}
    }
    Ok(Applied { deployment })
}
