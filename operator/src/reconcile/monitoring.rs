//! The ServiceMonitor a Shop or Worker asks for through `spec.monitoring.serviceMonitor`: it
//! needs the Prometheus Operator's CRD, which the operator never installs. Shared by the Shop
//! and Worker reconcilers' stages.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{Api, Client};

use crate::build::service_monitor::{SERVICE_MONITOR_CRD, ServiceMonitor};
use crate::conditions::{self, ConditionType, Observed};
use crate::context::Context;
use crate::reconcile::dereference::DereferenceError;

/// Dereference: whether the ServiceMonitor CRD is installed; read only when `asked`.
pub async fn crd_installed(client: &Client, asked: bool) -> Result<bool, DereferenceError> {
    if !asked {
        return Ok(false);
    }
    let crd = Api::<CustomResourceDefinition>::all(client.clone())
        .get_opt(SERVICE_MONITOR_CRD)
        .await
        .map_err(|source| DereferenceError::Read {
            kind: "CustomResourceDefinition",
            name: SERVICE_MONITOR_CRD.to_owned(),
            source: Box::new(source),
        })?;
    Ok(crd.is_some())
}

/// Build: what to do about the ServiceMonitor.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Not asked for: delete the operator's.
    Absent,
    /// Asked for, but the Prometheus Operator's CRD is not installed.
    CrdMissing,
    /// Apply it.
    Apply(Box<ServiceMonitor>),
}

impl Plan {
    /// The plan for a resource that does (`asked`) or does not ask for a ServiceMonitor.
    pub fn new(asked: bool, crd_installed: bool, build: impl FnOnce() -> ServiceMonitor) -> Self {
        match (asked, crd_installed) {
            (false, _) => Self::Absent,
            (true, false) => Self::CrdMissing,
            (true, true) => Self::Apply(Box::new(build())),
        }
    }

    /// Status: `MonitoringReady` (none when not asked for); `what` is what it scrapes.
    pub fn condition(&self, name: &str, what: &str) -> Option<Observed> {
        match self {
            Self::Absent => None,
            Self::CrdMissing => Some(Observed::no(
                ConditionType::MonitoringReady,
                "CrdMissing",
                format!(
                    "{SERVICE_MONITOR_CRD} is not installed; the ServiceMonitor is created once it is"
                ),
            )),
            Self::Apply(_) => Some(Observed::yes(
                ConditionType::MonitoringReady,
                "ServiceMonitorCreated",
                format!("ServiceMonitor {name} scrapes {what}"),
            )),
        }
    }

    /// Status: a Warning Event when the CRD is found missing (once, not on every pass).
    pub async fn publish_event(
        &self,
        ctx: &Context,
        object: &ObjectReference,
        previous: &[Condition],
    ) {
        if matches!(self, Self::CrdMissing)
            && !conditions::has_reason(previous, ConditionType::MonitoringReady, "CrdMissing")
        {
            let note = format!(
                "{SERVICE_MONITOR_CRD} is not installed; install the Prometheus Operator to get a \
                 ServiceMonitor"
            );
            ctx.event(object, true, "ServiceMonitorUnavailable", note)
                .await;
        }
    }
}
