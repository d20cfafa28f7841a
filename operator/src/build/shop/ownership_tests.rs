//! What outlives a deleted Shop: the Secrets unlocking kept volumes; and objects the API server
//! would refuse or freeze: claim templates, fixtures the CRD rejects.

use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use serde_json::json;

use super::*;
use crate::build::test_support::{
    UID, cel_violations, counter_secrets, full_shop, minimal_shop, shop_with_spec,
};
use crate::names;

fn never() -> String {
    panic!("nothing should be generated")
}

fn is_owned_by_the_shop(metadata: &ObjectMeta) -> bool {
    match metadata.owner_references.as_deref() {
        None => false,
        Some([owner]) => owner.uid == UID && owner.kind == "Shop",
        Some(other) => panic!("unexpected owners {other:?}"),
    }
}

/// Managed PostgreSQL keeping its volume, managed Redis deleting it, external RabbitMQ.
fn mixed_shop() -> Shop {
    shop_with_spec(json!({
        "version": "1.0.0",
        "database": { "managed": {} },
        "redis": { "managed": { "deleteVolumeWithShop": true } },
        "rabbitmq": { "external": { "secretRef": { "name": "broker" } } }
    }))
}

#[test]
fn a_backend_secret_outlives_the_shop_exactly_when_its_volume_does() {
    let shop = mixed_shop();
    let kept = backend_secret(&shop, Backend::Postgres, None, &counter_secrets());
    assert!(keeps_volume(&shop, Backend::Postgres));
    assert!(
        !is_owned_by_the_shop(&kept.metadata),
        "garbage collection would delete the passwords of a kept database"
    );
    // Still findable (and deletable) by the Shop's label.
    let labels = kept.metadata.labels.as_ref().expect("labels");
    assert_eq!(labels["app.kubernetes.io/instance"], "demo");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "shop-operator");

    let deleted = backend_secret(&shop, Backend::Redis, None, &counter_secrets());
    assert!(!keeps_volume(&shop, Backend::Redis));
    assert!(is_owned_by_the_shop(&deleted.metadata));
    assert!(
        !keeps_volume(&shop, Backend::RabbitMq),
        "external: no volume"
    );
}

#[test]
fn the_credentials_secret_is_kept_while_any_backend_keeps_its_volume() {
    let kept = |shop: &Shop| {
        let secret = credentials_secret(shop, None, &counter_secrets()).expect("generated");
        !is_owned_by_the_shop(&secret.metadata)
    };
    assert!(kept(&minimal_shop()), "every volume is kept by default");
    assert!(kept(&mixed_shop()), "PostgreSQL's volume is kept");
    let all_deleted = shop_with_spec(json!({
        "version": "1.0.0",
        "database": { "managed": { "deleteVolumeWithShop": true } },
        "redis": { "managed": { "deleteVolumeWithShop": true } },
        "rabbitmq": { "managed": { "deleteVolumeWithShop": true } }
    }));
    assert!(
        !kept(&all_deleted),
        "nothing outlives the Shop, so neither does the key"
    );
    let all_external = shop_with_spec(json!({
        "version": "1.0.0",
        "database": { "external": { "secretRef": { "name": "db" } } },
        "redis": { "external": { "secretRef": { "name": "cache" } } },
        "rabbitmq": { "external": { "secretRef": { "name": "broker" } } }
    }));
    assert!(!kept(&all_external));
}

#[test]
fn a_re_created_shop_adopts_the_kept_secrets_and_their_passwords() {
    let first = minimal_shop();
    let before = backend_secret(&first, Backend::Postgres, None, &counter_secrets());
    let jwt = credentials_secret(&first, None, &counter_secrets()).expect("generated");

    // The Shop is deleted and created again: same name, new uid. The Secrets come back from the
    // API server with server-set metadata.
    let mut second = minimal_shop();
    second.metadata.uid = Some("0a1b2c3d-0000-4000-8000-000000000002".to_owned());
    let read_back = |secret: &Secret| Secret {
        metadata: ObjectMeta {
            resource_version: Some("4711".to_owned()),
            uid: Some("0a1b2c3d-0000-4000-8000-0000000000ff".to_owned()),
            ..secret.metadata.clone()
        },
        ..secret.clone()
    };
    let after = backend_secret(
        &second,
        Backend::Postgres,
        Some(&read_back(&before)),
        &never,
    );
    assert_eq!(after.data, before.data, "same password, same URL");
    assert!(after.metadata.owner_references.is_none());
    let jwt_after = credentials_secret(&second, Some(&read_back(&jwt)), &never).expect("generated");
    assert_eq!(jwt_after.data, jwt.data);

    // The new StatefulSet reads the password from that same Secret.
    let (_, managed) = managed_backends(&second)[0];
    let stateful_set =
        serde_json::to_value(backend_stateful_set(&second, Backend::Postgres, managed))
            .expect("json");
    let env = &stateful_set["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .expect("env")
            .iter()
            .any(|var| var["name"] == "POSTGRES_PASSWORD"
                && var["valueFrom"]["secretKeyRef"]["name"]
                    == names::backend("demo", Backend::Postgres).as_str()),
        "{env}"
    );
}

#[test]
fn claim_templates_carry_nothing_but_their_name() {
    // The API server refuses any change to volumeClaimTemplates: labels there would freeze.
    for shop in [minimal_shop(), full_shop()] {
        for (backend, managed) in managed_backends(&shop) {
            let templates = backend_stateful_set(&shop, backend, managed)
                .spec
                .and_then(|spec| spec.volume_claim_templates)
                .expect("claim templates");
            assert_eq!(templates.len(), 1);
            assert_eq!(
                templates[0].metadata,
                ObjectMeta {
                    name: Some("data".to_owned()),
                    ..ObjectMeta::default()
                },
                "{backend:?}"
            );
        }
    }
}

#[test]
fn the_fixtures_are_shops_the_crd_accepts() {
    for shop in [minimal_shop(), full_shop(), mixed_shop()] {
        assert_eq!(cel_violations(&shop), Vec::<String>::new());
    }
}

#[test]
fn the_api_service_ports_are_distinct() {
    for shop in [minimal_shop(), full_shop()] {
        let ports: Vec<i32> = api_service(&shop)
            .spec
            .and_then(|spec| spec.ports)
            .expect("ports")
            .iter()
            .map(|port| port.port)
            .collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
    }
}
