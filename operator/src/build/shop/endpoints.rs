//! Where to reach a shop, for its status.

use kube::ResourceExt;

use crate::crd::{Shop, ShopEndpoints};
use crate::names;

/// The REST base URL (the Ingress' when there is one, else the Service's inside the cluster) and
/// the gRPC address inside the cluster.
pub fn endpoints(shop: &Shop) -> ShopEndpoints {
    let service = format!(
        "{}.{}.svc",
        names::api(&shop.name_any()),
        shop.namespace().unwrap_or_default()
    );
    let ports = &shop.spec.api.service;
    let http = match &shop.spec.api.ingress {
        Some(ingress) if ingress.tls_secret_name.is_some() => format!("https://{}", ingress.host),
        Some(ingress) => format!("http://{}", ingress.host),
        None => format!("http://{service}:{}", ports.http_port),
    };
    ShopEndpoints {
        http,
        grpc: format!("{service}:{}", ports.grpc_port),
    }
}
