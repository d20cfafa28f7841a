//! The Service in front of the API.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::api_deployment::{GRPC_PORT, HTTP_PORT};
use super::{api_labels, api_selector, child_meta};
use crate::crd::Shop;
use crate::names;

/// Ports `http` (REST, health, `/metrics`) and `grpc` (HTTP/2 without TLS), of the type the Shop
/// asks for.
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
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
