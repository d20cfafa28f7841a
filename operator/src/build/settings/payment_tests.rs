//! `spec.payments`, the public URL and `spec.monitoring.tracing` as the shop's processes get them.

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::json;

use super::tests::{pods, secret_vars};
use super::*;
use crate::build::shop::{api_ingress, api_service, config_map};
use crate::build::test_support::{cel_violations, full_shop, minimal_shop, shop_with_spec};

fn plain_var<'a>(pod: &'a PodSpec, name: &str) -> Option<&'a str> {
    pod.containers[0]
        .env
        .iter()
        .flatten()
        .find(|var| var.name == name)
        .and_then(|var| var.value.as_deref())
}

fn env_from_secrets(pod: &PodSpec) -> Vec<String> {
    pod.containers[0]
        .env_from
        .iter()
        .flatten()
        .filter_map(|source| Some(source.secret_ref.as_ref()?.name.clone()))
        .collect()
}

fn midtrans_shop() -> Shop {
    shop_with_spec(json!({
        "version": "1.0.0",
        "payments": { "provider": "midtrans", "secretRef": { "name": "midtrans-keys" } }
    }))
}

#[test]
fn midtrans_keys_reach_the_api_only_as_single_secret_keys() {
    for (name, pod) in pods(&midtrans_shop()) {
        let (provider, keys) = if name == "api" {
            (
                Some("midtrans"),
                vec![
                    (
                        "SHOP_MIDTRANS_SERVER_KEY".to_owned(),
                        "midtrans-keys".to_owned(),
                        "serverKey".to_owned(),
                    ),
                    (
                        "SHOP_MIDTRANS_ENVIRONMENT".to_owned(),
                        "midtrans-keys".to_owned(),
                        "environment".to_owned(),
                    ),
                ],
            )
        } else {
            (None, Vec::new())
        };
        assert_eq!(plain_var(&pod, "SHOP_PAYMENT_PROVIDER"), provider, "{name}");
        assert_eq!(secret_vars(&pod), keys, "{name}");
        // Never the whole Secret: only the documented keys leave it.
        assert!(!env_from_secrets(&pod).contains(&"midtrans-keys".to_owned()));
    }
    let api = &pods(&midtrans_shop())[0].1;
    let optional = |name: &str| {
        api.containers[0]
            .env
            .iter()
            .flatten()
            .find(|var| var.name == name)
            .and_then(|var| var.value_from.as_ref()?.secret_key_ref.as_ref()?.optional)
    };
    assert_eq!(optional("SHOP_MIDTRANS_SERVER_KEY"), Some(false));
    assert_eq!(optional("SHOP_MIDTRANS_ENVIRONMENT"), Some(true));
    // Only the server key must exist before the API starts.
    assert_eq!(
        settings_secret_keys(&midtrans_shop()),
        [(
            "spec.payments.secretRef",
            "midtrans-keys".to_owned(),
            "serverKey".to_owned()
        )]
    );
}

#[test]
fn the_sandbox_needs_no_keys_and_no_payments_sets_no_provider() {
    let sandbox = shop_with_spec(json!({"version": "1.0.0", "payments": {}}));
    let api = &pods(&sandbox)[0].1;
    assert_eq!(plain_var(api, "SHOP_PAYMENT_PROVIDER"), Some("sandbox"));
    assert_eq!(secret_vars(api), []);
    assert!(settings_secret_keys(&sandbox).is_empty());
    let api = &pods(&minimal_shop())[0].1;
    assert_eq!(plain_var(api, "SHOP_PAYMENT_PROVIDER"), None);
}

#[test]
fn the_old_payments_shape_still_passes_the_whole_secret_to_every_process() {
    let legacy = shop_with_spec(json!({"version": "1.0.0", "payments": {"name": "pay"}}));
    assert!(cel_violations(&Shop::new("demo", legacy.spec.clone())).is_empty());
    for (name, pod) in pods(&legacy) {
        assert_eq!(env_from_secrets(&pod)[..1], ["pay".to_owned()], "{name}");
        // The Secret's own keys choose the provider, as before.
        assert_eq!(plain_var(&pod, "SHOP_PAYMENT_PROVIDER"), None, "{name}");
    }
    assert!(settings_secret_keys(&legacy).is_empty());
}

