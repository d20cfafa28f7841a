//! The API Deployment.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    ContainerPort, GRPCAction, HTTPGetAction, PodTemplateSpec, Probe,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::{
    API_APP, API_COMPONENT, api_selector, child_meta, match_labels, shop_container, shop_pod,
};
use crate::build::API_SERVICE_NAME;
use crate::build::settings::{Reader, add_settings};
use crate::crd::Shop;
use crate::{labels, names};

/// Pod-template annotation holding [`config_hash`](super::config_hash) of the Shop's ConfigMap:
/// a changed setting changes the template, which rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "shop.dev/config-hash";

/// Name of the API's HTTP port (REST, health, metrics) in the container and Service.
pub(super) const HTTP_PORT: &str = "http";
/// Name of the API's gRPC port in the container and Service.
pub(super) const GRPC_PORT: &str = "grpc";

/// `shop-api serve` at `version`. Replicas are left to the HPA when autoscaling is on. Pods roll
/// one at a time, never below the desired count, and again whenever `config_hash` changes.
pub fn api_deployment(shop: &Shop, version: &str, config_hash: &str) -> Deployment {
    let shop_name = shop.name_any();
    let api = &shop.spec.api;
    let labels = labels::full(API_APP, &shop_name, API_COMPONENT, Some(version));

    let mut container = shop_container(shop, "api", API_SERVICE_NAME, version, &["serve"]);
    container.ports = Some(vec![
        ContainerPort {
            name: Some(HTTP_PORT.to_owned()),
            container_port: api.service.http_port,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        },
        ContainerPort {
            name: Some(GRPC_PORT.to_owned()),
            container_port: api.service.grpc_port,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        },
    ]);
    // Readiness through the gRPC health service (`grpc.health.v1`, SERVING while the database
    // answers): it proves the gRPC server is up and the shop can reach its database. Liveness
    // only asks the HTTP server whether the process serves (`/healthz`), so a database outage
    // takes pods out of the Service without restarting them.
    container.readiness_probe = Some(Probe {
        grpc: Some(GRPCAction {
            port: api.service.grpc_port,
            service: None,
        }),
        period_seconds: Some(5),
        timeout_seconds: Some(3),
        failure_threshold: Some(3),
        ..Probe::default()
    });
    container.liveness_probe = Some(Probe {
        period_seconds: Some(10),
        timeout_seconds: Some(3),
        failure_threshold: Some(3),
        ..http_probe("/healthz")
    });
    container.startup_probe = Some(Probe {
        period_seconds: Some(2),
        timeout_seconds: Some(3),
        failure_threshold: Some(60),
        ..http_probe("/healthz")
    });
    container.resources = api.resources.clone();
    // A Restore in place holds the Shop in maintenance: the API serves reads and refuses writes
    // (the pods roll, as for any change of the template, and stay ready).
    if shop
        .annotations()
        .contains_key(crate::crd::MAINTENANCE_ANNOTATION)
    {
        container
            .env
            .get_or_insert_with(Vec::new)
            .push(k8s_openapi::api::core::v1::EnvVar {
                name: crate::reconcile::restore::MAINTENANCE_ENV.to_owned(),
                value: Some("read-only".to_owned()),
                ..Default::default()
            });
    }

    let mut pod = shop_pod(shop, container);
    add_settings(&mut pod, shop, Reader::Api);
    // The server drains for SHOP_SHUTDOWN_GRACE_SECONDS (25 by default) after SIGTERM.
    pod.termination_grace_period_seconds = Some(30);

    Deployment {
        metadata: child_meta(shop, names::api(&shop_name), labels.clone()),
        spec: Some(DeploymentSpec {
            replicas: api.autoscaling.is_none().then_some(api.replicas),
            selector: match_labels(api_selector(shop)),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(IntOrString::Int(1)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(BTreeMap::from([(
                        CONFIG_HASH_ANNOTATION.to_owned(),
                        config_hash.to_owned(),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn http_probe(path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(HTTP_PORT.to_owned()),
            scheme: Some("HTTP".to_owned()),
            ..HTTPGetAction::default()
        }),
        ..Probe::default()
    }
}
