//! The backends a Shop hands to operators a platform team runs: a CloudNativePG `Cluster` for
//! `spec.database.cloudNativePG` and a `RabbitmqCluster` for `spec.rabbitmq.clusterOperator`.
//! One piece of each stage of the Shop's pipeline lives here: read whether the other operator's
//! CRD exists and the object as it is (dereference), decide the object (desired), apply it,
//! and say what its status means (status, Events).
//!
//! The other operator may be missing, or installed after the Shop: its CRD is then absent, the
//! backend's condition says so (`CloudNativePGNotInstalled`,
//! `RabbitMQClusterOperatorNotInstalled`) with one Warning Event, nothing of it is applied and
//! the Shop is looked at again after [`OPERATOR_MISSING_REQUEUE`]; once the CRD exists the next
//! pass creates the object.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{Client, ResourceExt};

use crate::apply::{Managed, apply};
use crate::build::cnpg::{self, CLUSTER_CRD, CREDENTIALS_ANNOTATION, Cluster};
use crate::build::rabbitmq_cluster::{self, RABBITMQ_CLUSTER_CRD, RabbitmqCluster};
use crate::conditions::{self, ConditionType, Observed};
use crate::context::Context;
use crate::crd::Shop;
use crate::error::Result;
use crate::names::Backend;
use crate::reconcile::dereference::{DereferenceError, crd_is_installed, get};

/// How soon to look again while another operator's CRD is missing: long, since only someone
/// installing that operator changes anything (a Shop edit is noticed at once regardless).
pub const OPERATOR_MISSING_REQUEUE: Duration = Duration::from_secs(120);
/// How soon to look again at a ready Shop with a handed-over backend. The operator does not
/// watch Clusters, RabbitmqClusters or their credential Secrets (it would need list and watch
/// on every namespace's); looking every minute rather than at the steady five minutes keeps a
/// degraded backend, or a rotated password, from going unnoticed for long.
pub const OPERATED_REQUEUE: Duration = Duration::from_secs(60);

/// A kind of another operator that a Shop backend can be handed to.
pub trait OperatedKind: Managed {
    /// Name of its CRD.
    const CRD: &'static str;
    /// The backend it runs.
    const BACKEND: Backend;
    /// Reason of the backend's condition (and of the Warning Event) while its CRD is missing.
    const NOT_INSTALLED: &'static str;
    /// The operator, in messages.
    const OPERATOR: &'static str;
    /// Whether the object serves.
    fn serves(&self) -> bool;
    /// What its status says, for the condition's message.
    fn describe(&self) -> String;
}

impl OperatedKind for Cluster {
    const CRD: &'static str = CLUSTER_CRD;
    const BACKEND: Backend = Backend::Postgres;
    const NOT_INSTALLED: &'static str = "CloudNativePGNotInstalled";
    const OPERATOR: &'static str = "CloudNativePG";
    fn serves(&self) -> bool {
        cnpg::ready(self)
    }
    fn describe(&self) -> String {
        cnpg::describe(self)
    }
}

impl OperatedKind for RabbitmqCluster {
    const CRD: &'static str = RABBITMQ_CLUSTER_CRD;
    const BACKEND: Backend = Backend::RabbitMq;
    const NOT_INSTALLED: &'static str = "RabbitMQClusterOperatorNotInstalled";
    const OPERATOR: &'static str = "the RabbitMQ Cluster Operator";
    fn serves(&self) -> bool {
        rabbitmq_cluster::ready(self)
    }
    fn describe(&self) -> String {
        rabbitmq_cluster::describe(self)
    }
}

/// Dereference: one handed-over backend as the cluster holds it.
#[derive(Debug, Clone)]
pub struct FoundObject<K> {
    /// Whether the other operator's CRD is installed.
    pub crd_installed: bool,
    /// The object as it exists (never read while the CRD is missing).
    pub existing: Option<K>,
}

/// Dereference: the handed-over backends the Shop asks for (`None`: not asked for).
#[derive(Debug, Clone, Default)]
pub struct FoundOperated {
    /// The CloudNativePG Cluster.
    pub cnpg: Option<FoundObject<Cluster>>,
    /// The RabbitmqCluster.
    pub rabbitmq: Option<FoundObject<RabbitmqCluster>>,
    /// A hash of the `resourceVersion`s of the Secrets the other operators made for the shop's
    /// credentials, as far as they exist (`None`: none does, or none is asked for).
    pub credentials_version: Option<String>,
}

impl FoundOperated {
    /// An empty cluster where the other operators are installed (what `render` assumes).
    pub fn empty_cluster(shop: &Shop) -> Self {
        fn installed<K>() -> FoundObject<K> {
            FoundObject {
                crd_installed: true,
                existing: None,
            }
        }
        Self {
            cnpg: shop
                .spec
                .database
                .cloud_native_pg
                .as_ref()
                .map(|_| installed()),
            rabbitmq: shop
                .spec
                .rabbitmq
                .cluster_operator
                .as_ref()
                .map(|_| installed()),
            credentials_version: None,
        }
    }
}

