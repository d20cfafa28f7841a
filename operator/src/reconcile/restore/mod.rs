//! Reconciles a `Restore`: one backup put back into one Shop's database, phase by phase, each
//! recorded in the status with its times and announced with an Event.
//!
//! `inPlace`: Verifying (a Job runs `shop-api backup verify`: checksum and a restore into a
//! scratch database; a bad backup stops here, before anything is touched) → EnteringMaintenance
//! (the Shop gets [`MAINTENANCE_ANNOTATION`]: its API pods roll to `SHOP_MAINTENANCE=read-only`,
//! its Workers scale to zero) → Restoring (`shop-api backup restore --force`, which checks the
//! checksum and the row counts) → Migrating (`shop-api migrate`, the backup may predate the
//! Shop's version) → LeavingMaintenance → Succeeded. A failed Job ends in Failed with
//! maintenance lifted.
//!
//! `intoNewShop`: the new Shop is created with [`RESTORE_FROM_ANNOTATION`] naming the Restore,
//! which keeps the Shop from migrating and starting its API. Once its database is ready:
//! Verifying → Restoring (into the empty database) → Succeeded, when the annotation is removed
//! and the Shop migrates the restored data and starts its API.
//!
//! Stages as for the Backup: [`dereference`] → [`validate`] → [`desired`] → [`apply`] →
//! [`status`].

pub mod apply;
pub mod dereference;
pub mod desired;
pub mod status;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::{Resource as _, ResourceExt};

use self::desired::Step;
use self::validate::{Source, ValidatedRestore};
use crate::context::Context;
use crate::crd::{
    MAINTENANCE_ANNOTATION, RESTORE_FROM_ANNOTATION, Restore, RestoreMode, RestorePhase,
};
use crate::error::Result;
use crate::reconcile::dereference::namespace_of;
use crate::reconcile::observe::{JobState, deployment_available, job_state};
use crate::reconcile::status::{report_failure, write_observed};

/// How soon to look again while a phase waits for something the Restore does not own (the
/// Shop's Deployments); its own Jobs wake it as they finish.
const WAITING_REQUEUE: Duration = Duration::from_secs(10);

/// The environment variable the API pods of a Shop in maintenance get.
pub const MAINTENANCE_ENV: &str = "SHOP_MAINTENANCE";

/// Brings one Restore a phase further.
pub async fn reconcile(restore: Arc<Restore>, ctx: Arc<Context>) -> Result<Action> {
    match run(&restore, &ctx).await {
        Ok(Some(requeue)) => Ok(Action::requeue(requeue)),
        Ok(None) => Ok(Action::await_change()),
        Err(error) => {
            report_failure(&ctx, &*restore, Vec::new(), &error).await;
            Err(error)
        }
    }
}

/// What a pass decided.
#[derive(Debug)]
enum Next {
    /// Stay in the phase.
    Wait {
        reason: &'static str,
        message: String,
    },
    /// Go on to the phase.
    Enter {
        phase: RestorePhase,
        reason: &'static str,
        message: String,
    },
    /// Stop: the restore failed.
    Fail {
        reason: &'static str,
        message: String,
    },
}

