//! The headless Service in front of a managed backend's StatefulSet.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::{backend_labels, backend_port_name, backend_selector, child_meta};
use crate::crd::Shop;
use crate::names::{self, Backend};

/// Headless (`clusterIP: None`): the StatefulSet's governing Service, and the host name in the
/// backend's URL resolves straight to the pod.
pub fn backend_service(shop: &Shop, backend: Backend) -> Service {
    Service {
        metadata: child_meta(
            shop,
            names::backend(&shop.name_any(), backend),
            backend_labels(shop, backend),
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            selector: Some(backend_selector(shop, backend)),
            ports: Some(vec![ServicePort {
                name: Some(backend_port_name(backend).to_owned()),
                port: backend.port(),
                target_port: Some(IntOrString::String(backend_port_name(backend).to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
