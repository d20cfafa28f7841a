//! A minimal typed `ServiceMonitor` (Prometheus Operator, `monitoring.coreos.com/v1`).
//!
//! Only the fields the operator sets are modelled. The CRD belongs to the Prometheus Operator, so
//! this type is deliberately not part of [`crate::crd::all`]: the operator never installs it, it only
//! creates ServiceMonitors when [`SERVICE_MONITOR_CRD`] exists and a resource asks for one.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::crd::Shop;

/// Name of the Prometheus Operator's CRD that must exist before a [`ServiceMonitor`] can be applied.
pub const SERVICE_MONITOR_CRD: &str = "servicemonitors.monitoring.coreos.com";

/// Which Services Prometheus scrapes, and how.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "monitoring.coreos.com",
    version = "v1",
    kind = "ServiceMonitor",
    namespaced
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// Services (by label) whose endpoints are scraped.
    pub selector: LabelSelector,
    /// How each matching Service is scraped.
    pub endpoints: Vec<ServiceMonitorEndpoint>,
    /// Namespaces the selected Services live in; the ServiceMonitor's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<NamespaceSelector>,
}

/// One scraped port of the selected Services.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorEndpoint {
    /// Name of the Service port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// HTTP path of the metrics (`/metrics` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Scrape interval such as `30s`; Prometheus' global one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Relabelings applied to the target before it is scraped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabelings: Vec<RelabelConfig>,
}

/// One relabeling step (Prometheus' `relabel_config`, as the Prometheus Operator spells it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelabelConfig {
    /// Labels whose values are joined into the input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    /// The label written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    /// `replace` (the default), `keep`, `drop`...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// The Service label every shop Service carries with its Shop's name
/// (`app.kubernetes.io/instance`), as Prometheus' Kubernetes discovery names it.
pub const SHOP_SOURCE_LABEL: &str = "__meta_kubernetes_service_label_app_kubernetes_io_instance";
/// The label every series of a shop carries with its Shop's name (beside `namespace`, which the
/// Prometheus Operator adds), so that a Shop's alert rules select `{namespace, shop}`.
pub const SHOP_LABEL: &str = "shop";

impl ServiceMonitorEndpoint {
    /// An endpoint scraping `path` on the named Service port every `interval`, labelling every
    /// series with `shop` from the Service's `app.kubernetes.io/instance` label.
    pub fn new(port: &str, path: &str, interval: &str) -> Self {
        Self {
            port: Some(port.to_owned()),
            path: Some(path.to_owned()),
            interval: Some(interval.to_owned()),
            relabelings: vec![RelabelConfig {
                source_labels: vec![SHOP_SOURCE_LABEL.to_owned()],
                target_label: Some(SHOP_LABEL.to_owned()),
                action: Some("replace".to_owned()),
            }],
        }
    }
}

/// Namespaces a ServiceMonitor selects Services from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<bool>,
    /// These namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_names: Vec<String>,
}

/// The labels of a ServiceMonitor of `shop`: its `spec.monitoring.serviceMonitorLabels` (what a
/// Prometheus selects ServiceMonitors by), then `own`, which win a clash: the operator finds its
/// objects by them.
pub fn service_monitor_labels(
    shop: &Shop,
    own: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut labels = shop.spec.monitoring.service_monitor_labels.clone();
    labels.extend(own);
    labels
}
