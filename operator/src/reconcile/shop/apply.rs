//! Apply: writes the desired objects in a fixed order (settings and credentials, backends, the
//! migration, the API, monitoring) with server-side apply, deletes what is no longer wanted, and
//! returns the objects as the API server answered them, for the status stage.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::ResourceExt;

use super::desired::{DesiredShop, Migration};
use super::operated::{self, AppliedOperated};
use super::validate::ValidatedShop;
use crate::apply::{Managed, Outcome, apply, delete_owned, hand_over_if_autoscaled};
use crate::build::prometheus_rule::PrometheusRule;
use crate::build::service_monitor::ServiceMonitor;
use crate::context::Context;
use crate::error::Result;
use crate::names::{self, Backend};
use crate::reconcile::monitoring;
use crate::reconcile::observe::JobState;

/// The objects as the API server answered the writes.
#[derive(Debug, Default)]
pub struct Applied {
    /// Each managed backend's StatefulSet.
    pub stateful_sets: Vec<(Backend, StatefulSet)>,
    /// The backends handed to other operators, as applied.
    pub operated: AppliedOperated,
    /// The API Deployment, once a version is migrated.
    pub deployment: Option<Deployment>,
    /// Whether this pass created the migration Job.
    pub migration_started: bool,
}

/// Applies `desired` for `validated`.
pub async fn apply_all(
    ctx: &Context,
    validated: &ValidatedShop<'_>,
    desired: &DesiredShop,
) -> Result<Applied> {
    let client = &ctx.client;
    let mut applied = Applied::default();
    apply(client, &desired.config_map).await?;
    for generated in &desired.generated_secrets {
        apply(client, &generated.secret).await?;
    }
    for backend in &desired.backends {
        apply(client, &backend.service).await?;
        let (stateful_set, _) = apply(client, &backend.stateful_set).await?;
        applied.stateful_sets.push((backend.backend, stateful_set));
        let name = names::backend(&validated.name, backend.backend);
        match &backend.network_policy {
            Some(policy) => {
                apply(client, policy).await?;
            }
            None => {
                delete::<NetworkPolicy>(ctx, validated, &name).await?;
            }
        }
    }
    applied.operated = operated::apply_all(ctx, &desired.operated).await?;

    match &desired.migration {
        Migration::Start(job) => {
            let (_, outcome) = apply(client, job.as_ref()).await?;
            applied.migration_started = outcome == Outcome::Created;
        }
        Migration::Replace { job_name } => {
            delete::<Job>(ctx, validated, job_name).await?;
        }
        Migration::Existing {
            state: JobState::Succeeded,
            ..
        } => {
            // The Job of the version the API ran before is finished and superseded. (Each
            // upgrade removes its predecessor's, so at most one older Job exists; deleting it by
            // name avoids listing every Job in the namespace.)
            if let Some(previous) = &validated.running_version {
                let name = names::migration_job(&validated.name, previous);
                delete::<Job>(ctx, validated, &name).await?;
            }
        }
        Migration::Done
        | Migration::WaitingForDatabase
        | Migration::WaitingForRestore { .. }
        | Migration::Existing { .. } => {}
    }

    if let Some(api) = &desired.api {
        let name = names::api(&validated.name);
        hand_over_if_autoscaled(
            client,
            validated.found.api_deployment.as_ref(),
            &api.deployment,
        )
        .await?;
        let (deployment, _) = apply(client, &api.deployment).await?;
        applied.deployment = Some(deployment);
        apply(client, &api.service).await?;
        apply(client, &api.pdb).await?;
        match &api.hpa {
            Some(hpa) => {
                apply(client, hpa).await?;
            }
            None => {
                delete::<HorizontalPodAutoscaler>(ctx, validated, &name).await?;
            }
        }
        match &api.ingress {
            Some(ingress) => {
                apply(client, ingress).await?;
            }
            None => {
                delete::<Ingress>(ctx, validated, &name).await?;
            }
        }
    }

    match &desired.service_monitor {
        monitoring::Plan::Apply(monitor) => {
            apply(client, monitor.as_ref()).await?;
        }
        // Turned off again: remove ours (a 404 when the CRD is not installed is "absent").
        monitoring::Plan::Absent => {
            delete::<ServiceMonitor>(ctx, validated, &names::api(&validated.name)).await?;
        }
        monitoring::Plan::CrdMissing | monitoring::Plan::Invalid(_) => {}
    }
    match &desired.prometheus_rule {
        monitoring::Planned::Apply(rule) => {
            apply(client, rule.as_ref()).await?;
        }
        // Turned off again: remove ours (a 404 when the CRD is not installed is "absent").
        monitoring::Planned::Absent => {
            delete::<PrometheusRule>(ctx, validated, &names::alerts(&validated.name)).await?;
        }
        // Left as it is: an Invalid rule file is a bug of this build, and the rules in place
        // are better than none.
        monitoring::Planned::CrdMissing | monitoring::Planned::Invalid(_) => {}
    }
    Ok(applied)
}

/// Deletes a child the Shop controls; others' objects of that name are left alone.
async fn delete<K: Managed>(
    ctx: &Context,
    validated: &ValidatedShop<'_>,
    name: &str,
) -> Result<bool> {
    let uid = validated.shop.uid().unwrap_or_default();
    Ok(delete_owned::<K>(&ctx.client, &validated.namespace, name, &uid).await?)
}
