//! Reconciles a `Shop`: dereference → validate → build → apply in a fixed order → read back →
//! status.
//!
//! The API moves to a new version only after that version's migration Job succeeded: the
//! Deployment is built from `status.runningVersion`, which advances when the Job completes. A
//! failed migration leaves the old version serving and says so in `Migrated`.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};

use crate::apply::{Outcome, apply, delete_owned, write_status};
use crate::build::service_monitor::{SERVICE_MONITOR_CRD, ServiceMonitor};
use crate::build::shop as build;
use crate::conditions::{self, Observed};
use crate::context::Context;
use crate::crd::{SecretKeyRef, Shop};
use crate::error::{Error, Result};
use crate::names::{self, Backend};

/// Annotation on a migration Job: a hash of its pod template, to notice a Shop edit that changes
/// what a (failed, immutable) Job would run.
const TEMPLATE_HASH_ANNOTATION: &str = "shop.dev/template-hash";

/// How soon to look again while something is still starting (owned objects' changes also
/// trigger a reconcile; this is the safety net).
const PROGRESSING_REQUEUE: Duration = Duration::from_secs(15);
/// How soon to look again when everything is ready: drift on objects the operator does not watch
/// and a newly installed ServiceMonitor CRD are noticed within this time.
const STEADY_REQUEUE: Duration = Duration::from_secs(300);

/// Brings the cluster in line with one Shop.
pub async fn reconcile(shop: Arc<Shop>, ctx: Arc<Context>) -> Result<Action> {
    let namespace = shop
        .namespace()
        .ok_or_else(|| Error::InvalidSpec("a Shop is namespaced".to_owned()))?;
    if shop.spec.paused {
        let observed = vec![Observed::no(
            "Ready",
            "Paused",
            "spec.paused is true: nothing is changed",
        )];
        let mut status = shop.status.clone().unwrap_or_default();
        status.conditions = conditions::merge(
            &status.conditions,
            &observed,
            shop.metadata.generation,
            Timestamp::now(),
        );
        write_status(&ctx.client, &*shop, shop.status.as_ref(), &status).await?;
        return Ok(Action::await_change());
    }
    let mut pass = Pass {
        ctx: &ctx,
        shop: &shop,
        namespace: &namespace,
        observed: Vec::new(),
    };
    let next = pass.run().await?;
    let Pass { observed, .. } = pass;
    let mut status = shop.status.clone().unwrap_or_default();
    status.running_version = next.running_version;
    status.endpoints = Some(build::endpoints(&shop));
    status.observed_generation = shop.metadata.generation;
    status.conditions = conditions::merge(
        &status.conditions,
        &observed,
        shop.metadata.generation,
        Timestamp::now(),
    );
    let ready = conditions::is_true(&status.conditions, "Ready");
    write_status(&ctx.client, &*shop, shop.status.as_ref(), &status).await?;
    Ok(Action::requeue(if ready {
        STEADY_REQUEUE
    } else {
        PROGRESSING_REQUEUE
    }))
}

/// The parts of the new status that [`Pass::run`] decides besides conditions.
struct Next {
    running_version: Option<String>,
}

/// One reconcile of one Shop, collecting conditions as it goes.
struct Pass<'a> {
    ctx: &'a Context,
    shop: &'a Shop,
    namespace: &'a str,
    observed: Vec<Observed>,
}

