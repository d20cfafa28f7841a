//! Server-side apply in the test API as in kube-apiserver (fields a manager stops applying are
//! removed, other managers' fields stay, updates take ownership), and the operator's `apply` and
//! `hand_over_replicas` against it.

mod common;

use common::objects::{apply_as, deployment, refused, web_spec};
use common::{FakeCluster, NAMESPACE};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use shop_operator::apply::{HANDOVER_MANAGER, Outcome, apply, hand_over_replicas};

fn fields_of(object: &impl serde::Serialize, manager: &str) -> Value {
    let object = serde_json::to_value(object).expect("serialises");
    object["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .find(|entry| entry["manager"] == manager)
        .unwrap_or_else(|| panic!("no entry for {manager}"))["fieldsV1"]
        .clone()
}

fn env_names(deployment: &Deployment) -> Vec<String> {
    let spec = deployment.spec.as_ref().expect("spec");
    let containers = &spec.template.spec.as_ref().expect("pod spec").containers;
    containers[0]
        .env
        .iter()
        .flatten()
        .map(|var| var.name.clone())
        .collect()
}

fn replicas(deployment: &Deployment) -> Option<i32> {
    deployment.spec.as_ref().and_then(|spec| spec.replicas)
}

#[tokio::test]
async fn an_apply_that_drops_a_field_removes_it_and_records_ownership_as_the_api_server_does() {
    let cluster = FakeCluster::new().await;
    let applied: Deployment = apply_as(&cluster, "op", &deployment(web_spec()))
        .await
        .expect("apply");
    let fields = fields_of(&applied, "op");
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    let container =
        &fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"api\"}"];
    assert_eq!(container["."], json!({}));
    assert_eq!(
        container["f:env"]["k:{\"name\":\"B\"}"]["f:value"],
        json!({})
    );
    assert_eq!(
        container["f:ports"]["k:{\"containerPort\":8080,\"protocol\":\"TCP\"}"]["f:name"],
        json!({})
    );

    let mut spec = web_spec();
    spec["template"]["spec"]["containers"][0]["env"] = json!([{"name": "A", "value": "1"}]);
    spec.as_object_mut().expect("spec").remove("replicas");
    let applied: Deployment = apply_as(&cluster, "op", &deployment(spec))
        .await
        .expect("apply");
    assert_eq!(env_names(&applied), ["A"], "B was dropped, so it is gone");
    assert_eq!(
        replicas(&applied),
        Some(1),
        "replicas dropped by its only owner: the default again"
    );
}

#[tokio::test]
async fn a_field_another_manager_owns_survives_when_the_applier_drops_it() {
    let cluster = FakeCluster::new().await;
    let config = |labels: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c", "namespace": NAMESPACE, "labels": labels}})
    };
    apply_as::<ConfigMap>(&cluster, "op", &config(json!({"mine": "1", "shared": "x"})))
        .await
        .expect("op applies");
    apply_as::<ConfigMap>(
        &cluster,
        "other",
        &config(json!({"theirs": "2", "shared": "x"})),
    )
    .await
    .expect("other applies the same value: no conflict, shared ownership");
    let after: ConfigMap = apply_as(&cluster, "op", &config(json!({})))
        .await
        .expect("op drops its labels");
    let labels: Vec<&str> = after.labels().keys().map(String::as_str).collect();
    assert_eq!(labels, ["shared", "theirs"]);
}

