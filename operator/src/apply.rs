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

/// Whether `live` holds every value `desired` sets. Objects may have extra keys; arrays must have
/// the same length and match element by element (order is meaningful in pod specs).
pub fn contains(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(live), Value::Object(desired)) => desired
            .iter()
            .all(|(key, want)| live.get(key).is_some_and(|have| contains(have, want))),
        (Value::Array(live), Value::Array(desired)) => {
            live.len() == desired.len()
                && live
                    .iter()
                    .zip(desired)
                    .all(|(have, want)| contains(have, want))
        }
        (live, desired) => live == desired,
    }
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
}
