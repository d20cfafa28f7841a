//! Server-side apply with one field manager, and nothing written when nothing would change.
//!
//! Before applying, the live object is read and compared with the desired one. No request is sent
//! when both hold:
//!
//! - every field the operator sets already has the desired value (the live object may hold more:
//!   defaults, other managers' fields, status), so drift (someone edited a field the operator
//!   sets) is corrected on the next pass;
//! - every field the operator owns (its `Apply` entry in `metadata.managedFields`) is still in
//!   the desired object. A field dropped from the desired object (a rate limit removed from the
//!   Shop, TLS turned off) is one the operator still owns: applying without it is what makes the
//!   API server remove it, so it is applied.
//!
//! A reconcile with nothing to do therefore writes nothing.
//!
//! [`hand_over_replicas`] moves ownership of a Deployment's `spec.replicas` away from the
//! operator before it stops sending the field, so that the replica count survives the hand-over
//! to a HorizontalPodAutoscaler.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::{ApplyError, StatusError};
use crate::labels::MANAGER;

/// A namespaced Kubernetes object type the operator manages.
pub trait Managed:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Serialize
    + DeserializeOwned
    + Clone
    + Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Managed for K where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Clone
        + Debug
        + Send
        + Sync
        + 'static
{
}

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The object did not exist and was created.
    Created,
    /// The object existed and differed; it was patched.
    Updated,
    /// The object already matched; nothing was sent.
    Unchanged,
}

/// What an apply stage returns.
type Result<T, E = ApplyError> = std::result::Result<T, E>;

/// Wraps a client error with what was being done to which object.
fn failed<K: Resource<DynamicType = ()>>(
    verb: &'static str,
    name: &str,
) -> impl FnOnce(kube::Error) -> ApplyError {
    let name = name.to_owned();
    move |source| ApplyError::Request {
        verb,
        kind: K::kind(&()).into_owned(),
        name,
        source: Box::new(source),
    }
}

/// Ensures `desired` exists with every field it sets, returning the live object afterwards.
pub async fn apply<K: Managed>(client: &Client, desired: &K) -> Result<(K, Outcome)> {
    let namespace = desired
        .meta()
        .namespace
        .as_deref()
        .ok_or_else(|| ApplyError::NoNamespace(desired.name_any()))?;
    let name = desired.name_any();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let live = api
        .get_opt(&name)
        .await
        .map_err(failed::<K>("read", &name))?;
    let outcome = match &live {
        Some(live)
            if up_to_date(
                &serde_json::to_value(live)?,
                &serde_json::to_value(desired)?,
            ) =>
        {
            return Ok((live.clone(), Outcome::Unchanged));
        }
        Some(_) => Outcome::Updated,
        None => Outcome::Created,
    };
    let params = PatchParams::apply(MANAGER).force();
    let applied = api
        .patch(&name, &params, &Patch::Apply(desired))
        .await
        .map_err(failed::<K>("apply", &name))?;
    Ok((applied, outcome))
}

/// Field manager that keeps a Deployment's `spec.replicas` once the operator stops sending it.
pub const HANDOVER_MANAGER: &str = "shop-operator-handover";

/// Hands `spec.replicas` of `live` over before the operator applies the Deployment without it
/// (autoscaling turned on), as the Kubernetes documentation prescribes for server-side apply
/// ("Transferring ownership"): when the operator owns the field, the live value is applied under
/// [`HANDOVER_MANAGER`] first, so the field has a second owner and keeps its value when the
/// operator's next apply drops it (otherwise the API server would remove it and the Deployment
/// would fall back to one replica). Returns whether anything was written: nothing when the
/// operator does not own the field (already handed over, or taken by the autoscaler).
pub async fn hand_over_replicas(client: &Client, live: &Deployment) -> Result<bool> {
    let Some(replicas) = live.spec.as_ref().and_then(|spec| spec.replicas) else {
        return Ok(false);
    };
    let owns_replicas = owned_fields(&serde_json::to_value(live)?)
        .and_then(|fields| fields.get("f:spec")?.get("f:replicas").cloned())
        .is_some();
    if !owns_replicas {
        return Ok(false);
    }
    let namespace = live
        .metadata
        .namespace
        .as_deref()
        .ok_or_else(|| ApplyError::NoNamespace(live.name_any()))?;
    let name = live.name_any();
    let replicas_only = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas},
    });
    // Not forced: if the autoscaler changed the count since `live` was read, the conflict fails
    // this pass and the next one sees that the operator no longer owns the field.
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .patch(
            &name,
            &PatchParams::apply(HANDOVER_MANAGER),
            &Patch::Apply(&replicas_only),
        )
        .await
        .map_err(failed::<Deployment>("hand over the replicas of", &name))?;
    Ok(true)
}