/// One pass; returns when to look again (`None`: the Restore is finished).
async fn run(restore: &Restore, ctx: &Context) -> Result<Option<Duration>> {
    let mut next_status = restore.status.clone().unwrap_or_default();
    let phase = next_status.phase.unwrap_or(RestorePhase::Pending);
    if phase.finished() {
        return Ok(None);
    }
    let namespace = namespace_of(restore)?;
    let found = dereference::dereference(&ctx.client, restore, &namespace).await?;
    let validated = validate::validate(restore, namespace, found)?;
    let next = match &validated.source {
        Err(blocked) if phase == RestorePhase::Pending => Next::Wait {
            reason: blocked.reason,
            message: blocked.message.clone(),
        },
        Err(blocked) => Next::Fail {
            reason: blocked.reason,
            message: blocked.message.clone(),
        },
        Ok(source) => {
            next_status.backup_id = Some(source.id.clone());
            next_status.target = Some(validate::target_url(source));
            step(ctx, &validated, source, phase).await?
        }
    };
    let now = Timestamp::now();
    let (entered, observed, warning) = match next {
        Next::Wait { reason, message } => {
            status::enter(&mut next_status, phase, now);
            (None, status::ready(phase, reason, message), false)
        }
        Next::Enter {
            phase: to,
            reason,
            message,
        } => {
            let changed = status::enter(&mut next_status, to, now);
            (
                changed.then_some((to, reason, message.clone())),
                status::ready(to, reason, message),
                false,
            )
        }
        Next::Fail { reason, message } => {
            if restore.spec.mode == RestoreMode::InPlace {
                lift_maintenance(ctx, restore, &validated.shop).await?;
            }
            let message = format!("{message}; maintenance is lifted");
            status::enter(&mut next_status, RestorePhase::Failed, now);
            (
                Some((RestorePhase::Failed, reason, message.clone())),
                status::ready(RestorePhase::Failed, reason, message),
                true,
            )
        }
    };
    let finished = next_status.phase.is_some_and(RestorePhase::finished);
    write_observed(ctx, restore, next_status, &[observed]).await?;
    if let Some((phase, reason, message)) = entered {
        let note = format!("{}: {message}", phase.as_str());
        ctx.event(&restore.object_ref(&()), warning, reason, note)
            .await;
    }
    Ok(
        (!finished).then_some(if matches!(phase, RestorePhase::Pending) {
            WAITING_REQUEUE
        } else {
            Duration::from_secs(5)
        }),
    )
}

