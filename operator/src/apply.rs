//! Server-side apply with one field manager, and nothing written when nothing would change.
//!
//! Before applying, the live object is read and compared with the desired one: when every field
//! the operator sets already has the desired value (the live object may hold more: defaults, other
//! managers' fields, status), no request is sent. A reconcile with nothing to do therefore writes
//! nothing, and drift (someone edited a field the operator owns) is corrected on the next pass.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
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

/// Ensures `desired` exists with every field it sets, returning the live object afterwards.
pub async fn apply<K: Managed>(client: &Client, desired: &K) -> Result<(K, Outcome)> {
    let namespace =
        desired.meta().namespace.as_deref().ok_or_else(|| {
            Error::InvalidSpec(format!("{} has no namespace", desired.name_any()))
        })?;
    let name = desired.name_any();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let live = api.get_opt(&name).await?;
    let outcome = match &live {
        Some(live)
            if contains(
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
    let applied = api.patch(&name, &params, &Patch::Apply(desired)).await?;
    Ok((applied, outcome))
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
    let Some(live) = api.get_opt(name).await? else {
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
    api.delete(name, &params).await?;
    Ok(true)
}

/// Writes `status` into `object`'s status subresource, unless `previous` (the status the object
/// was read with) is already equal: a pass that observed nothing new writes nothing.
pub async fn write_status<K: Managed, S: PartialEq + Serialize>(
    client: &Client,
    object: &K,
    previous: Option<&S>,
    status: &S,
) -> Result<()> {
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
    .await?;
    Ok(())
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

    use super::contains;

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
