//! The Shop's non-secret settings, as environment variables of every shop process.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;

use super::{SHOP_APP, child_meta};
use crate::build::settings::config_entries;
use crate::crd::Shop;
use crate::{labels, names};

/// The ConfigMap every shop process reads with `envFrom`: how the API listens and logs, and the
/// business settings the Shop sets ([`config_entries`]).
pub fn config_map(shop: &Shop) -> ConfigMap {
    let api = &shop.spec.api;
    let mut data = BTreeMap::from([
        (
            "SHOP_HTTP_ADDR".to_owned(),
            format!("0.0.0.0:{}", api.service.http_port),
        ),
        (
            "SHOP_GRPC_ADDR".to_owned(),
            format!("0.0.0.0:{}", api.service.grpc_port),
        ),
        (
            "SHOP_LOG_FORMAT".to_owned(),
            api.log_format.as_env().to_owned(),
        ),
        // The database is never the embedded default here, so demo data is never wanted.
        ("SHOP_DEMO_SEED".to_owned(), "false".to_owned()),
        // Behind an Ingress the client address is in X-Forwarded-For; without one a client
        // could spoof the header to dodge rate limits.
        (
            "SHOP_TRUST_FORWARDED_FOR".to_owned(),
            api.ingress.is_some().to_string(),
        ),
    ]);
    data.extend(
        config_entries(shop)
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value)),
    );
    let name = shop.name_any();
    ConfigMap {
        metadata: child_meta(
            shop,
            names::config_map(&name),
            labels::full(SHOP_APP, &name, "config", None),
        ),
        data: Some(data),
        ..ConfigMap::default()
    }
}

/// A short hash of a ConfigMap's data, put on pod templates so that a changed setting rolls them.
pub fn config_hash(config_map: &ConfigMap) -> String {
    let mut text = String::new();
    for (key, value) in config_map.data.iter().flatten() {
        // Length-prefixed so that no two different maps hash the same text.
        text.push_str(&format!("{}:{key}{}:{value}\n", key.len(), value.len()));
    }
    names::short_hash(&text)
}
