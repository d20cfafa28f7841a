//! The Ingress routing a host name to the REST API.

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use kube::ResourceExt;

use super::api_deployment::HTTP_PORT;
use super::{api_labels, child_meta};
use crate::crd::Shop;
use crate::names;

/// Everything under `/` on the host to the API Service's `http` port, with TLS from the named
/// Secret when there is one; `None` without `spec.api.ingress`.
pub fn api_ingress(shop: &Shop) -> Option<Ingress> {
    let spec = shop.spec.api.ingress.as_ref()?;
    let name = names::api(&shop.name_any());
    Some(Ingress {
        metadata: child_meta(shop, name.clone(), api_labels(shop)),
        spec: Some(IngressSpec {
            ingress_class_name: spec.class_name.clone(),
            rules: Some(vec![IngressRule {
                host: Some(spec.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".to_owned()),
                        path_type: "Prefix".to_owned(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name,
                                port: Some(ServiceBackendPort {
                                    name: Some(HTTP_PORT.to_owned()),
                                    number: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            tls: spec.tls_secret_name.as_ref().map(|secret| {
                vec![IngressTLS {
                    hosts: Some(vec![spec.host.clone()]),
                    secret_name: Some(secret.clone()),
                }]
            }),
            default_backend: None,
        }),
        ..Ingress::default()
    })
}
