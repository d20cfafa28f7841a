//! The Prometheus Operator objects a resource may ask for: the ServiceMonitor of a Shop or Worker
//! (`spec.monitoring.serviceMonitor`) and the PrometheusRule of a Shop
//! (`spec.monitoring.prometheusRule.enabled`). Each needs the Prometheus Operator's CRD, which the
//! operator never installs. Shared by the Shop and Worker reconcilers' stages.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Client;

use crate::build::prometheus_rule::{PROMETHEUS_RULE_CRD, PrometheusRule};
use crate::build::service_monitor::{SERVICE_MONITOR_CRD, ServiceMonitor};
use crate::conditions::{self, ConditionType, Observed};
use crate::context::Context;
use crate::reconcile::dereference::{DereferenceError, crd_is_installed};

/// A Prometheus Operator kind the operator creates when asked and its CRD exists.
pub trait MonitoringKind {
    /// Name of its CRD.
    const CRD: &'static str;
    /// The condition reporting it.
    const CONDITION: ConditionType;
    /// Reason of the condition once it is applied.
    const CREATED: &'static str;
    /// Reason of the Warning Event when its CRD is missing.
    const UNAVAILABLE: &'static str;
    /// Its kind, in messages.
    const KIND: &'static str;
}

impl MonitoringKind for ServiceMonitor {
    const CRD: &'static str = SERVICE_MONITOR_CRD;
    const CONDITION: ConditionType = ConditionType::MonitoringReady;
    const CREATED: &'static str = "ServiceMonitorCreated";
    const UNAVAILABLE: &'static str = "ServiceMonitorUnavailable";
    const KIND: &'static str = "ServiceMonitor";
}

impl MonitoringKind for PrometheusRule {
    const CRD: &'static str = PROMETHEUS_RULE_CRD;
    const CONDITION: ConditionType = ConditionType::AlertsReady;
    const CREATED: &'static str = "PrometheusRuleCreated";
    const UNAVAILABLE: &'static str = "PrometheusRuleUnavailable";
    const KIND: &'static str = "PrometheusRule";
}

/// Dereference: whether the ServiceMonitor CRD is installed; read only when `asked`.
pub async fn crd_installed(client: &Client, asked: bool) -> Result<bool, DereferenceError> {
    kind_installed::<ServiceMonitor>(client, asked).await
}

/// Dereference: whether the CRD of `K` is installed; read only when `asked`.
pub async fn kind_installed<K: MonitoringKind>(
    client: &Client,
    asked: bool,
) -> Result<bool, DereferenceError> {
    if !asked {
        return Ok(false);
    }
    crd_is_installed(client, K::CRD).await
}

/// Build: what to do about an optional monitoring object.
#[derive(Debug, Clone)]
pub enum Planned<K> {
    /// Not asked for: delete the operator's.
    Absent,
    /// Asked for, but the Prometheus Operator's CRD is not installed.
    CrdMissing,
    /// Asked for, but it cannot be built (the message says why); nothing is changed.
    Invalid(String),
    /// Apply it.
    Apply(Box<K>),
}

/// What to do about the ServiceMonitor.
pub type Plan = Planned<ServiceMonitor>;

impl<K: MonitoringKind> Planned<K> {
    /// The plan for a resource that does (`asked`) or does not ask for the object.
    pub fn new(asked: bool, crd_installed: bool, build: impl FnOnce() -> K) -> Self {
        Self::try_new(asked, crd_installed, || Ok::<_, String>(build()))
    }

    /// As [`Planned::new`], for an object whose build can fail.
    pub fn try_new<E: std::fmt::Display>(
        asked: bool,
        crd_installed: bool,
        build: impl FnOnce() -> Result<K, E>,
    ) -> Self {
        match (asked, crd_installed) {
            (false, _) => Self::Absent,
            (true, false) => Self::CrdMissing,
            (true, true) => match build() {
                Ok(object) => Self::Apply(Box::new(object)),
                Err(error) => Self::Invalid(error.to_string()),
            },
        }
    }

    /// Status: the kind's condition (none when not asked for); `what` is what it covers.
    pub fn condition(&self, name: &str, what: &str) -> Option<Observed> {
        match self {
            Self::Absent => None,
            Self::CrdMissing => Some(Observed::no(
                K::CONDITION,
                "CrdMissing",
                format!(
                    "{} is not installed; the {} is created once it is",
                    K::CRD,
                    K::KIND
                ),
            )),
            Self::Invalid(why) => Some(Observed::no(K::CONDITION, "Invalid", why.clone())),
            Self::Apply(_) => Some(Observed::yes(
                K::CONDITION,
                K::CREATED,
                format!("{} {name} {what}", K::KIND),
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
            && !conditions::has_reason(previous, K::CONDITION, "CrdMissing")
        {
            let note = format!(
                "{} is not installed; install the Prometheus Operator to get a {}",
                K::CRD,
                K::KIND
            );
            ctx.event(object, true, K::UNAVAILABLE, note).await;
        }
    }
}