#[tokio::test]
async fn an_update_takes_the_fields_it_changes_and_an_unforced_apply_conflicts() {
    let cluster = FakeCluster::new().await;
    apply_as::<Deployment>(&cluster, "op", &deployment(web_spec()))
        .await
        .expect("apply");
    // What the HPA controller does: an update of the replica count.
    let scale = PatchParams {
        field_manager: Some("kube-controller-manager".to_owned()),
        ..PatchParams::default()
    };
    cluster
        .api::<Deployment>()
        .patch(
            "web",
            &scale,
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("scale");
    assert_eq!(
        refused(apply_as::<Deployment>(&cluster, "op", &deployment(web_spec())).await),
        (409, "Conflict".to_owned())
    );
    let mut spec = web_spec();
    spec.as_object_mut().expect("spec").remove("replicas");
    let applied: Deployment = apply_as(&cluster, "op", &deployment(spec))
        .await
        .expect("apply without replicas");
    assert_eq!(replicas(&applied), Some(5), "the controller's count stays");
}

#[tokio::test]
async fn replicas_handed_over_keep_their_value_and_a_second_pass_writes_nothing() {
    let cluster = FakeCluster::new().await;
    let with: Deployment = serde_json::from_value(deployment(web_spec())).expect("parses");
    let mut without = with.clone();
    without.spec.as_mut().expect("spec").replicas = None;
    let (live, outcome) = apply(&cluster.client, &with).await.expect("apply");
    assert_eq!(outcome, Outcome::Created);

    assert!(
        hand_over_replicas(&cluster.client, &live)
            .await
            .expect("hand over")
    );
    let (live, outcome) = apply(&cluster.client, &without).await.expect("apply");
    assert_eq!(outcome, Outcome::Updated, "the operator gives the field up");
    assert_eq!(replicas(&live), Some(3));
    let fields = fields_of(&live, HANDOVER_MANAGER);
    assert_eq!(fields, json!({"f:spec": {"f:replicas": {}}}));

    cluster.take_writes();
    assert!(
        !hand_over_replicas(&cluster.client, &live)
            .await
            .expect("hand over")
    );
    let (_, outcome) = apply(&cluster.client, &without).await.expect("apply");
    assert_eq!(outcome, Outcome::Unchanged);
    assert_eq!(cluster.take_writes(), Vec::<String>::new());
}

#[tokio::test]
async fn without_the_hand_over_the_replica_count_falls_to_one() {
    // What the hand-over prevents, and proof that the test API would catch its absence.
    let cluster = FakeCluster::new().await;
    let with: Deployment = serde_json::from_value(deployment(web_spec())).expect("parses");
    let mut without = with.clone();
    without.spec.as_mut().expect("spec").replicas = None;
    apply(&cluster.client, &with).await.expect("apply");
    let (live, _) = apply(&cluster.client, &without).await.expect("apply");
    assert_eq!(replicas(&live), Some(1));
}

#[tokio::test]
async fn apply_removes_a_dropped_field_corrects_drift_and_writes_nothing_when_nothing_changed() {
    let cluster = FakeCluster::new().await;
    let config = |data: Value| -> ConfigMap {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "demo-config", "namespace": NAMESPACE},
            "data": data,
        }))
        .expect("parses")
    };
    let both = config(json!({"A": "1", "RATE_LIMIT": "600"}));
    assert_eq!(
        apply(&cluster.client, &both).await.expect("apply").1,
        Outcome::Created
    );
    cluster.take_writes();
    assert_eq!(
        apply(&cluster.client, &both).await.expect("apply").1,
        Outcome::Unchanged
    );
    assert_eq!(cluster.take_writes(), Vec::<String>::new());

    let (live, outcome) = apply(&cluster.client, &config(json!({"A": "1"})))
        .await
        .expect("apply");
    assert_eq!(
        outcome,
        Outcome::Updated,
        "the live object holds every desired value, yet"
    );
    assert_eq!(live.data.expect("data").keys().collect::<Vec<_>>(), ["A"]);

    let someone = PatchParams {
        field_manager: Some("kubectl-edit".to_owned()),
        ..PatchParams::default()
    };
    cluster
        .api::<ConfigMap>()
        .patch(
            "demo-config",
            &someone,
            &Patch::Merge(json!({"data": {"A": "2"}})),
        )
        .await
        .expect("drift");
    let (live, outcome) = apply(&cluster.client, &config(json!({"A": "1"})))
        .await
        .expect("apply");
    assert_eq!(outcome, Outcome::Updated);
    assert_eq!(live.data.expect("data")["A"], "1");
}
