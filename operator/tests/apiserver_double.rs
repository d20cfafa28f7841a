//! The API server double (`apiserver/`) answers lists and watches as a real API server does:
//! the end-to-end tests of the binary are only as good as this.

#[allow(dead_code)]
mod apiserver;

use std::time::Duration;

use apiserver::ApiServer;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    DeleteParams, ListParams, PartialObjectMeta, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::runtime::watcher::{self, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

const NAMESPACE: &str = "double";

async fn started() -> (ApiServer, Client) {
    let server = ApiServer::start().await.expect("API server double");
    let client = server.client().expect("client");
    (server, client)
}

fn config_map(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "data": {"key": "value"},
    }))
    .expect("a ConfigMap")
}

/// The next `count` events of a watch, as `(type, name)`.
async fn next_events<K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug>(
    stream: impl futures::Stream<Item = kube::Result<WatchEvent<K>>>,
    count: usize,
) -> Vec<(String, String)> {
    let events = stream
        .try_filter(|event| std::future::ready(!matches!(event, WatchEvent::Bookmark(_))))
        .take(count)
        .map(|event| match event.expect("a watch event") {
            WatchEvent::Added(o) => ("ADDED".to_owned(), o.name_any()),
            WatchEvent::Modified(o) => ("MODIFIED".to_owned(), o.name_any()),
            WatchEvent::Deleted(o) => ("DELETED".to_owned(), o.name_any()),
            other => panic!("unexpected event {other:?}"),
        })
        .collect::<Vec<_>>();
    tokio::time::timeout(Duration::from_secs(10), events)
        .await
        .expect("the events arrive in time")
}

#[tokio::test]
async fn a_watch_from_a_lists_version_sees_every_later_write_once_in_order() {
    let (_server, client) = started().await;
    let maps: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    let pp = PostParams::default();
    maps.create(&pp, &config_map("before", json!({})))
        .await
        .expect("create");
    let version = maps
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("a list version");
    maps.create(&pp, &config_map("after", json!({})))
        .await
        .expect("create");
    let change = Patch::Merge(json!({"data": {"key": "changed"}}));
    maps.patch("before", &PatchParams::default(), &change)
        .await
        .expect("patch");
    // The same patch again changes nothing: no event, no new version.
    let unchanged = maps
        .patch("before", &PatchParams::default(), &change)
        .await
        .expect("patch");
    let again = maps.get("before").await.expect("get");
    assert_eq!(unchanged.resource_version(), again.resource_version());
    maps.delete("after", &DeleteParams::default())
        .await
        .expect("delete");

    let stream = maps
        .watch(&WatchParams::default(), &version)
        .await
        .expect("watch");
    let events = next_events(stream, 3).await;
    assert_eq!(
        events,
        [
            ("ADDED".to_owned(), "after".to_owned()),
            ("MODIFIED".to_owned(), "before".to_owned()),
            ("DELETED".to_owned(), "after".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_label_selected_watch_sees_objects_enter_and_leave_its_selection() {
    let (_server, client) = started().await;
    let maps: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    let selected = WatchParams::default().labels("team=shop");
    let stream = maps.watch(&selected, "0").await.expect("watch");
    maps.create(
        &PostParams::default(),
        &config_map("other", json!({"team": "ops"})),
    )
    .await
    .expect("create");
    let label = |team: &str| Patch::Merge(json!({"metadata": {"labels": {"team": team}}}));
    let pp = PatchParams::default();
    maps.patch("other", &pp, &label("shop"))
        .await
        .expect("patch");
    maps.patch("other", &pp, &label("ops"))
        .await
        .expect("patch");
    let events = next_events(stream, 2).await;
    assert_eq!(
        events,
        [
            ("ADDED".to_owned(), "other".to_owned()),
            ("DELETED".to_owned(), "other".to_owned()),
        ]
    );
}

#[tokio::test]
async fn metadata_watches_get_partial_object_metadata_and_streaming_lists_end() {
    let (_server, client) = started().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "api", "namespace": NAMESPACE, "labels": {"app": "api"}},
        "spec": {
            "selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"}},
                         "spec": {"containers": [{"name": "api", "image": "api:1"}]}},
        },
    }))
    .expect("a Deployment");
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .expect("create");

    let list = deployments
        .list_metadata(&ListParams::default())
        .await
        .expect("metadata list");
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].name_any(), "api");

    // kube's metadata watcher with a streaming list: initial events, then the end bookmark.
    let metadata: Api<PartialObjectMeta<Deployment>> = Api::namespaced(client, NAMESPACE);
    let config = watcher::Config::default().streaming_lists();
    let mut events = watcher(metadata, config).boxed();
    let mut initial = Vec::new();
    let done = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.try_next().await.expect("watch event") {
            match event {
                watcher::Event::InitApply(object) => initial.push(object.name_any()),
                watcher::Event::InitDone => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(done.is_ok(), "the initial events end with a bookmark");
    assert_eq!(initial, ["api"]);
}

#[tokio::test]
async fn dependents_removed_by_the_garbage_collector_are_reported_deleted() {
    let (_server, client) = started().await;
    let maps: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    let owner = maps
        .create(&PostParams::default(), &config_map("owner", json!({})))
        .await
        .expect("create");
    let mut dependent = config_map("dependent", json!({}));
    dependent.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "v1".to_owned(),
            kind: "ConfigMap".to_owned(),
            name: "owner".to_owned(),
            uid: owner.uid().expect("a uid"),
            ..Default::default()
        },
    ]);
    maps.create(&PostParams::default(), &dependent)
        .await
        .expect("create");
    let version = owner.resource_version().expect("a version");
    let stream = maps
        .watch(&WatchParams::default(), &version)
        .await
        .expect("watch");
    maps.delete("owner", &DeleteParams::background())
        .await
        .expect("delete");
    let mut events = next_events(stream, 3).await;
    events[1..].sort();
    assert_eq!(
        events,
        [
            ("ADDED".to_owned(), "dependent".to_owned()),
            ("DELETED".to_owned(), "dependent".to_owned()),
            ("DELETED".to_owned(), "owner".to_owned()),
        ]
    );
}
