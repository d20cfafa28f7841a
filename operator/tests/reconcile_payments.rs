//! `spec.payments` against an in-memory Kubernetes API: the provider's documented keys reach the
//! API as single Secret keys, a missing key is named on the Shop, and the old shape still works.

mod common;

use std::sync::Arc;

use common::shops::{create_shop, drive_to_ready, edit_shop};
use common::{FakeCluster, NAMESPACE};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{EnvVar, Secret};
use serde_json::{Value, json};
use shop_operator::crd::Shop;
use shop_operator::reconcile::shop::reconcile;

async fn create_secret(cluster: &FakeCluster, name: &str, data: Value) {
    cluster
        .create::<Secret>(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "stringData": data,
        }))
        .await;
}

async fn api_container_env(cluster: &FakeCluster) -> (Vec<EnvVar>, Vec<String>) {
    let deployment: Deployment = cluster.get("demo-api").await.expect("API Deployment");
    let container = deployment
        .spec
        .and_then(|spec| spec.template.spec)
        .expect("pod")
        .containers
        .remove(0);
    let env_from = container
        .env_from
        .unwrap_or_default()
        .into_iter()
        .filter_map(|source| source.secret_ref.map(|secret| secret.name))
        .collect();
    (container.env.unwrap_or_default(), env_from)
}

fn from_secret(env: &[EnvVar], name: &str) -> Option<(String, String)> {
    let var = env.iter().find(|var| var.name == name)?;
    let from = var.value_from.as_ref()?.secret_key_ref.as_ref()?;
    Some((from.name.clone(), from.key.clone()))
}

fn value(env: &[EnvVar], name: &str) -> Option<String> {
    env.iter()
        .find(|var| var.name == name)
        .and_then(|var| var.value.clone())
}

#[tokio::test]
async fn stripe_keys_reach_the_api_and_a_missing_key_is_named_on_the_shop() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    // The Secret lacks webhookSecret at first.
    create_secret(&cluster, "stripe-keys", json!({"secretKey": "sk_test_1"})).await;
    create_shop(
        &cluster,
        json!({"version": "1.0.0",
               "api": {"ingress": {"host": "shop.example.com", "tlsSecretName": "tls"}},
               "payments": {"provider": "stripe", "secretRef": {"name": "stripe-keys"}}}),
    )
    .await;
    let shop: Shop = cluster.get("demo").await.expect("Shop");
    let error = reconcile(Arc::new(shop), ctx.clone())
        .await
        .expect_err("a key is missing");
    assert_eq!(error.metric_label(), "missing_secret");
    let shop: Shop = cluster.get("demo").await.expect("Shop");
    let ready = shop
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == "Ready"))
        .expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "SecretMissing")
    );
    assert!(
        ready
            .message
            .contains("key webhookSecret of Secret stripe-keys (spec.payments.secretRef)"),
        "{}",
        ready.message
    );
    assert!(
        cluster.get::<Deployment>("demo-api").await.is_none(),
        "nothing runs without its keys"
    );

    // The key added: the Shop comes up with each key as its own variable.
    cluster
        .api::<Secret>()
        .patch(
            "stripe-keys",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"stringData": {"webhookSecret": "whsec_1"}})),
        )
        .await
        .expect("add the key");
    drive_to_ready(&cluster, &ctx).await;
    let (env, env_from) = api_container_env(&cluster).await;
    assert_eq!(
        value(&env, "SHOP_PAYMENT_PROVIDER").as_deref(),
        Some("stripe")
    );
    assert_eq!(
        from_secret(&env, "SHOP_STRIPE_SECRET_KEY"),
        Some(("stripe-keys".to_owned(), "secretKey".to_owned()))
    );
    assert_eq!(
        from_secret(&env, "SHOP_STRIPE_WEBHOOK_SECRET"),
        Some(("stripe-keys".to_owned(), "webhookSecret".to_owned()))
    );
    assert!(env_from.is_empty(), "never the whole Secret: {env_from:?}");
    let config: k8s_openapi::api::core::v1::ConfigMap =
        cluster.get("demo-config").await.expect("ConfigMap");
    assert_eq!(
        config.data.expect("data")["SHOP_PUBLIC_URL"],
        "https://shop.example.com"
    );
}

#[tokio::test]
async fn the_old_payments_shape_still_passes_the_whole_secret() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    create_secret(
        &cluster,
        "payments-env",
        json!({"SHOP_PAYMENT_PROVIDER": "midtrans", "SHOP_MIDTRANS_SERVER_KEY": "SB-1"}),
    )
    .await;
    create_shop(
        &cluster,
        json!({"version": "1.0.0", "payments": {"name": "payments-env"}}),
    )
    .await;
    drive_to_ready(&cluster, &ctx).await;
    let (env, env_from) = api_container_env(&cluster).await;
    assert_eq!(env_from, ["payments-env"]);
    // The Secret's own keys decide, as before.
    assert_eq!(value(&env, "SHOP_PAYMENT_PROVIDER"), None);

    // Moving to the new shape swaps envFrom for single keys.
    create_secret(&cluster, "midtrans-keys", json!({"serverKey": "SB-2"})).await;
    edit_shop(
        &cluster,
        json!({"spec": {"payments": {"name": null, "provider": "midtrans",
                                     "secretRef": {"name": "midtrans-keys"}}}}),
    )
    .await;
    common::shops::shop_pass(&cluster, &ctx).await;
    let (env, env_from) = api_container_env(&cluster).await;
    assert!(env_from.is_empty(), "{env_from:?}");
    assert_eq!(
        value(&env, "SHOP_PAYMENT_PROVIDER").as_deref(),
        Some("midtrans")
    );
    assert_eq!(
        from_secret(&env, "SHOP_MIDTRANS_SERVER_KEY"),
        Some(("midtrans-keys".to_owned(), "serverKey".to_owned()))
    );
    // The optional environment key may be absent from the Secret.
    assert_eq!(
        from_secret(&env, "SHOP_MIDTRANS_ENVIRONMENT"),
        Some(("midtrans-keys".to_owned(), "environment".to_owned()))
    );
}

#[tokio::test]
async fn a_missing_legacy_secret_is_still_reported_as_before() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    create_shop(
        &cluster,
        json!({"version": "1.0.0", "payments": {"name": "absent"}}),
    )
    .await;
    let shop: Shop = cluster.get("demo").await.expect("Shop");
    let error = reconcile(Arc::new(shop), ctx)
        .await
        .expect_err("missing Secret");
    assert!(
        error.to_string().contains("Secret absent (spec.payments)"),
        "{error}"
    );
}