#[test]
fn the_crd_refuses_a_paid_provider_without_keys_and_a_mix_of_both_shapes() {
    let violations = |payments: serde_json::Value| {
        let shop = shop_with_spec(json!({"version": "1.0.0", "payments": payments}));
        cel_violations(&Shop::new("demo", shop.spec))
    };
    for provider in ["midtrans", "stripe"] {
        assert_eq!(
            violations(json!({"provider": provider})),
            [
                "payments.provider midtrans and stripe need payments.secretRef: the Secret with the provider's keys"
            ]
        );
        assert!(violations(json!({"provider": provider, "secretRef": {"name": "k"}})).is_empty());
    }
    assert!(violations(json!({"provider": "sandbox"})).is_empty());
    let mixed = violations(json!({"name": "old", "provider": "sandbox"}));
    assert_eq!(mixed.len(), 1, "{mixed:?}");
    assert!(
        mixed[0].starts_with("payments.name is the old shape"),
        "{mixed:?}"
    );
}

#[test]
fn the_public_url_is_the_ingress_host_with_https_when_it_has_tls() {
    let url = |ingress: serde_json::Value| {
        let shop = shop_with_spec(json!({"version": "1.0.0", "api": {"ingress": ingress}}));
        config_map(&shop)
            .data
            .expect("data")
            .get("SHOP_PUBLIC_URL")
            .cloned()
    };
    assert_eq!(
        url(json!({"host": "shop.example.com"})).as_deref(),
        Some("http://shop.example.com")
    );
    assert_eq!(
        url(json!({"host": "shop.example.com", "tlsSecretName": "tls"})).as_deref(),
        Some("https://shop.example.com")
    );
    let none = config_map(&minimal_shop()).data.expect("data");
    assert!(!none.contains_key("SHOP_PUBLIC_URL"));
}

/// Whether an Ingress path rule (`Prefix` or `Exact`) matches a request path, as the Ingress
/// specification defines the match (prefix by whole path elements).
fn matches(path_type: &str, rule: &str, request: &str) -> bool {
    match path_type {
        "Exact" => rule == request,
        "Prefix" => {
            let rule = rule.trim_end_matches('/');
            rule.is_empty() || request == rule || request.starts_with(&format!("{rule}/"))
        }
        _ => false,
    }
}

#[test]
fn the_ingress_routes_the_webhooks_and_the_sandbox_page_to_the_api_http_port() {
    let shop = full_shop();
    let ingress = api_ingress(&shop).expect("an Ingress");
    let service = api_service(&shop);
    let service_name = service.metadata.name.clone().expect("name");
    let rule = &ingress.spec.expect("spec").rules.expect("rules")[0];
    assert_eq!(rule.host.as_deref(), Some("shop.example.com"));
    let paths = &rule.http.as_ref().expect("http").paths;
    for request in [
        "/api/v1/payments/midtrans/webhook",
        "/api/v1/payments/stripe/webhook",
        "/api/v1/payments/sandbox/webhook",
        "/pay/0a1b2c3d",
    ] {
        let routed = paths
            .iter()
            .find(|path| {
                matches(
                    &path.path_type,
                    path.path.as_deref().unwrap_or("/"),
                    request,
                )
            })
            .unwrap_or_else(|| panic!("{request} is not routed: {paths:?}"));
        let backend = routed.backend.service.as_ref().expect("a Service backend");
        assert_eq!(backend.name, service_name, "{request}");
        let port = backend.port.as_ref().expect("port");
        // The Service port of that name forwards to the API container's HTTP port.
        let service_port = service
            .spec
            .as_ref()
            .and_then(|spec| spec.ports.as_ref())
            .and_then(|ports| ports.iter().find(|p| p.name == port.name))
            .expect("the Service has the port");
        assert_eq!(
            service_port.target_port,
            Some(
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(
                    "http".to_owned()
                )
            ),
            "{request}"
        );
        assert_eq!(service_port.port, 8080, "{request}");
    }
    // The matcher itself: a sibling path is not under a prefix.
    assert!(!matches("Prefix", "/pay", "/payments"));
}

#[test]
fn every_process_of_a_traced_shop_gets_the_otel_variables_under_its_own_name() {
    let traced: Vec<(String, Vec<(String, String)>)> = pods(&full_shop())
        .into_iter()
        .map(|(name, pod)| {
            let otel = pod.containers[0]
                .env
                .iter()
                .flatten()
                .filter(|var| var.name.starts_with("OTEL_"))
                .map(|var| (var.name.clone(), var.value.clone().unwrap_or_default()))
                .collect();
            (name, otel)
        })
        .collect();
    insta::assert_yaml_snapshot!("tracing_env", traced);
    for (name, pod) in pods(&minimal_shop()) {
        let any = pod.containers[0]
            .env
            .iter()
            .flatten()
            .any(|var| var.name.starts_with("OTEL_"));
        assert!(!any, "{name}: tracing is off unless asked for");
    }
}