impl Pass<'_> {
    async fn run(&mut self) -> Result<Next> {
        let client = &self.ctx.client;
        let shop = self.shop;
        let name = shop.name_any();

        // Dereference: Secrets the user supplies must exist before pods can start.
        let missing = self.missing_secrets().await?;

        // Configuration and generated credentials.
        let config = build::config_map(shop);
        let config_hash = build::config_hash(&config);
        apply(client, &config).await?;
        if self.shop.spec.auth.jwt_secret_ref.is_none() {
            let existing = self
                .get::<Secret>(&names::credentials_secret(&name))
                .await?;
            let secret = build::credentials_secret(shop, existing.as_ref(), &*self.ctx.new_secret);
            if let Some(secret) = secret {
                self.apply_secret(&secret, existing.is_none(), "the JWT signing key")
                    .await?;
            }
        }

        // Backends.
        let mut backends_ready = true;
        for backend in Backend::ALL {
            let ready = self.reconcile_backend(backend, &missing).await?;
            backends_ready &= ready;
        }

        // Migration, then the API at the newest migrated version.
        let database_ready = conditions_of(&self.observed, Backend::Postgres.condition());
        let running = self.migrate(database_ready && missing.is_empty()).await?;
        let api_ready = match &running {
            Some(version) => self.reconcile_api(version, &config_hash).await?,
            None => {
                self.observed.push(Observed::no(
                    "ApiReady",
                    "WaitingForMigration",
                    "the API starts once the first migration has succeeded",
                ));
                false
            }
        };
        self.reconcile_service_monitor().await?;

        let migrated = conditions_of(&self.observed, "Migrated");
        let ready = backends_ready && migrated && api_ready && missing.is_empty();
        self.observed.push(if ready {
            Observed::yes(
                "Ready",
                "Ready",
                format!("version {} is serving", shop.spec.version),
            )
        } else if !missing.is_empty() {
            Observed::no(
                "Ready",
                "SecretMissing",
                format!("missing: {}", missing.join(", ")),
            )
        } else {
            let waiting: Vec<&str> = self
                .observed
                .iter()
                .filter(|condition| !condition.status && condition.type_ != "MonitoringReady")
                .map(|condition| condition.type_)
                .collect();
            Observed::no(
                "Ready",
                "Progressing",
                format!("waiting for {}", waiting.join(", ")),
            )
        });
        Ok(Next {
            running_version: running,
        })
    }

    /// User-supplied Secret keys that do not exist, as `secret/key` strings.
    async fn missing_secrets(&self) -> Result<Vec<String>> {
        let spec = &self.shop.spec;
        let mut wanted: Vec<SecretKeyRef> = Backend::ALL
            .into_iter()
            .filter_map(|backend| build::backend_spec(self.shop, backend).external.as_ref())
            .map(|external| external.secret_ref.clone())
            .collect();
        wanted.extend(spec.auth.jwt_secret_ref.clone());
        let whole = [
            spec.payments.as_ref(),
            spec.smtp.as_ref().map(|smtp| &smtp.secret_ref),
        ];
        let mut missing = Vec::new();
        for reference in whole.into_iter().flatten() {
            if self.get::<Secret>(&reference.name).await?.is_none() {
                missing.push(format!("Secret {}", reference.name));
            }
        }
        for reference in wanted {
            let secret = self.get::<Secret>(&reference.name).await?;
            let has_key = secret.as_ref().is_some_and(|secret| {
                secret
                    .data
                    .as_ref()
                    .is_some_and(|data| data.contains_key(&reference.key))
                    || secret
                        .string_data
                        .as_ref()
                        .is_some_and(|data| data.contains_key(&reference.key))
            });
            if !has_key {
                missing.push(format!(
                    "key {} of Secret {}",
                    reference.key, reference.name
                ));
            }
        }
        Ok(missing)
    }

    /// Applies a managed backend's objects, or checks an external one's Secret; records its
    /// condition and returns whether it is ready.
    async fn reconcile_backend(&mut self, backend: Backend, missing: &[String]) -> Result<bool> {
        let client = &self.ctx.client;
        let shop = self.shop;
        let condition = backend.condition();
        let spec = build::backend_spec(shop, backend);
        let Some(managed) = &spec.managed else {
            let reference = spec.external.as_ref().map(|external| &external.secret_ref);
            let absent = reference.is_some_and(|reference| {
                missing
                    .iter()
                    .any(|entry| entry.ends_with(&format!("Secret {}", reference.name)))
            });
            self.observed.push(if absent {
                Observed::no(
                    condition,
                    "SecretMissing",
                    "the external server's URL Secret is missing",
                )
            } else {
                Observed::yes(
                    condition,
                    "External",
                    "using the external server from its Secret",
                )
            });
            return Ok(!absent);
        };
        let name = names::backend(&shop.name_any(), backend);
        let existing = self.get::<Secret>(&name).await?;
        let secret = build::backend_secret(shop, backend, existing.as_ref(), &*self.ctx.new_secret);
        self.apply_secret(&secret, existing.is_none(), backend.as_str())
            .await?;
        apply(client, &build::backend_service(shop, backend)).await?;
        let (stateful_set, _) =
            apply(client, &build::backend_stateful_set(shop, backend, managed)).await?;
        if shop.spec.network_policy.enabled {
            apply(client, &build::backend_network_policy(shop, backend)).await?;
        } else {
            self.delete::<NetworkPolicy>(&name).await?;
        }
        let ready = stateful_set
            .status
            .as_ref()
            .and_then(|status| status.ready_replicas)
            .unwrap_or(0)
            >= 1;
        self.observed.push(if ready {
            Observed::yes(condition, "Running", format!("StatefulSet {name} is ready"))
        } else {
            Observed::no(
                condition,
                "Starting",
                format!("waiting for StatefulSet {name}"),
            )
        });
        Ok(ready)
    }

    /// Runs the migration of `spec.version` when it has not run yet and returns the version the
    /// API may run: the target once its migration succeeded, else the previous one (if any).
    async fn migrate(&mut self, database_ready: bool) -> Result<Option<String>> {
        let target = self.shop.spec.version.clone();
        let running = self
            .shop
            .status
            .as_ref()
            .and_then(|status| status.running_version.clone());
        if running.as_deref() == Some(target.as_str()) {
            self.observed.push(Observed::yes(
                "Migrated",
                "Migrated",
                format!("the schema is at version {target}"),
            ));
            return Ok(running);
        }
        if !database_ready {
            self.observed.push(Observed::no(
                "Migrated",
                "WaitingForDatabase",
                format!("version {target} is migrated once the database is ready"),
            ));
            return Ok(running);
        }
        // A Job's pod template is immutable, so an existing Job is never re-applied. When the
        // Shop changed what the Job would run (image, secrets) and the Job failed, it is deleted
        // so that the next pass starts a fresh one with the corrected template.
        let mut desired = build::migration_job(self.shop, &target);
        let template_hash = names::short_hash(&serde_json::to_string(
            &desired.spec.as_ref().map(|spec| &spec.template),
        )?);
        desired
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(TEMPLATE_HASH_ANNOTATION.to_owned(), template_hash.clone());
        let object = self.shop.object_ref(&());
        let job_name = desired.name_any();
        let (job, outcome) = match self.get::<Job>(&job_name).await? {
            None => apply(&self.ctx.client, &desired).await?,
            Some(existing) => {
                let existing_hash = existing
                    .annotations()
                    .get(TEMPLATE_HASH_ANNOTATION)
                    .cloned()
                    .unwrap_or_default();
                if existing_hash != template_hash && job_state(&existing) == JobState::Failed {
                    self.delete::<Job>(&job_name).await?;
                    self.observed.push(Observed::no(
                        "Migrated",
                        "Retrying",
                        format!("Job {job_name} failed and the Shop changed since; it is replaced"),
                    ));
                    return Ok(running);
                }
                (existing, Outcome::Unchanged)
            }
        };
        if outcome == Outcome::Created {
            self.ctx
                .event(
                    &object,
                    false,
                    "Migrating",
                    format!("Job {job_name} migrates to version {target}"),
                )
                .await;
        }
        match job_state(&job) {
            JobState::Succeeded => {
                self.observed.push(Observed::yes(
                    "Migrated",
                    "Migrated",
                    format!("the schema is at version {target}"),
                ));
                let from = running.as_deref().unwrap_or("nothing");
                self.ctx
                    .event(
                        &object,
                        false,
                        "Upgraded",
                        format!("version {target} replaces {from}"),
                    )
                    .await;
                self.delete_previous_migration(running.as_deref()).await?;
                Ok(Some(target))
            }
            JobState::Failed => {
                if !conditions::has_reason(self.previous(), "Migrated", "MigrationFailed") {
                    self.ctx
                        .event(
                            &object,
                            true,
                            "MigrationFailed",
                            format!("Job {job_name} failed; the API stays at its current version"),
                        )
                        .await;
                }
                self.observed.push(Observed::no(
                    "Migrated",
                    "MigrationFailed",
                    format!(
                        "Job {job_name} migrating to {target} failed; see its logs. Delete the \
                         Job to retry, or set spec.version back"
                    ),
                ));
                Ok(running)
            }
            JobState::Running => {
                self.observed.push(Observed::no(
                    "Migrated",
                    "Migrating",
                    format!("Job {job_name} is migrating to version {target}"),
                ));
                Ok(running)
            }
        }
    }

    /// Deletes the migration Job of the version the API ran before: finished, and superseded.
    /// (Each upgrade removes its predecessor's, so at most one older Job ever exists; deleting it
    /// by name avoids listing every Job in the namespace on each upgrade.)
    async fn delete_previous_migration(&self, previous: Option<&str>) -> Result<()> {
        if let Some(previous) = previous {
            let name = names::migration_job(&self.shop.name_any(), previous);
            self.delete::<Job>(&name).await?;
        }
        Ok(())
    }

    /// Applies the API's Deployment at `version` and what surrounds it; returns whether the
    /// Deployment is available at that version.
    async fn reconcile_api(&mut self, version: &str, config_hash: &str) -> Result<bool> {
        let client = &self.ctx.client;
        let shop = self.shop;
        let name = names::api(&shop.name_any());
        let mut desired = build::api_deployment(shop, version, config_hash);
        let live = self.get::<Deployment>(&name).await?;
        keep_replicas_for_autoscaler(&mut desired, live.as_ref());
        let (deployment, _) = apply(client, &desired).await?;
        apply(client, &build::api_service(shop)).await?;
        apply(client, &build::api_pdb(shop)).await?;
        if let Some(hpa) = build::api_hpa(shop) {
            apply(client, &hpa).await?;
        } else {
            self.delete::<HorizontalPodAutoscaler>(&name).await?;
        }
        if let Some(ingress) = build::api_ingress(shop) {
            apply(client, &ingress).await?;
        } else {
            self.delete::<Ingress>(&name).await?;
        }
        let ready = deployment_available(&deployment);
        self.observed.push(if ready {
            Observed::yes(
                "ApiReady",
                "Available",
                format!("Deployment {name} runs version {version}"),
            )
        } else {
            Observed::no(
                "ApiReady",
                "RollingOut",
                format!("Deployment {name} is rolling out {version}"),
            )
        });
        Ok(ready)
    }

    /// A ServiceMonitor when asked for and the Prometheus Operator's CRD exists.
    async fn reconcile_service_monitor(&mut self) -> Result<()> {
        let name = names::api(&self.shop.name_any());
        if !self.shop.spec.monitoring.service_monitor {
            // Turned off again: remove ours (a 404 when the CRD is not installed is "absent").
            self.delete::<ServiceMonitor>(&name).await?;
            return Ok(());
        }
        let crds: Api<CustomResourceDefinition> = Api::all(self.ctx.client.clone());
        if crds.get_opt(SERVICE_MONITOR_CRD).await?.is_none() {
            if !conditions::has_reason(self.previous(), "MonitoringReady", "CrdMissing") {
                self.ctx
                    .event(
                        &self.shop.object_ref(&()),
                        true,
                        "ServiceMonitorUnavailable",
                        format!("{SERVICE_MONITOR_CRD} is not installed; install the Prometheus Operator to get a ServiceMonitor"),
                    )
                    .await;
            }
            self.observed.push(Observed::no(
                "MonitoringReady",
                "CrdMissing",
                format!("{SERVICE_MONITOR_CRD} is not installed; the ServiceMonitor is created once it is"),
            ));
            return Ok(());
        }
        apply(&self.ctx.client, &build::api_service_monitor(self.shop)).await?;
        self.observed.push(Observed::yes(
            "MonitoringReady",
            "ServiceMonitorCreated",
            format!("ServiceMonitor {name} scrapes the API"),
        ));
        Ok(())
    }

    async fn apply_secret(&self, secret: &Secret, created: bool, what: &str) -> Result<()> {
        apply(&self.ctx.client, secret).await?;
        if created {
            let note = format!(
                "generated credentials for {what} in Secret {}",
                secret.name_any()
            );
            self.ctx
                .event(
                    &self.shop.object_ref(&()),
                    false,
                    "CredentialsGenerated",
                    note,
                )
                .await;
        }
        Ok(())
    }

    async fn get<K: crate::apply::Managed>(&self, name: &str) -> Result<Option<K>> {
        Ok(
            Api::<K>::namespaced(self.ctx.client.clone(), self.namespace)
                .get_opt(name)
                .await?,
        )
    }

    async fn delete<K: crate::apply::Managed>(&self, name: &str) -> Result<bool> {
        let uid = self.shop.uid().unwrap_or_default();
        delete_owned::<K>(&self.ctx.client, self.namespace, name, &uid).await
    }

    fn previous(&self) -> &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition] {
        self.shop
            .status
            .as_ref()
            .map_or(&[], |status| status.conditions.as_slice())
    }
}

