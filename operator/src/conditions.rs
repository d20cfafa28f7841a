//! Status conditions: set by type, with `lastTransitionTime` kept while the status does not change.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// The condition types the operator writes. `Ready` sums up the others; the rest say which part
/// of a resource is (not yet) working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionType {
    /// The resource does what its spec asks.
    Ready,
    /// A Shop's database (managed StatefulSet running, or external Secret present).
    DatabaseReady,
    /// A Shop's Redis.
    CacheReady,
    /// A Shop's RabbitMQ.
    QueueReady,
    /// A Shop's schema is at `spec.version`.
    Migrated,
    /// A Shop's API Deployment is available at its running version.
    ApiReady,
    /// The ServiceMonitor asked for exists.
    MonitoringReady,
    /// A Shop's PrometheusRule asked for exists.
    AlertsReady,
    /// A Worker's or Backup's Shop exists.
    ShopFound,
    /// A Backup's most recent finished run succeeded.
    LastBackupSucceeded,
    /// A Backup's newest verified backup passed verification (`spec.verify`).
    LastBackupVerified,
}

impl ConditionType {
    /// The type as written in `status.conditions[].type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::DatabaseReady => "DatabaseReady",
            Self::CacheReady => "CacheReady",
            Self::QueueReady => "QueueReady",
            Self::Migrated => "Migrated",
            Self::ApiReady => "ApiReady",
            Self::MonitoringReady => "MonitoringReady",
            Self::AlertsReady => "AlertsReady",
            Self::ShopFound => "ShopFound",
            Self::LastBackupSucceeded => "LastBackupSucceeded",
            Self::LastBackupVerified => "LastBackupVerified",
        }
    }
}

/// A condition to record, before timestamps are decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The condition type.
    pub type_: ConditionType,
    /// Whether it holds.
    pub status: bool,
    /// A CamelCase reason.
    pub reason: &'static str,
    /// What a human should know.
    pub message: String,
}

impl Observed {
    /// A condition that holds.
    pub fn yes(type_: ConditionType, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status: true,
            reason,
            message: message.into(),
        }
    }

    /// A condition that does not hold.
    pub fn no(type_: ConditionType, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            type_,
            status: false,
            reason,
            message: message.into(),
        }
    }
}

/// The conditions after observing `observed` at `generation`: a condition whose status is unchanged
/// keeps its `lastTransitionTime`, so that rewriting the same status is not a change at all.
/// Conditions not observed in this pass are dropped.
pub fn merge(
    previous: &[Condition],
    observed: &[Observed],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    observed
        .iter()
        .map(|condition| {
            let status = if condition.status { "True" } else { "False" }.to_owned();
            let last_transition_time = previous
                .iter()
                .find(|old| old.type_ == condition.type_.as_str() && old.status == status)
                .map_or(Time(now), |old| old.last_transition_time.clone());
            Condition {
                type_: condition.type_.as_str().to_owned(),
                status,
                reason: condition.reason.to_owned(),
                message: condition.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

/// The previous conditions with `observed` replacing those of the same type and the others kept
/// as they were: what a failed pass writes, since it observed only what went wrong.
pub fn update(
    previous: &[Condition],
    observed: &[Observed],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let mut all = merge(previous, observed, generation, now);
    let kept = previous.iter().filter(|old| {
        !observed
            .iter()
            .any(|condition| condition.type_.as_str() == old.type_)
    });
    all.extend(kept.cloned());
    all
}

/// Whether the condition of `type_` is `True`.
pub fn is_true(conditions: &[Condition], type_: ConditionType) -> bool {
    conditions
        .iter()
        .any(|condition| condition.type_ == type_.as_str() && condition.status == "True")
}

/// Whether the condition of `type_` currently has `reason` (whatever its status).
pub fn has_reason(conditions: &[Condition], type_: ConditionType, reason: &str) -> bool {
    conditions
        .iter()
        .any(|condition| condition.type_ == type_.as_str() && condition.reason == reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_status_keeps_its_transition_time_and_a_flip_gets_a_new_one() {
        let t0 = Timestamp::from_second(1_000).expect("valid");
        let t1 = Timestamp::from_second(2_000).expect("valid");
        let first = merge(
            &[],
            &[Observed::no(ConditionType::Ready, "Starting", "starting")],
            Some(1),
            t0,
        );
        let same = merge(
            &first,
            &[Observed::no(ConditionType::Ready, "Starting", "still")],
            Some(1),
            t1,
        );
        assert_eq!(same[0].last_transition_time, Time(t0));
        let flipped = merge(
            &same,
            &[Observed::yes(ConditionType::Ready, "Ready", "up")],
            Some(2),
            t1,
        );
        assert_eq!(flipped[0].last_transition_time, Time(t1));
        assert_eq!(flipped[0].observed_generation, Some(2));
    }
}
