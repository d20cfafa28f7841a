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
    /// The version of the credentials CloudNativePG / the RabbitMQ Cluster Operator made for
    /// the Shop, put on the pod template so that new ones roll the pool.
    pub credentials_version: Option<String>,
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
    let credentials_version = match &shop {
        Some(shop) => {
            crate::reconcile::shop::operated::credentials_version(client, shop, namespace).await?
        }
        None => None,
    };
    Ok(Found {
        shop,
        deployment,
        service_monitor_crd,
        credentials_version,
    })
}
