//! Objects and requests the tests of the test API itself share.

use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::{FakeCluster, NAMESPACE};

pub fn deployment(spec: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NAMESPACE},
        "spec": spec,
    })
}

pub fn web_spec() -> Value {
    json!({
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{
                "name": "api", "image": "shop:1",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "ports": [{"name": "http", "containerPort": 8080}],
            }]},
        },
    })
}

pub async fn apply_as<K>(
    cluster: &FakeCluster,
    manager: &str,
    object: &Value,
) -> Result<K, kube::Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let name = object["metadata"]["name"].as_str().expect("name");
    cluster
        .api::<K>()
        .patch(name, &PatchParams::apply(manager), &Patch::Apply(object))
        .await
}

pub async fn create<K>(cluster: &FakeCluster, object: Value) -> Result<K, kube::Error>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    let object: K = serde_json::from_value(object).expect("test object parses");
    cluster
        .api::<K>()
        .create(&PostParams::default(), &object)
        .await
}

/// The code and reason of a refusal.
pub fn refused<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.reason.clone()),
        other => panic!("expected the API server to refuse, got {other:?}"),
    }
}

pub fn invalid() -> (u16, String) {
    (422, "Invalid".to_owned())
}