/// With autoscaling the desired Deployment has no `spec.replicas`: hand the live count over
/// before the apply that stops sending it, so that the Deployment keeps its size.
pub async fn hand_over_if_autoscaled(
    client: &Client,
    live: Option<&Deployment>,
    desired: &Deployment,
) -> Result<()> {
    let autoscaled = desired
        .spec
        .as_ref()
        .is_some_and(|spec| spec.replicas.is_none());
    if let (true, Some(live)) = (autoscaled, live) {
        hand_over_replicas(client, live).await?;
    }
    Ok(())
}

/// Deletes an object the operator created earlier and no longer wants (an HPA after autoscaling was
/// turned off, an Ingress no longer asked for). Objects not controlled by `owner_uid` are left alone.
pub async fn delete_owned<K: Managed>(
    client: &Client,
    namespace: &str,
    name: &str,
    owner_uid: &str,
) -> Result<bool> {
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let Some(live) = api.get_opt(name).await.map_err(failed::<K>("read", name))? else {
        return Ok(false);
    };
    let ours = live
        .owner_references()
        .iter()
        .any(|owner| owner.uid == owner_uid && owner.controller == Some(true));
    if !ours {
        return Ok(false);
    }
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    api.delete(name, &params)
        .await
        .map_err(failed::<K>("delete", name))?;
    Ok(true)
}

/// Writes `status` into `object`'s status subresource, unless `previous` (the status the object
/// was read with) is already equal: a pass that observed nothing new writes nothing.
pub async fn write_status<K: Managed, S: PartialEq + Serialize>(
    client: &Client,
    object: &K,
    previous: Option<&S>,
    status: &S,
) -> Result<(), StatusError> {
    if previous == Some(status) {
        return Ok(());
    }
    let namespace = object.meta().namespace.as_deref().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let patch = serde_json::json!({ "status": status });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(MANAGER),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|source| StatusError::Write {
        name: object.name_any(),
        source: Box::new(source),
    })?;
    Ok(())
}

/// Whether applying `desired` would change nothing: `live` holds every value `desired` sets, and
/// every field the operator owns in `live` is still in `desired`.
pub fn up_to_date(live: &Value, desired: &Value) -> bool {
    contains(live, desired)
        && owned_fields(live).is_none_or(|owned| first_dropped(&owned, desired).is_none())
}

/// The fields the operator's server-side applies own in `live` (`fieldsV1` of its `Apply` entry
/// in `metadata.managedFields`, the object itself rather than a subresource), if any.
pub fn owned_fields(live: &Value) -> Option<Map<String, Value>> {
    live.pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|entry| {
            let text = |key: &str| entry.get(key).and_then(Value::as_str).unwrap_or_default();
            text("manager") == MANAGER
                && text("operation") == "Apply"
                && text("subresource").is_empty()
        })?
        .get("fieldsV1")?
        .as_object()
        .cloned()
}

/// The first owned field (as its `fieldsV1` path) that `desired` no longer sets.
///
/// Paths are followed as the API server writes them: `f:name` a field, `k:{"name":"api"}` the
/// list item with those key values (a missing `protocol` counts as its default, `TCP`),
/// `v:value` a set element, `.` the item itself. A segment of another form cannot be checked
/// here and counts as present, so that an unknown format never causes a write on every pass.
pub fn first_dropped(owned: &Map<String, Value>, desired: &Value) -> Option<String> {
    for (segment, below) in owned {
        let below = below.as_object();
        let child = if segment == "." {
            Some(desired)
        } else if let Some(name) = segment.strip_prefix("f:") {
            desired.get(name).filter(|value| !value.is_null())
        } else if let Some(key) = segment.strip_prefix("k:") {
            let key: Map<String, Value> = serde_json::from_str(key).unwrap_or_default();
            desired.as_array().and_then(|items| {
                items.iter().find(|item| {
                    key.iter().all(|(field, want)| match item.get(field) {
                        Some(have) => have == want,
                        None => field == "protocol" && want == "TCP",
                    })
                })
            })
        } else if let Some(element) = segment.strip_prefix("v:") {
            let element: Value = serde_json::from_str(element).unwrap_or(Value::Null);
            desired
                .as_array()
                .and_then(|items| items.iter().find(|item| **item == element))
        } else {
            continue;
        };
        let Some(child) = child else {
            return Some(segment.clone());
        };
        if let Some(dropped) = below.and_then(|below| first_dropped(below, child)) {
            return Some(format!("{segment}.{dropped}"));
        }
    }
    None
}

/// Whether `live` holds every value `desired` sets. Objects may have extra keys; arrays must have
/// the same length and match element by element (order is meaningful in pod specs). Resource
/// quantities (under `requests` and `limits`) compare by value, because the API server stores
/// them in canonical form (`0.5` comes back as `500m`, `1024Mi` as `1Gi`).
pub fn contains(live: &Value, desired: &Value) -> bool {
    contains_in(live, desired, false)
}