/// Reads the CRD of each operator the Shop asks for, and its object once the CRD exists.
pub async fn dereference(
    client: &Client,
    shop: &Shop,
    namespace: &str,
) -> Result<FoundOperated, DereferenceError> {
    let name = shop.name_any();
    let cnpg = match &shop.spec.database.cloud_native_pg {
        Some(_) => Some(found::<Cluster>(client, namespace, &cnpg::cluster_name(&name)).await?),
        None => None,
    };
    let rabbitmq = match &shop.spec.rabbitmq.cluster_operator {
        Some(_) => Some(
            found::<RabbitmqCluster>(client, namespace, &rabbitmq_cluster::cluster_name(&name))
                .await?,
        ),
        None => None,
    };
    let credentials_version = credentials_version(client, shop, namespace).await?;
    Ok(FoundOperated {
        cnpg,
        rabbitmq,
        credentials_version,
    })
}

/// Dereference: the version of the credentials the other operators made for `shop` (see
/// [`CREDENTIALS_ANNOTATION`]); read for the Worker pools too.
pub async fn credentials_version(
    client: &Client,
    shop: &Shop,
    namespace: &str,
) -> Result<Option<String>, DereferenceError> {
    let name = shop.name_any();
    let mut secrets = Vec::new();
    if shop.spec.database.cloud_native_pg.is_some() {
        secrets.push(cnpg::app_secret_name(&name));
    }
    if shop.spec.rabbitmq.cluster_operator.is_some() {
        secrets.push(rabbitmq_cluster::default_user_secret_name(&name));
    }
    let mut versions = Vec::new();
    for secret in secrets {
        if let Some(found) = get::<Secret>(client, namespace, &secret).await? {
            let version = found.resource_version().unwrap_or_default();
            versions.push(format!("{secret}={version}"));
        }
    }
    Ok((!versions.is_empty()).then(|| crate::names::short_hash(&versions.join(","))))
}

/// Desired: puts the credentials' version on a Deployment's pod template, so that new
/// credentials roll its pods (nothing when there is none: a Shop without handed-over backends
/// keeps its template as it was).
pub fn annotate_credentials(deployment: &mut Deployment, version: Option<&str>) {
    let Some(version) = version else { return };
    let template = deployment
        .spec
        .as_mut()
        .map(|spec| spec.template.metadata.get_or_insert_with(Default::default));
    if let Some(metadata) = template {
        metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(CREDENTIALS_ANNOTATION.to_owned(), version.to_owned());
    }
}