/// Decides (and does) what the phase needs.
async fn step(
    ctx: &Context,
    validated: &ValidatedRestore<'_>,
    source: &Source,
    phase: RestorePhase,
) -> Result<Next> {
    let restore = validated.restore;
    let shop = &validated.shop;
    let shop_name = shop.name_any();
    let mine = restore.name_any();
    let in_place = restore.spec.mode == RestoreMode::InPlace;
    let version = if in_place {
        shop.status
            .as_ref()
            .and_then(|status| status.running_version.clone())
    } else {
        Some(shop.spec.version.clone())
    };
    let job_of = |step: Step| {
        desired::job(
            restore,
            shop,
            source,
            step,
            version.as_deref().unwrap_or_default(),
        )
    };
    let jobs = &validated.found.jobs;
    let state_of = |step: Step| {
        let name = desired::job_name(restore, step);
        jobs.iter()
            .find(|job| job.name_any() == name)
            .map(job_state)
    };
    Ok(match phase {
        RestorePhase::Pending => {
            if let Some(blocked) = blocked(validated, version.as_deref()) {
                return Ok(blocked);
            }
            apply::ensure_job(ctx, jobs, &job_of(Step::Verify)).await?;
            Next::Enter {
                phase: RestorePhase::Verifying,
                reason: "Verifying",
                message: format!(
                    "Job {} checks backup {} before anything is touched",
                    desired::job_name(restore, Step::Verify),
                    source.id
                ),
            }
        }
        RestorePhase::Verifying => match state_of(Step::Verify) {
            None | Some(JobState::Running) => {
                apply::ensure_job(ctx, jobs, &job_of(Step::Verify)).await?;
                Next::Wait {
                    reason: "Verifying",
                    message: format!(
                        "Job {} checks backup {}",
                        desired::job_name(restore, Step::Verify),
                        source.id
                    ),
                }
            }
            Some(JobState::Failed) => Next::Fail {
                reason: "VerificationFailed",
                message: format!(
                    "backup {} failed verification (Job {}; see its logs): it is not restored, \
                     nothing was changed",
                    source.id,
                    desired::job_name(restore, Step::Verify)
                ),
            },
            Some(JobState::Succeeded) if in_place => {
                apply::annotate_shop(ctx, shop, MAINTENANCE_ANNOTATION, Some(&mine)).await?;
                Next::Enter {
                    phase: RestorePhase::EnteringMaintenance,
                    reason: "EnteringMaintenance",
                    message: format!(
                        "Shop {shop_name} turns read-only and its Workers stop before backup {} \
                         replaces its database",
                        source.id
                    ),
                }
            }
            Some(JobState::Succeeded) => {
                start_restore(ctx, jobs, &job_of(Step::Restore), source).await?
            }
        },
        RestorePhase::EnteringMaintenance => {
            apply::annotate_shop(ctx, shop, MAINTENANCE_ANNOTATION, Some(&mine)).await?;
            match maintenance_pending(validated, true) {
                Some(message) => Next::Wait {
                    reason: "EnteringMaintenance",
                    message,
                },
                None => start_restore(ctx, jobs, &job_of(Step::Restore), source).await?,
            }
        }
        RestorePhase::Restoring => match state_of(Step::Restore) {
            None | Some(JobState::Running) => {
                apply::ensure_job(ctx, jobs, &job_of(Step::Restore)).await?;
                Next::Wait {
                    reason: "Restoring",
                    message: format!(
                        "Job {} restores backup {}",
                        desired::job_name(restore, Step::Restore),
                        source.id
                    ),
                }
            }
            Some(JobState::Failed) => Next::Fail {
                reason: "RestoreFailed",
                message: format!(
                    "Job {} failed to restore backup {} (see its logs)",
                    desired::job_name(restore, Step::Restore),
                    source.id
                ),
            },
            Some(JobState::Succeeded) if in_place => {
                apply::ensure_job(ctx, jobs, &job_of(Step::Migrate)).await?;
                Next::Enter {
                    phase: RestorePhase::Migrating,
                    reason: "Migrating",
                    message: format!(
                        "backup {} is restored; Job {} migrates it to version {}",
                        source.id,
                        desired::job_name(restore, Step::Migrate),
                        version.as_deref().unwrap_or_default()
                    ),
                }
            }
            Some(JobState::Succeeded) => {
                // The Shop may start now: it migrates the restored data and rolls out its API.
                apply::annotate_shop(ctx, shop, RESTORE_FROM_ANNOTATION, None).await?;
                Next::Enter {
                    phase: RestorePhase::Succeeded,
                    reason: "Restored",
                    message: format!(
                        "backup {} is restored into Shop {shop_name}'s new database, which \
                         now migrates and starts",
                        source.id
                    ),
                }
            }
        },
        RestorePhase::Migrating => match state_of(Step::Migrate) {
            None | Some(JobState::Running) => {
                apply::ensure_job(ctx, jobs, &job_of(Step::Migrate)).await?;
                Next::Wait {
                    reason: "Migrating",
                    message: format!(
                        "Job {} migrates the restored database",
                        desired::job_name(restore, Step::Migrate)
                    ),
                }
            }
            Some(JobState::Failed) => Next::Fail {
                reason: "MigrationFailed",
                message: format!(
                    "backup {} is restored, but Job {} failed to migrate it (see its logs)",
                    source.id,
                    desired::job_name(restore, Step::Migrate)
                ),
            },
            Some(JobState::Succeeded) => {
                lift_maintenance(ctx, restore, shop).await?;
                Next::Enter {
                    phase: RestorePhase::LeavingMaintenance,
                    reason: "LeavingMaintenance",
                    message: format!("Shop {shop_name} leaves maintenance"),
                }
            }
        },
        RestorePhase::LeavingMaintenance => {
            lift_maintenance(ctx, restore, shop).await?;
            match maintenance_pending(validated, false) {
                Some(message) => Next::Wait {
                    reason: "LeavingMaintenance",
                    message,
                },
                None => Next::Enter {
                    phase: RestorePhase::Succeeded,
                    reason: "Restored",
                    message: format!(
                        "backup {} is restored and Shop {shop_name} serves it, writes included",
                        source.id
                    ),
                },
            }
        }
        RestorePhase::Succeeded | RestorePhase::Failed => Next::Wait {
            reason: "Finished",
            message: String::new(),
        },
    })
}

