//! Dereference: the Worker's Shop, its pool's Deployment, and whether ServiceMonitors can exist.

use k8s_openapi::api::apps::v1::Deployment;
use kube::{Client, ResourceExt};

use crate::crd::{Shop, Worker};
use crate::names;
use crate::reconcile::dereference::{DereferenceError, get};
use crate::reconcile::monitoring;

/// What the cluster holds for one Worker.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// The Shop `spec.shopRef` names.
    pub shop: Option<Shop>,
    /// The pool's Deployment.
    pub deployment: Option<Deployment>,
    /// Whether the ServiceMonitor CRD is installed (read only when the Shop asks for monitoring).
    pub service_monitor_crd: bool,
}

/// Reads everything the later stages need.
pub async fn dereference(
    client: &Client,
    worker: &Worker,
    namespace: &str,
) -> Result<Found, DereferenceError> {
    let shop = get::<Shop>(client, namespace, &worker.spec.shop_ref).await?;
    let deployment =
        get::<Deployment>(client, namespace, &names::worker(&worker.name_any())).await?;
    let asked = shop
        .as_ref()
        .is_some_and(|shop| shop.spec.monitoring.service_monitor);
    let service_monitor_crd = monitoring::crd_installed(client, asked).await?;
    Ok(Found {
        shop,
        deployment,
        service_monitor_crd,
    })
}
