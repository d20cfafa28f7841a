//! Reconciles a `Backup`: a CronJob (scheduled) or a Job (run once) of `shop-api backup create`
//! with the Shop's database credentials, and a status built from the Jobs' outcomes and the
//! reports their pods leave in their termination messages.
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
use crate::crd::Backup;
use crate::error::Result;
use crate::reconcile::dereference::namespace_of;
use crate::reconcile::status::{report_failure, write_observed};
use crate::reconcile::validate::Plan;

/// How soon to look again while a run is in progress or the Shop is not ready.
const WAITING_REQUEUE: Duration = Duration::from_secs(30);
/// How soon to look again otherwise: new runs of a CronJob also wake the controller (it owns
/// the CronJob, not the Jobs the CronJob creates).
const STEADY_REQUEUE: Duration = Duration::from_secs(120);

/// Brings the cluster in line with one Backup.
pub async fn reconcile(backup: Arc<Backup>, ctx: Arc<Context>) -> Result<Action> {
    match run(&backup, &ctx).await {
        Ok(requeue) => Ok(Action::requeue(requeue)),
        Err(error) => {
            report_failure(&ctx, &*backup, Vec::new(), &error).await;
            Err(error)
        }
    }
}

/// One pass through the stages; returns when to look again.
async fn run(backup: &Backup, ctx: &Context) -> Result<Duration> {
    let namespace = namespace_of(backup)?;
    let found = dereference::dereference(&ctx.client, backup, &namespace).await?;
    let validated = validate::validate(backup, namespace, found)?;
    let mut next = backup.status.clone().unwrap_or_default();
    let mut observed = Vec::new();
    match &validated.plan {
        Plan::Wait { reason, message } => {
            observed.push(crate::conditions::Observed::no(
                crate::conditions::ConditionType::Ready,
                reason,
                message.clone(),
            ));
        }
        Plan::Run { version } => {
            let desired = desired::desired(&validated, version);
            let applied = apply::apply_all(ctx, &validated, &desired).await?;
            observed.push(status::ready(&validated, &applied, &mut next));
        }
    }
    // Read back after applying: a Job created in this pass shows as running.
    let runs = dereference::runs(&ctx.client, backup, &validated.namespace).await?;
    observed.extend(status::history(&runs, &mut next));
    let verification = status::verification(&next);
    observed.extend(verification.clone());
    let running = next
        .history
        .first()
        .is_some_and(|run| run.outcome == "Running");
    let steady = matches!(validated.plan, Plan::Run { .. }) && !running;
    let previous = crate::reconcile::status::previous_conditions(backup).to_vec();
    write_observed(ctx, backup, next, &observed).await?;
    if let Some(failed) = verification.filter(|observed| !observed.status) {
        warn_of_failed_verification(ctx, backup, &previous, failed).await;
    }
    Ok(if steady {
        STEADY_REQUEUE
    } else {
        WAITING_REQUEUE
    })
}

/// A Warning Event for a failed verification, once per failed run: the condition's message names
/// the run, so a pass that finds the same condition already written publishes nothing.
async fn warn_of_failed_verification(
    ctx: &Context,
    backup: &Backup,
    previous: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    failed: crate::conditions::Observed,
) {
    let known = previous.iter().any(|condition| {
        condition.type_ == failed.type_.as_str()
            && condition.status == "False"
            && condition.message == failed.message
    });
    if !known {
        use kube::Resource as _;
        ctx.event(
            &backup.object_ref(&()),
            true,
            status::VERIFICATION_FAILED,
            event_note(failed.message),
        )
        .await;
    }
}

/// Longest Event note the API server accepts (events.k8s.io/v1: 1 kB).
const NOTE_LIMIT: usize = 1024;

/// `message` cut at a character boundary to fit an Event's note; the condition keeps it whole.
fn event_note(mut message: String) -> String {
    if message.len() > NOTE_LIMIT {
        let mut end = NOTE_LIMIT - '…'.len_utf8();
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

/// The objects the operator would apply for `backup` once `shop` runs its `spec.version`, its
/// S3 credentials Secret taken to exist: what `shop-operator render` prints.
pub fn render(backup: &Backup, shop: &crate::crd::Shop) -> Result<Vec<serde_json::Value>> {
    let namespace = namespace_of(backup)?;
    // Every Secret the spec names, with every key it reads.
    let mut secrets = std::collections::BTreeMap::new();
    for reference in dereference::secret_references(backup) {
        let secret = secrets
            .entry(reference.name)
            .or_insert_with(|| Some(k8s_openapi::api::core::v1::Secret::default()));
        if let (Some(secret), Some(key)) = (secret.as_mut(), reference.key) {
            secret
                .string_data
                .get_or_insert_with(Default::default)
                .insert(key, String::new());
        }
    }
    let found = dereference::Found {
        shop: Some(shop.clone()),
        secrets,
        ..dereference::Found::default()
    };
    let validated = validate::validate(backup, namespace, found)?;
    Ok(desired::desired(&validated, &shop.spec.version).objects())
}

#[cfg(test)]
mod tests {
    use super::{NOTE_LIMIT, event_note};

    #[test]
    fn an_event_note_fits_the_api_servers_limit() {
        assert_eq!(event_note("short".to_owned()), "short");
        let cut = event_note("é".repeat(NOTE_LIMIT));
        assert!(
            cut.len() <= NOTE_LIMIT && cut.ends_with('…'),
            "{}",
            cut.len()
        );
    }
}
