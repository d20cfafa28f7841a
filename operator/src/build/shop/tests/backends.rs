//! The managed backends: network policies, volumes and pinned images.

use super::*;

#[test]
fn network_policies_admit_only_shop_members_on_the_server_port() {
    let shop = minimal_shop();
    for backend in Backend::ALL {
        let policy = backend_network_policy(&shop, backend);
        let spec = policy.spec.expect("spec");
        assert_eq!(
            spec.pod_selector.and_then(|selector| selector.match_labels),
            Some(backend_selector(&shop, backend))
        );
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_owned()]));
        let rules = spec.ingress.expect("ingress rules");
        assert_eq!(rules.len(), 1, "{backend:?}");
        let from = rules[0].from.as_ref().expect("peers");
        assert_eq!(from.len(), 1);
        assert_eq!(
            from[0]
                .pod_selector
                .as_ref()
                .and_then(|selector| selector.match_labels.clone()),
            Some(labels::shop_member("demo"))
        );
        assert!(from[0].namespace_selector.is_none() && from[0].ip_block.is_none());
        let ports = serde_json::to_value(&rules[0].ports).expect("ports");
        assert_eq!(
            ports,
            json!([{ "port": backend.port(), "protocol": "TCP" }]),
            "{backend:?}"
        );
    }
    // Every pod of the shop is a member, so the API, the migration and the workers get through.
    let objects = shop_objects(&shop, "1.0.0", &counter_secrets());
    for name in ["demo-api".to_owned(), names::migration_job("demo", "1.0.0")] {
        let labels = &objects
            .iter()
            .find(|object| object["metadata"]["name"] == name.as_str())
            .expect("object")["spec"]["template"]["metadata"]["labels"];
        for (key, value) in labels::shop_member("demo") {
            assert_eq!(labels[key.as_str()], value.as_str(), "{name}");
        }
    }
}

#[test]
fn the_volume_is_deleted_with_the_shop_only_when_asked() {
    let shop = full_shop();
    for (backend, managed) in managed_backends(&shop) {
        let policy = backend_stateful_set(&shop, backend, managed)
            .spec
            .and_then(|spec| spec.persistent_volume_claim_retention_policy)
            .expect("retention policy");
        assert_eq!(policy.when_deleted.as_deref(), Some("Delete"));
        assert_eq!(policy.when_scaled.as_deref(), Some("Retain"));
    }
    let shop = minimal_shop();
    for (backend, managed) in managed_backends(&shop) {
        let policy = backend_stateful_set(&shop, backend, managed)
            .spec
            .and_then(|spec| spec.persistent_volume_claim_retention_policy)
            .expect("retention policy");
        assert_eq!(policy.when_deleted.as_deref(), Some("Retain"));
    }
}

#[test]
fn backends_run_pinned_images_unless_one_is_given() {
    let image = |shop: &Shop, backend: Backend| {
        let (_, managed) = managed_backends(shop)
            .into_iter()
            .find(|(candidate, _)| *candidate == backend)
            .expect("managed");
        pod(&serde_json::to_value(backend_stateful_set(shop, backend, managed)).expect("json"))
            .containers[0]
            .image
            .clone()
            .expect("image")
    };
    let shop = minimal_shop();
    for backend in Backend::ALL {
        let pinned = image(&shop, backend);
        assert_eq!(pinned, default_image(backend));
        assert!(!pinned.ends_with(":latest") && pinned.contains(':'));
    }
    assert_eq!(
        image(&full_shop(), Backend::RabbitMq),
        "registry.example.com/mirror/rabbitmq:4.0.5-management-alpine"
    );
}
