//! Errors reach the user: whatever stops a pass (a refused apply, a missing Secret) shows on the
//! Shop as `Ready=False` with a reason, a message and `observedGeneration`, with a Warning Event;
//! and the Events of a healthy lifecycle keep every fact (one Event naming every generated
//! Secret; an install announced as an install, an upgrade as an upgrade).

mod common;

use std::sync::Arc;

use common::{FakeCluster, NAMESPACE, shops};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde_json::json;
use shop_operator::context::Context;
use shop_operator::crd::Shop;
use shop_operator::error::Error;
use shop_operator::names;
use shop_operator::reconcile::shop::reconcile;

async fn create_shop(cluster: &FakeCluster, name: &str) {
    cluster
        .create::<Shop>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"version": "1.0.0"},
        }))
        .await;
}

/// One pass; the Shop as it is afterwards.
async fn pass(cluster: &FakeCluster, ctx: &Arc<Context>, name: &str) -> (Result<(), Error>, Shop) {
    let shop: Shop = cluster.get(name).await.expect("the Shop exists");
    let result = reconcile(Arc::new(shop), ctx.clone()).await.map(|_| ());
    (result, cluster.get(name).await.expect("the Shop exists"))
}

fn condition(shop: &Shop, type_: &str) -> Condition {
    shop.status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition in {:?}", shop.status))
        .clone()
}

async fn events(cluster: &FakeCluster) -> Vec<Event> {
    cluster
        .api::<Event>()
        .list(&Default::default())
        .await
        .expect("list Events")
        .items
}

#[tokio::test]
async fn an_apply_the_api_server_refuses_shows_as_ready_false_with_a_warning_event() {
    // The CRD refuses such a name (CEL), but a Shop created before that rule existed still has
    // it: the API server then refuses the Service `2shop-postgres` (not a DNS-1035 label).
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    create_shop(&cluster, "2shop").await;
    let (result, shop) = pass(&cluster, &ctx, "2shop").await;
    let error = result.expect_err("the API server refuses the Service");
    assert_eq!(error.metric_label(), "apply_refused");
    let ready = condition(&shop, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "ApplyRefused")
    );
    assert!(ready.message.contains("2shop-"), "{}", ready.message);
    assert_eq!(ready.observed_generation, shop.metadata.generation);
    assert!(
        events(&cluster).await.iter().any(|event| {
            event.type_.as_deref() == Some("Warning")
                && event.reason.as_deref() == Some("ApplyRefused")
        }),
        "a Warning Event tells the user"
    );
}

#[tokio::test]
async fn a_ready_shop_that_loses_a_secret_turns_unready_and_keeps_its_other_conditions() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    shops::create_shop(&cluster, json!({"version": "1.0.0"})).await;
    shops::drive_to_ready(&cluster, &ctx).await;
    shops::edit_shop(&cluster, json!({"spec": {"payments": {"name": "stripe"}}})).await;
    cluster.take_writes();

    let (result, shop) = pass(&cluster, &ctx, "demo").await;
    assert_eq!(
        result.expect_err("missing Secret").metric_label(),
        "missing_secret"
    );
    let ready = condition(&shop, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "SecretMissing")
    );
    assert!(
        ready.message.contains("Secret stripe (spec.payments)"),
        "{}",
        ready.message
    );
    assert_eq!(ready.observed_generation, shop.metadata.generation);
    assert_eq!(
        shop.status.as_ref().and_then(|s| s.observed_generation),
        shop.metadata.generation
    );
    assert_eq!(condition(&shop, "ApiReady").status, "True", "still serving");
    let writes = cluster.take_writes();
    assert!(
        writes
            .iter()
            .all(|write| write.starts_with("patch-status") || write.contains("Event")),
        "nothing but the status and an Event is written: {writes:?}"
    );
}

#[tokio::test]
async fn events_name_every_generated_secret_and_tell_an_install_from_an_upgrade() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    shops::create_shop(&cluster, json!({"version": "1.0.0"})).await;
    shops::drive_to_ready(&cluster, &ctx).await;
    let all = events(&cluster).await;
    let notes = |reason: &str| -> Vec<String> {
        all.iter()
            .filter(|event| event.reason.as_deref() == Some(reason))
            .filter_map(|event| event.note.clone())
            .collect()
    };
    let generated = notes("CredentialsGenerated");
    assert_eq!(generated.len(), 1, "{generated:?}");
    for secret in [
        "demo-credentials",
        "demo-postgres",
        "demo-redis",
        "demo-rabbitmq",
    ] {
        assert!(
            generated[0].contains(secret),
            "{secret} in {}",
            generated[0]
        );
    }
    assert_eq!(notes("Installed"), ["version 1.0.0 is installed"]);
    assert!(
        notes("Upgraded").is_empty(),
        "a first install is no upgrade"
    );

    shops::edit_shop(&cluster, json!({"spec": {"version": "1.1.0"}})).await;
    pass(&cluster, &ctx, "demo")
        .await
        .0
        .expect("upgrade starts");
    cluster
        .set_status::<Job>(
            &names::migration_job("demo", "1.1.0"),
            json!({"conditions": [{"type": "Complete", "status": "True"}]}),
        )
        .await;
    pass(&cluster, &ctx, "demo").await.0.expect("upgrade done");
    let upgraded: Vec<String> = events(&cluster)
        .await
        .iter()
        .filter(|event| event.reason.as_deref() == Some("Upgraded"))
        .filter_map(|event| event.note.clone())
        .collect();
    assert_eq!(upgraded, ["version 1.1.0 replaces 1.0.0"]);
}

#[tokio::test]
async fn invoices_on_a_claim_that_does_not_exist_are_reported_before_pods_would_hang() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    cluster
        .create::<Shop>(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": "demo", "namespace": NAMESPACE},
            "spec": {"version": "1.0.0",
                     "invoices": {"storage": {"volume": {"claimName": "invoices"}}}},
        }))
        .await;
    let (result, shop) = pass(&cluster, &ctx, "demo").await;
    assert_eq!(
        result.expect_err("no claim").metric_label(),
        "missing_claim"
    );
    let ready = condition(&shop, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "ClaimMissing")
    );
    assert!(
        ready.message.contains("invoices")
            && ready
                .message
                .contains("spec.invoices.storage.volume.claimName"),
        "{}",
        ready.message
    );
    assert!(
        cluster.get::<StatefulSet>("demo-postgres").await.is_none(),
        "nothing applied"
    );

    cluster
        .create::<k8s_openapi::api::core::v1::PersistentVolumeClaim>(json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "invoices", "namespace": NAMESPACE},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}},
        }))
        .await;
    pass(&cluster, &ctx, "demo")
        .await
        .0
        .expect("the claim exists now");
    assert!(cluster.get::<StatefulSet>("demo-postgres").await.is_some());
}