async fn found<K: OperatedKind>(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<FoundObject<K>, DereferenceError> {
    if !crd_is_installed(client, K::CRD).await? {
        return Ok(FoundObject {
            crd_installed: false,
            existing: None,
        });
    }
    Ok(FoundObject {
        crd_installed: true,
        existing: get::<K>(client, namespace, name).await?,
    })
}

/// Desired: what to do about one handed-over backend.
#[derive(Debug, Clone)]
pub enum Operated<K> {
    /// The Shop does not ask for it.
    Absent,
    /// Asked for, but the other operator is not installed; nothing is applied.
    OperatorMissing,
    /// Apply it.
    Apply(Box<K>),
}

impl<K: OperatedKind> Operated<K> {
    fn new(found: Option<&FoundObject<K>>, build: impl FnOnce() -> K) -> Self {
        match found {
            None => Self::Absent,
            Some(found) if !found.crd_installed => Self::OperatorMissing,
            Some(_) => Self::Apply(Box::new(build())),
        }
    }

    /// Status: the backend's condition, from the object as applied (`None` when not asked for).
    fn condition(&self, applied: Option<&K>) -> Option<Observed> {
        let condition = backend_condition(K::BACKEND);
        Some(match (self, applied) {
            (Self::Absent, _) => return None,
            (Self::OperatorMissing, _) => Observed::no(
                condition,
                K::NOT_INSTALLED,
                format!(
                    "{} is not installed (CRD {} is missing); the {} is created once it is",
                    K::OPERATOR,
                    K::CRD,
                    K::kind(&())
                ),
            ),
            (Self::Apply(_), Some(object)) if object.serves() => {
                Observed::yes(condition, "Running", object.describe())
            }
            (Self::Apply(_), Some(object)) => {
                Observed::no(condition, "Starting", object.describe())
            }
            (Self::Apply(object), None) => Observed::no(
                condition,
                "Starting",
                format!("waiting for {} {}", K::kind(&()), object.name_any()),
            ),
        })
    }

    /// Status: one Warning Event when the operator is found missing (not on every pass).
    async fn publish_event(&self, ctx: &Context, shop: &ObjectReference, previous: &[Condition]) {
        let condition = backend_condition(K::BACKEND);
        if matches!(self, Self::OperatorMissing)
            && !conditions::has_reason(previous, condition, K::NOT_INSTALLED)
        {
            let note = format!(
                "{} is not installed (CRD {} is missing): install it to run this Shop's {}",
                K::OPERATOR,
                K::CRD,
                K::BACKEND.as_str()
            );
            ctx.event(shop, true, K::NOT_INSTALLED, note).await;
        }
    }
}

/// Desired: both handed-over backends.
#[derive(Debug, Clone)]
pub struct DesiredOperated {
    /// The CloudNativePG Cluster.
    pub cnpg: Operated<Cluster>,
    /// The RabbitmqCluster.
    pub rabbitmq: Operated<RabbitmqCluster>,
}

/// Decides the handed-over backends' objects.
pub fn desired(shop: &Shop, found: &FoundOperated) -> DesiredOperated {
    DesiredOperated {
        cnpg: Operated::new(found.cnpg.as_ref(), || {
            let spec = shop.spec.database.cloud_native_pg.as_ref();
            cnpg::cluster(shop, spec.expect("found only when asked for"))
        }),
        rabbitmq: Operated::new(found.rabbitmq.as_ref(), || {
            let spec = shop.spec.rabbitmq.cluster_operator.as_ref();
            rabbitmq_cluster::rabbitmq_cluster(shop, spec.expect("found only when asked for"))
        }),
    }
}

impl DesiredOperated {
    /// Whether a backend is handed to another operator (and is applied).
    pub fn hands_over(&self) -> bool {
        matches!(self.cnpg, Operated::Apply(_)) || matches!(self.rabbitmq, Operated::Apply(_))
    }

    /// Whether a backend waits for another operator to be installed.
    pub fn waits_for_an_operator(&self) -> bool {
        matches!(self.cnpg, Operated::OperatorMissing)
            || matches!(self.rabbitmq, Operated::OperatorMissing)
    }

    /// The objects to apply, as JSON, for `shop-operator render`.
    pub fn objects(&self) -> Vec<serde_json::Value> {
        let mut objects = Vec::new();
        if let Operated::Apply(cluster) = &self.cnpg {
            objects.extend(serde_json::to_value(cluster.as_ref()).ok());
        }
        if let Operated::Apply(cluster) = &self.rabbitmq {
            objects.extend(serde_json::to_value(cluster.as_ref()).ok());
        }
        objects
    }
}

/// Whether a CloudNativePG database can take the migration: `None` when the database is not
/// CloudNativePG's.
pub fn database_ready(found: &FoundOperated) -> Option<bool> {
    let cnpg = found.cnpg.as_ref()?;
    Some(cnpg.existing.as_ref().is_some_and(Cluster::serves))
}

/// Apply: the objects as the API server answered.
#[derive(Debug, Default)]
pub struct AppliedOperated {
    /// The CloudNativePG Cluster.
    pub cnpg: Option<Cluster>,
    /// The RabbitmqCluster.
    pub rabbitmq: Option<RabbitmqCluster>,
}

/// Applies the handed-over backends' objects. (Nothing is deleted: a Shop cannot stop asking
/// for one, CEL refuses the switch.)
pub async fn apply_all(ctx: &Context, desired: &DesiredOperated) -> Result<AppliedOperated> {
    let mut applied = AppliedOperated::default();
    if let Operated::Apply(cluster) = &desired.cnpg {
        applied.cnpg = Some(apply(&ctx.client, cluster.as_ref()).await?.0);
    }
    if let Operated::Apply(cluster) = &desired.rabbitmq {
        applied.rabbitmq = Some(apply(&ctx.client, cluster.as_ref()).await?.0);
    }
    Ok(applied)
}

/// Status: the condition of `backend` when it is handed over; `None` otherwise.
pub fn condition(
    backend: Backend,
    desired: &DesiredOperated,
    applied: &AppliedOperated,
) -> Option<Observed> {
    match backend {
        Backend::Postgres => desired.cnpg.condition(applied.cnpg.as_ref()),
        Backend::RabbitMq => desired.rabbitmq.condition(applied.rabbitmq.as_ref()),
        Backend::Redis => None,
    }
}

/// Status: the Warning Events of operators found missing.
pub async fn publish_events(
    ctx: &Context,
    shop: &ObjectReference,
    previous: &[Condition],
    desired: &DesiredOperated,
) {
    desired.cnpg.publish_event(ctx, shop, previous).await;
    desired.rabbitmq.publish_event(ctx, shop, previous).await;
}

fn backend_condition(backend: Backend) -> ConditionType {
    super::status::backend_condition(backend)
}