fn conditions_of(observed: &[Observed], type_: &str) -> bool {
    observed
        .iter()
        .any(|condition| condition.type_ == type_ && condition.status)
}

/// Where a Job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Still running (or not started).
    Running,
    /// Completed successfully.
    Succeeded,
    /// Gave up after its retries.
    Failed,
}

/// A Job's state from its `Complete` / `Failed` conditions.
pub fn job_state(job: &Job) -> JobState {
    let conditions = job
        .status
        .as_ref()
        .and_then(|status| status.conditions.as_ref());
    let holds = |type_: &str| {
        conditions.is_some_and(|all| all.iter().any(|c| c.type_ == type_ && c.status == "True"))
    };
    if holds("Complete") {
        JobState::Succeeded
    } else if holds("Failed") {
        JobState::Failed
    } else {
        JobState::Running
    }
}

/// Under autoscaling the builder leaves `replicas` out, for the HPA to own. Dropping a field from
/// a server-side apply deletes it when no other manager owns it, which would reset the
/// Deployment to one replica until the HPA reacts; so the operator keeps applying whatever count
/// the Deployment has (the HPA's latest decision), which is never a change.
pub fn keep_replicas_for_autoscaler(desired: &mut Deployment, live: Option<&Deployment>) {
    let Some(spec) = desired.spec.as_mut() else {
        return;
    };
    if spec.replicas.is_none() {
        spec.replicas = live
            .and_then(|live| live.spec.as_ref())
            .and_then(|spec| spec.replicas);
    }
}

/// Whether a Deployment has finished rolling out its current spec.
pub fn deployment_available(deployment: &Deployment) -> bool {
    let Some(status) = &deployment.status else {
        return false;
    };
    let wanted = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1);
    status.observed_generation >= deployment.metadata.generation
        && status.updated_replicas.unwrap_or(0) >= wanted
        && status.available_replicas.unwrap_or(0) >= wanted
}
