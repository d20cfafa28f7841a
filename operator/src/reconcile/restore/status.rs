//! Status: the phase, when each phase started and ended, and `Ready`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::conditions::{ConditionType, Observed};
use crate::crd::{PhaseRecord, RestorePhase, RestoreStatus};

/// Moves `status` to `phase` (closing the phase it was in), unless it is there already.
/// Returns whether the phase changed.
pub fn enter(status: &mut RestoreStatus, phase: RestorePhase, now: Timestamp) -> bool {
    if status.phase == Some(phase) && !status.phases.is_empty() {
        return false;
    }
    if let Some(last) = status.phases.last_mut() {
        last.finished_at.get_or_insert(Time(now));
    }
    status.phases.push(PhaseRecord {
        phase,
        started_at: Time(now),
        finished_at: phase.finished().then_some(Time(now)),
    });
    status.phase = Some(phase);
    true
}

/// `Ready` in `phase`: `True` once succeeded; else `False` with `reason` and `message`.
pub fn ready(phase: RestorePhase, reason: &'static str, message: String) -> Observed {
    if phase == RestorePhase::Succeeded {
        Observed::yes(ConditionType::Ready, reason, message)
    } else {
        Observed::no(ConditionType::Ready, reason, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entering_a_phase_closes_the_previous_one_once() {
        let mut status = RestoreStatus::default();
        let t0 = Timestamp::from_second(1_000).expect("time");
        let t1 = Timestamp::from_second(2_000).expect("time");
        assert!(enter(&mut status, RestorePhase::Verifying, t0));
        assert!(!enter(&mut status, RestorePhase::Verifying, t1));
        assert!(enter(&mut status, RestorePhase::Failed, t1));
        assert_eq!(status.phases.len(), 2);
        assert_eq!(status.phases[0].finished_at, Some(Time(t1)));
        assert_eq!(status.phases[1].finished_at, Some(Time(t1)));
        assert_eq!(status.phase, Some(RestorePhase::Failed));
    }
}
