//! Status: the conditions a pass observed, the Events worth telling, and the failure view of the
//! errors that stop a pass.

use kube::Resource;

use super::apply::Applied;
use super::dereference::backend_field;
use super::desired::{DesiredShop, Migration, ready_replicas};
use super::operated;
use super::validate::ValidatedShop;
use crate::build::shop as build;
use crate::conditions::{self, ConditionType, Observed};
use crate::context::Context;
use crate::error::{Error, ValidationError};
use crate::names::{self, Backend};
use crate::reconcile::observe::{JobState, deployment_available};
use crate::reconcile::status::previous_conditions;

/// The Shop condition that reports `backend`.
pub fn backend_condition(backend: Backend) -> ConditionType {
    match backend {
        Backend::Postgres => ConditionType::DatabaseReady,
        Backend::Redis => ConditionType::CacheReady,
        Backend::RabbitMq => ConditionType::QueueReady,
    }
}

/// The conditions of a pass that got through every stage.
pub fn observe(
    validated: &ValidatedShop<'_>,
    desired: &DesiredShop,
    applied: &Applied,
) -> Vec<Observed> {
    let shop = validated.shop;
    let target = validated.target_version();
    let mut observed = Vec::new();
    for backend in Backend::ALL {
        if let Some(handed_over) =
            operated::condition(backend, &desired.operated, &applied.operated)
        {
            observed.push(handed_over);
            continue;
        }
        let condition = backend_condition(backend);
        let name = names::backend(&validated.name, backend);
        let stateful_set = applied
            .stateful_sets
            .iter()
            .find(|(applied, _)| *applied == backend)
            .map(|(_, stateful_set)| stateful_set);
        observed.push(match stateful_set {
            None => Observed::yes(
                condition,
                "External",
                "using the external server from its Secret",
            ),
            Some(stateful_set) if ready_replicas(stateful_set) >= 1 => {
                Observed::yes(condition, "Running", format!("StatefulSet {name} is ready"))
            }
            Some(_) => Observed::no(
                condition,
                "Starting",
                format!("waiting for StatefulSet {name}"),
            ),
        });
    }

    let job_name = names::migration_job(&validated.name, target);
    observed.push(match &desired.migration {
        Migration::Done
        | Migration::Existing {
            state: JobState::Succeeded,
            ..
        } => Observed::yes(
            ConditionType::Migrated,
            "Migrated",
            format!("the schema is at version {target}"),
        ),
        Migration::WaitingForRestore { restore } => Observed::no(
            ConditionType::Migrated,
            "WaitingForRestore",
            format!(
                "version {target} is migrated once Restore {restore} has filled the database \
                 (annotation shop.dev/restore-from)"
            ),
        ),
        Migration::WaitingForDatabase => Observed::no(
            ConditionType::Migrated,
            "WaitingForDatabase",
            format!("version {target} is migrated once the database is ready"),
        ),
        Migration::Start(_)
        | Migration::Existing {
            state: JobState::Running,
            ..
        } => Observed::no(
            ConditionType::Migrated,
            "Migrating",
            format!("Job {job_name} is migrating to version {target}"),
        ),
        Migration::Existing {
            state: JobState::Failed,
            ..
        } => Observed::no(
            ConditionType::Migrated,
            "MigrationFailed",
            format!(
                "Job {job_name} migrating to {target} failed; see its logs. Delete the Job to \
                 retry, or set spec.version back"
            ),
        ),
        Migration::Replace { job_name } => Observed::no(
            ConditionType::Migrated,
            "Retrying",
            format!("Job {job_name} failed and the Shop changed since; it is replaced"),
        ),
    });

    let api = names::api(&validated.name);
    observed.push(match (&applied.deployment, &desired.serving_version) {
        (Some(deployment), Some(version)) if deployment_available(deployment) => Observed::yes(
            ConditionType::ApiReady,
            "Available",
            format!("Deployment {api} runs version {version}"),
        ),
        (Some(_), Some(version)) => Observed::no(
            ConditionType::ApiReady,
            "RollingOut",
            format!("Deployment {api} is rolling out {version}"),
        ),
        _ => Observed::no(
            ConditionType::ApiReady,
            "WaitingForMigration",
            "the API starts once the first migration has succeeded",
        ),
    });

    observed.extend(desired.service_monitor.condition(&api, "scrapes the API"));
    let alerts = names::alerts(&validated.name);
    observed.extend(
        desired
            .prometheus_rule
            .condition(&alerts, "holds the shop's alerting rules"),
    );

    // Monitoring and alerting are optional: a missing Prometheus Operator does not make the shop
    // unready.
    let waiting: Vec<&str> = observed
        .iter()
        .filter(|condition| {
            !condition.status
                && !matches!(
                    condition.type_,
                    ConditionType::MonitoringReady | ConditionType::AlertsReady
                )
        })
        .map(|condition| condition.type_.as_str())
        .collect();
    observed.push(if waiting.is_empty() {
        Observed::yes(
            ConditionType::Ready,
            "Ready",
            format!("version {} is serving", shop.spec.version),
        )
    } else {
        Observed::no(
            ConditionType::Ready,
            "Progressing",
            format!("waiting for {}", waiting.join(", ")),
        )
    });
    observed
}

