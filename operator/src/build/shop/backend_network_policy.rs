//! The NetworkPolicy that lets only the shop's own pods reach a managed backend.

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::{backend_labels, backend_selector, child_meta, match_labels};
use crate::crd::Shop;
use crate::labels;
use crate::names::{self, Backend};

/// Ingress to the backend's pods only from pods carrying [`labels::shop_member`] of this Shop,
/// and only on the server port (for RabbitMQ: AMQP, not management or clustering ports).
pub fn backend_network_policy(shop: &Shop, backend: Backend) -> NetworkPolicy {
    let shop_name = shop.name_any();
    NetworkPolicy {
        metadata: child_meta(
            shop,
            names::backend(&shop_name, backend),
            backend_labels(shop, backend),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(match_labels(backend_selector(shop, backend))),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(match_labels(labels::shop_member(&shop_name))),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(backend.port())),
                    protocol: Some("TCP".to_owned()),
                    end_port: None,
                }]),
            }]),
            egress: None,
        }),
    }
}