fn contains_in(live: &Value, desired: &Value, quantities: bool) -> bool {
    match (live, desired) {
        (Value::Object(live), Value::Object(desired)) => desired.iter().all(|(key, want)| {
            let quantities = quantities || key == "requests" || key == "limits";
            live.get(key)
                .is_some_and(|have| contains_in(have, want, quantities))
        }),
        (Value::Array(live), Value::Array(desired)) => {
            live.len() == desired.len()
                && live
                    .iter()
                    .zip(desired)
                    .all(|(have, want)| contains_in(have, want, quantities))
        }
        (live, desired) if quantities && live != desired => {
            match (quantity_value(live), quantity_value(desired)) {
                (Some(have), Some(want)) => (have - want).abs() <= want.abs() * 1e-9,
                _ => false,
            }
        }
        (live, desired) => live == desired,
    }
}

/// The value of a Kubernetes quantity (`2`, `0.5`, `500m`, `1Gi`, `1e3`), if it is one.
fn quantity_value(value: &Value) -> Option<f64> {
    let text = match value {
        Value::Number(number) => return number.as_f64(),
        Value::String(text) => text.trim(),
        _ => return None,
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        "Pi" => 1024.0f64.powi(5),
        "Ei" => 1024.0f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => 10f64.powi(exponent[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * factor)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{contains, first_dropped, up_to_date};

    fn live_owning(fields: serde_json::Value, manager: &str) -> serde_json::Value {
        json!({
            "metadata": {"name": "demo-api", "managedFields": [
                {"manager": manager, "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": fields},
            ]},
            "spec": {"replicas": 2, "rateLimit": 100, "template": {"spec": {"containers": [
                {"name": "api", "image": "a:1", "ports": [{"containerPort": 8080, "protocol": "TCP"}]},
            ]}}},
        })
    }

    #[test]
    fn a_field_the_operator_owns_but_no_longer_sets_must_be_applied() {
        let owned = json!({"f:spec": {"f:replicas": {}, "f:rateLimit": {}}});
        let live = live_owning(owned.clone(), "shop-operator");
        let desired = json!({"metadata": {"name": "demo-api"}, "spec": {"replicas": 2}});
        assert!(contains(&live, &desired), "every desired value is there");
        assert!(!up_to_date(&live, &desired), "but rateLimit was dropped");
        assert_eq!(
            first_dropped(owned.as_object().expect("map"), &desired).as_deref(),
            Some("f:spec.f:rateLimit")
        );
        // Another manager's fields are not the operator's to remove.
        assert!(up_to_date(&live_owning(owned, "kubectl"), &desired));
    }

    #[test]
    fn keyed_list_items_are_found_by_their_keys_with_the_default_protocol() {
        let owned = json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"api\"}": {".": {}, "f:image": {}, "f:ports": {
                "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}},
            }},
        }}}}});
        let live = live_owning(owned.clone(), "shop-operator");
        let same = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "api", "image": "a:1", "ports": [{"containerPort": 8080}]},
        ]}}}});
        assert!(up_to_date(&live, &same));
        let renamed = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "a:1", "ports": [{"containerPort": 8080}]},
        ]}}}});
        assert!(!up_to_date(&live, &renamed));
        let without_port = json!({"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "a:1"}]}}}});
        assert!(!up_to_date(&live, &without_port));
    }

    #[test]
    fn extra_live_fields_do_not_count_as_a_difference() {
        let live = json!({"spec": {"replicas": 2, "revisionHistoryLimit": 10}, "status": {}});
        assert!(contains(&live, &json!({"spec": {"replicas": 2}})));
    }

    #[test]
    fn a_changed_or_missing_value_is_a_difference() {
        let live = json!({"spec": {"replicas": 2}});
        assert!(!contains(&live, &json!({"spec": {"replicas": 3}})));
        assert!(!contains(&live, &json!({"spec": {"paused": true}})));
    }

    #[test]
    fn arrays_must_match_in_length_and_order() {
        let live = json!({"args": ["serve", "--x"]});
        assert!(!contains(&live, &json!({"args": ["serve"]})));
        assert!(!contains(&live, &json!({"args": ["--x", "serve"]})));
        let containers =
            json!({"c": [{"name": "api", "terminationMessagePath": "/dev/termination-log"}]});
        assert!(contains(&containers, &json!({"c": [{"name": "api"}]})));
    }

    #[test]
    fn quantities_compare_by_value_as_the_api_server_canonicalises_them() {
        let live = json!({"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}});
        assert!(contains(
            &live,
            &json!({"resources": {"requests": {"cpu": "0.5", "memory": "1024Mi"}}})
        ));
        assert!(!contains(
            &live,
            &json!({"resources": {"requests": {"cpu": "600m"}}})
        ));
        // Outside requests and limits, strings are compared as written.
        assert!(!contains(&json!({"image": "1"}), &json!({"image": "1.0"})));
    }
}