/// Publishes the Events of a pass: generated credentials (one Event naming every Secret), a
/// migration started, finished (an install or an upgrade) or failed, a missing ServiceMonitor
/// CRD. Transitions only, so that a steady Shop records nothing.
pub async fn publish_events(
    ctx: &Context,
    validated: &ValidatedShop<'_>,
    desired: &DesiredShop,
    applied: &Applied,
) {
    let shop = validated.shop.object_ref(&());
    let previous = previous_conditions(validated.shop);
    let target = validated.target_version();
    let job_name = names::migration_job(&validated.name, target);

    let generated: Vec<String> = desired
        .generated_secrets
        .iter()
        .filter(|generated| generated.new)
        .map(|generated| {
            format!(
                "{} in Secret {}",
                generated.what,
                generated
                    .secret
                    .metadata
                    .name
                    .as_deref()
                    .unwrap_or_default()
            )
        })
        .collect();
    if !generated.is_empty() {
        let note = format!("generated credentials: {}", generated.join("; "));
        ctx.event(&shop, false, "CredentialsGenerated", note).await;
    }
    if applied.migration_started {
        let note = match &validated.running_version {
            None => format!("Job {job_name} installs the schema of version {target}"),
            Some(from) => format!("Job {job_name} migrates from version {from} to {target}"),
        };
        ctx.event(&shop, false, "Migrating", note).await;
    }
    match &desired.migration {
        Migration::Existing {
            state: JobState::Succeeded,
            ..
        } => {
            let (reason, note) = match &validated.running_version {
                None => ("Installed", format!("version {target} is installed")),
                Some(from) => ("Upgraded", format!("version {target} replaces {from}")),
            };
            ctx.event(&shop, false, reason, note).await;
        }
        Migration::Existing {
            state: JobState::Failed,
            ..
        } if !conditions::has_reason(previous, ConditionType::Migrated, "MigrationFailed") => {
            let note = format!("Job {job_name} failed; the API stays at its current version");
            ctx.event(&shop, true, "MigrationFailed", note).await;
        }
        _ => {}
    }
    operated::publish_events(ctx, &shop, previous, &desired.operated).await;
    desired
        .service_monitor
        .publish_event(ctx, &shop, previous)
        .await;
    desired
        .prometheus_rule
        .publish_event(ctx, &shop, previous)
        .await;
}

/// Conditions a failure explains besides `Ready`: an external backend whose Secret is missing.
pub fn failure_conditions(error: &Error) -> Vec<Observed> {
    let Error::Validation(ValidationError::MissingSecrets(missing)) = error else {
        return Vec::new();
    };
    Backend::ALL
        .into_iter()
        .filter_map(|backend| {
            let field = format!("spec.{}.external.secretRef", backend_field(backend));
            let missing = missing.iter().find(|missing| missing.field == field)?;
            Some(Observed::no(
                backend_condition(backend),
                "SecretMissing",
                format!("the external server's URL is missing: {missing}"),
            ))
        })
        .collect()
}

/// `status.endpoints` of the Shop.
pub fn endpoints(validated: &ValidatedShop<'_>) -> crate::crd::ShopEndpoints {
    build::endpoints(validated.shop)
}
