//! A Shop's life against the stricter in-memory API (garbage collection, server-side apply that
//! removes what is no longer sent): deleted and re-created with the same name, its managed
//! backends (and the generated credentials) keep the secrets their data was created with; a setting removed from the Shop is
//! removed from its children; a pass with nothing to do writes nothing.

mod common;

use common::FakeCluster;
use common::shops::{create_shop, drive_to_ready, edit_shop, shop_pass};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use shop_operator::crd::Shop;
use shop_operator::names::{self, Backend};

fn secret_data(secret: &Secret) -> Vec<(String, Vec<u8>)> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(key, value)| (key.clone(), value.0.clone()))
        .collect()
}

#[tokio::test]
async fn a_shop_deleted_and_created_again_keeps_the_credentials_its_data_was_created_with() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    create_shop(&cluster, json!({"version": "1.0.0"})).await;
    drive_to_ready(&cluster, &ctx).await;
    let mut before = Vec::new();
    let kept: Vec<String> = Backend::ALL
        .into_iter()
        .map(|backend| names::backend("demo", backend))
        .chain(["demo-credentials".to_owned()])
        .collect();
    for name in &kept {
        let secret: Secret = cluster.get(name).await.expect("Secret");
        before.push((secret.metadata.uid.clone(), secret_data(&secret)));
    }

    cluster
        .api::<Shop>()
        .delete("demo", &DeleteParams::default())
        .await
        .expect("delete the Shop");
    assert!(
        cluster.get::<Deployment>("demo-api").await.is_none(),
        "the garbage collector removed the Shop's children"
    );
    assert!(cluster.get::<ConfigMap>("demo-config").await.is_none());

    // Another operator run: secrets it generated would differ from the first run's.
    let ctx = cluster.context_generating("second-run");
    create_shop(&cluster, json!({"version": "1.0.0"})).await;
    shop_pass(&cluster, &ctx).await;
    for (name, before) in kept.iter().zip(before) {
        let secret: Secret = cluster
            .get(name)
            .await
            .unwrap_or_else(|| panic!("Secret {name} kept"));
        assert_eq!(
            (secret.metadata.uid.clone(), secret_data(&secret)),
            before,
            "Secret {name}: the same object, with the old passwords"
        );
        let Some(stateful_set) = cluster.get::<StatefulSet>(name).await else {
            continue;
        };
        let from_secret: Vec<String> = serde_json::to_value(&stateful_set)
            .expect("serialises")
            .pointer("/spec/template/spec/containers/0/env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|var| var.pointer("/valueFrom/secretKeyRef/name"))
            .filter_map(|name| name.as_str().map(str::to_owned))
            .collect();
        assert!(
            !from_secret.is_empty() && from_secret.iter().all(|secret| secret == name),
            "StatefulSet {name} reads its passwords from the kept Secret: {from_secret:?}"
        );
    }
}

#[tokio::test]
async fn a_shop_whose_volumes_go_with_it_takes_its_credentials_along_and_can_change_its_mind() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    let everything_goes = json!({"managed": {"deleteVolumeWithShop": true}});
    create_shop(
        &cluster,
        json!({"version": "1.0.0", "database": everything_goes, "redis": everything_goes,
               "rabbitmq": everything_goes}),
    )
    .await;
    shop_pass(&cluster, &ctx).await;
    let secrets: Vec<String> = Backend::ALL
        .into_iter()
        .map(|backend| names::backend("demo", backend))
        .chain(["demo-credentials".to_owned()])
        .collect();

    // Changing its mind for the database: its Secret (and, since a volume is now kept, the
    // credentials) lose their owner reference on the next pass.
    cluster
        .api::<Shop>()
        .patch(
            "demo",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"database": {"managed": {"deleteVolumeWithShop": false}}}}),
            ),
        )
        .await
        .expect("edit the Shop");
    shop_pass(&cluster, &ctx).await;
    for name in ["demo-postgres", "demo-credentials"] {
        let secret: Secret = cluster.get(name).await.expect("Secret");
        assert_eq!(
            secret.metadata.owner_references, None,
            "{name} no longer goes with the Shop"
        );
    }

    cluster
        .api::<Shop>()
        .delete("demo", &DeleteParams::default())
        .await
        .expect("delete the Shop");
    for name in &secrets {
        let kept = cluster.get::<Secret>(name).await.is_some();
        let expected = matches!(name.as_str(), "demo-postgres" | "demo-credentials");
        assert_eq!(kept, expected, "Secret {name} kept: {kept}");
    }
}

#[tokio::test]
async fn settings_removed_from_the_shop_are_removed_from_its_children() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    create_shop(
        &cluster,
        json!({
            "version": "1.0.0",
            "image": {"pullSecrets": [{"name": "registry"}]},
            "api": {
                "rateLimitPerMinute": 600,
                "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "512Mi"}},
                "ingress": {"host": "shop.example.com", "tlsSecretName": "shop-tls"},
            },
        }),
    )
    .await;
    drive_to_ready(&cluster, &ctx).await;
    let config: ConfigMap = cluster.get("demo-config").await.expect("ConfigMap");
    assert!(
        config
            .data
            .expect("data")
            .contains_key("SHOP_RATE_LIMIT_PER_MINUTE")
    );
    let ingress: Ingress = cluster.get("demo-api").await.expect("Ingress");
    assert!(ingress.spec.and_then(|spec| spec.tls).is_some());

    edit_shop(
        &cluster,
        json!({"spec": {
            "image": {"pullSecrets": null},
            "api": {"rateLimitPerMinute": null, "resources": null,
                    "ingress": {"tlsSecretName": null}},
        }}),
    )
    .await;
    shop_pass(&cluster, &ctx).await;

    let config: ConfigMap = cluster.get("demo-config").await.expect("ConfigMap");
    assert!(
        !config
            .data
            .unwrap_or_default()
            .contains_key("SHOP_RATE_LIMIT_PER_MINUTE"),
        "the rate limit is gone from the ConfigMap"
    );
    let ingress: Ingress = cluster.get("demo-api").await.expect("Ingress");
    assert_eq!(
        ingress.spec.and_then(|spec| spec.tls),
        None,
        "no TLS any more"
    );
    let deployment: Value = serde_json::to_value(
        cluster
            .get::<Deployment>("demo-api")
            .await
            .expect("Deployment"),
    )
    .expect("serialises");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod.get("imagePullSecrets"), None, "{pod}");
    let resources = &pod["containers"][0]["resources"];
    assert!(
        resources.get("limits").is_none() && resources.get("requests").is_none(),
        "no resources any more: {resources}"
    );

    // And once everything is in place, a pass writes nothing, defaults and all.
    cluster.take_writes();
    shop_pass(&cluster, &ctx).await;
    assert_eq!(cluster.take_writes(), Vec::<String>::new());
}