/// Why a Pending Restore cannot start yet (or cannot at all).
fn blocked(validated: &ValidatedRestore<'_>, running: Option<&str>) -> Option<Next> {
    let shop = &validated.shop;
    let name = shop.name_any();
    let mine = validated.restore.name_any();
    let annotations = shop.annotations();
    let served = shop
        .status
        .as_ref()
        .and_then(|status| status.running_version.as_ref())
        .is_some();
    if validated.restore.spec.mode == RestoreMode::InPlace {
        if running.is_none() {
            return Some(Next::Wait {
                reason: "ShopNotServing",
                message: format!(
                    "Shop {name} has never served: restore into it with mode intoNewShop"
                ),
            });
        }
        if let Some(other) = annotations
            .get(MAINTENANCE_ANNOTATION)
            .filter(|holder| **holder != mine)
        {
            return Some(Next::Wait {
                reason: "ShopInMaintenance",
                message: format!("Shop {name} is in maintenance for {other}: waiting for it"),
            });
        }
        return None;
    }
    if served {
        return Some(Next::Fail {
            reason: "ShopAlreadyServing",
            message: format!(
                "Shop {name} has served already: intoNewShop restores only into a Shop that \
                 never started (use mode inPlace)"
            ),
        });
    }
    if annotations.get(RESTORE_FROM_ANNOTATION) != Some(&mine) {
        return Some(Next::Wait {
            reason: "ShopNotHeld",
            message: format!(
                "Shop {name} must be created with the annotation {RESTORE_FROM_ANNOTATION}: \
                 {mine}, so that it waits for this restore before it migrates and starts"
            ),
        });
    }
    let database_ready = shop.status.as_ref().is_some_and(|status| {
        status
            .conditions
            .iter()
            .any(|condition| condition.type_ == "DatabaseReady" && condition.status == "True")
    });
    (!database_ready).then(|| Next::Wait {
        reason: "WaitingForDatabase",
        message: format!("waiting for Shop {name}'s database (condition DatabaseReady)"),
    })
}

/// Creates the restore Job and enters Restoring.
async fn start_restore(
    ctx: &Context,
    jobs: &[k8s_openapi::api::batch::v1::Job],
    job: &k8s_openapi::api::batch::v1::Job,
    source: &Source,
) -> Result<Next> {
    apply::ensure_job(ctx, jobs, job).await?;
    Ok(Next::Enter {
        phase: RestorePhase::Restoring,
        reason: "Restoring",
        message: format!("Job {} restores backup {}", job.name_any(), source.id),
    })
}

/// Removes the maintenance annotation when this Restore set it.
async fn lift_maintenance(ctx: &Context, restore: &Restore, shop: &crate::crd::Shop) -> Result<()> {
    if shop.annotations().get(MAINTENANCE_ANNOTATION) == Some(&restore.name_any()) {
        apply::annotate_shop(ctx, shop, MAINTENANCE_ANNOTATION, None).await?;
    }
    Ok(())
}

/// What maintenance still waits for: entering (`on`), the API rolled out read-only and every
/// Worker at zero pods; leaving, the API rolled out without it. `None` once done.
fn maintenance_pending(validated: &ValidatedRestore<'_>, on: bool) -> Option<String> {
    let name = validated.shop.name_any();
    let api_done = validated
        .found
        .api
        .as_ref()
        .is_some_and(|api| read_only(api) == on && deployment_available(api));
    if !api_done {
        let state = if on { "read-only" } else { "writable" };
        return Some(format!("waiting for Shop {name}'s API to roll out {state}"));
    }
    if on {
        let running: Vec<String> = validated
            .found
            .workers
            .iter()
            .filter(|deployment| {
                let wanted = deployment.spec.as_ref().and_then(|spec| spec.replicas);
                let pods = deployment
                    .status
                    .as_ref()
                    .and_then(|status| status.replicas)
                    .unwrap_or(0);
                wanted != Some(0) || pods > 0
            })
            .map(ResourceExt::name_any)
            .collect();
        if !running.is_empty() {
            return Some(format!(
                "waiting for the Workers to stop: {}",
                running.join(", ")
            ));
        }
    }
    None
}

/// Whether the API Deployment's pods are built read-only.
pub fn read_only(api: &Deployment) -> bool {
    api.spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .into_iter()
        .flat_map(|pod| &pod.containers)
        .flat_map(|container| container.env.iter().flatten())
        .any(|var| var.name == MAINTENANCE_ENV && var.value.as_deref() == Some("read-only"))
}
