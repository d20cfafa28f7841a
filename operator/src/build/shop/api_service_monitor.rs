//! The ServiceMonitor that has Prometheus scrape the API.

use kube::ResourceExt;

use super::api_service::METRICS_PORT;
use super::{api_labels, api_selector, child_meta, match_labels};
use crate::build::service_monitor::{
    ServiceMonitor, ServiceMonitorEndpoint, ServiceMonitorSpec, service_monitor_labels,
};
use crate::crd::Shop;
use crate::names;

/// `/metrics` on the API Service's `metrics` port every 30 seconds, labelled with the Shop's
/// `serviceMonitorLabels`.
pub fn api_service_monitor(shop: &Shop) -> ServiceMonitor {
    ServiceMonitor {
        metadata: child_meta(
            shop,
            names::api(&shop.name_any()),
            service_monitor_labels(shop, api_labels(shop)),
        ),
        spec: ServiceMonitorSpec {
            selector: match_labels(api_selector(shop)),
            endpoints: vec![ServiceMonitorEndpoint::new(METRICS_PORT, "/metrics", "30s")],
            namespace_selector: None,
        },
    }
}
