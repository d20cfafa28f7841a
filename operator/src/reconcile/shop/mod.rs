//! Reconciles a `Shop` as a staged pipeline, one module per stage:
//! [`dereference`] (read what the spec names and what exists) → [`validate`] (a
//! [`ValidatedShop`](validate::ValidatedShop), or a typed reason nothing can be done) →
//! [`desired`] (pure build of every object) → [`apply`] (server-side apply in a fixed order) →
//! [`status`] (conditions, Events). A stage's error stops the pass and is shown on the Shop as
//! `Ready=False` with a reason, a message and `observedGeneration`, plus a Warning Event.

pub mod apply;
pub mod dereference;
pub mod desired;
pub mod operated;
pub mod status;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;

use crate::conditions::{ConditionType, Observed};
use crate::context::Context;
use crate::crd::Shop;
use crate::error::{Error, Result};
use crate::reconcile::dereference::namespace_of;
use crate::reconcile::status::{report_failure, write_observed};

/// How soon to look again while something is still starting (owned objects' changes also
/// trigger a reconcile; this is the safety net).
const PROGRESSING_REQUEUE: Duration = Duration::from_secs(15);
/// How soon to look again when everything is ready: drift on objects the operator does not watch
/// and a newly installed ServiceMonitor CRD are noticed within this time.
const STEADY_REQUEUE: Duration = Duration::from_secs(300);

/// Brings the cluster in line with one Shop.
pub async fn reconcile(shop: Arc<Shop>, ctx: Arc<Context>) -> Result<Action> {
    if shop.spec.paused {
        // Only Ready changes: what the other conditions last said is still what was observed.
        let paused = [Observed::no(
            ConditionType::Ready,
            "Paused",
            "spec.paused is true: nothing is changed",
        )];
        return match write_paused(&ctx, &shop, &paused).await {
            Ok(()) => Ok(Action::await_change()),
            Err(error) => {
                report_failure(&ctx, &*shop, Vec::new(), &error).await;
                Err(error)
            }
        };
    }
    match run(&shop, &ctx).await {
        Ok(next_look) => Ok(Action::requeue(next_look)),
        Err(error) => {
            report_failure(&ctx, &*shop, status::failure_conditions(&error), &error).await;
            Err(error)
        }
    }
}

/// Writes the paused Shop's status: its conditions as they were, with `paused` replacing theirs.
async fn write_paused(ctx: &Context, shop: &Shop, paused: &[Observed]) -> Result<()> {
    let mut status = shop.status.clone().unwrap_or_default();
    status.conditions = crate::conditions::update(
        &status.conditions,
        paused,
        shop.metadata.generation,
        k8s_openapi::jiff::Timestamp::now(),
    );
    status.observed_generation = shop.metadata.generation;
    Ok(crate::apply::write_status(&ctx.client, shop, shop.status.as_ref(), &status).await?)
}

/// One pass through the stages; returns how soon to look again: long when the Shop is ready or
/// waits for another operator to be installed, short while something is starting.
async fn run(shop: &Shop, ctx: &Context) -> Result<Duration> {
    let namespace = namespace_of(shop)?;
    let found = dereference::dereference(&ctx.client, shop, &namespace).await?;
    let validated = validate::validate(shop, namespace, found)?;
    let desired = desired::desired(&validated, &*ctx.new_secret);
    let applied = apply::apply_all(ctx, &validated, &desired).await?;

    let observed = status::observe(&validated, &desired, &applied);
    status::publish_events(ctx, &validated, &desired, &applied).await;
    let mut next = shop.status.clone().unwrap_or_default();
    next.running_version = desired.serving_version.clone();
    next.endpoints = Some(status::endpoints(&validated));
    let ready = observed
        .iter()
        .any(|condition| condition.type_ == ConditionType::Ready && condition.status);
    write_observed(ctx, shop, next, &observed).await?;
    Ok(if ready && desired.operated.hands_over() {
        operated::OPERATED_REQUEUE
    } else if ready {
        STEADY_REQUEUE
    } else if desired.operated.waits_for_an_operator() {
        operated::OPERATOR_MISSING_REQUEUE
    } else {
        PROGRESSING_REQUEUE
    })
}

/// Every object the operator would apply for `shop` on an empty cluster where the CRDs exist,
/// over the passes that take it to Ready: the migration Job of `spec.version`, and everything
/// that runs once it succeeded. What `shop-operator render` prints; generated credentials are
/// placeholders, and the Secrets the spec names are taken to exist.
pub fn render(shop: &Shop) -> std::result::Result<Vec<serde_json::Value>, Error> {
    let validated = validate::ValidatedShop {
        shop,
        name: kube::ResourceExt::name_any(shop),
        namespace: namespace_of(shop)?,
        running_version: Some(shop.spec.version.clone()),
        found: dereference::Found::empty_cluster(shop),
    };
    let placeholder = || "generated-when-applied".to_owned();
    let mut objects = desired::desired(&validated, &placeholder).objects();
    let job = desired::migration_job(shop, &shop.spec.version);
    let job = serde_json::to_value(job).map_err(crate::error::ApplyError::from)?;
    // The Job runs before the API: print it where it is applied.
    let api_at = objects
        .iter()
        .position(|object| object["kind"] == "Deployment")
        .unwrap_or(objects.len());
    objects.insert(api_at, job);
    Ok(objects)
}
