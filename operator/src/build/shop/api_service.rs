//! The Service in front of the API.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::api_deployment::{GRPC_PORT, HTTP_PORT};
use super::{api_labels, api_selector, child_meta};
use crate::crd::Shop;
use crate::names;

/// Name of the Service port Prometheus scrapes.
pub const METRICS_PORT: &str = "metrics";
/// Its number on the Service (the pods serve `/metrics` on their HTTP port).
pub const METRICS_SERVICE_PORT: i32 = 9090;

/// Ports `http` (REST, health), `grpc` (HTTP/2 without TLS) and `metrics` (the same HTTP server's
/// `/metrics`, on a port of its own so scrape configs and NetworkPolicies can name it), of the
/// type the Shop asks for.
pub fn api_service(shop: &Shop) -> Service {
    let ports = &shop.spec.api.service;
    Service {
        metadata: child_meta(shop, names::api(&shop.name_any()), api_labels(shop)),
        spec: Some(ServiceSpec {
            type_: Some(ports.type_.as_str().to_owned()),
            selector: Some(api_selector(shop)),
            ports: Some(vec![
                ServicePort {
                    name: Some(HTTP_PORT.to_owned()),
                    port: ports.http_port,
                    target_port: Some(IntOrString::String(HTTP_PORT.to_owned())),
                    protocol: Some("TCP".to_owned()),
                    ..ServicePort::default()
                },
                ServicePort {
                    name: Some(GRPC_PORT.to_owned()),
                    port: ports.grpc_port,
                    target_port: Some(IntOrString::String(GRPC_PORT.to_owned())),
                    protocol: Some("TCP".to_owned()),
                    // Lets meshes and gateways speak HTTP/2 to it without guessing.
                    app_protocol: Some("kubernetes.io/h2c".to_owned()),
                    ..ServicePort::default()
                },
                ServicePort {
                    name: Some(METRICS_PORT.to_owned()),
                    port: METRICS_SERVICE_PORT,
                    target_port: Some(IntOrString::String(HTTP_PORT.to_owned())),
                    protocol: Some("TCP".to_owned()),
                    ..ServicePort::default()
                },
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
