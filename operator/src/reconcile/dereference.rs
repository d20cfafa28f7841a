//! The dereference stage's shared parts: reading what a resource refers to, with errors that
//! say what was being read. Each kind's own `dereference` module decides what to read.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client};

use crate::apply::Managed;

/// Reading from the API server failed (not: the object is absent, which is an answer).
#[derive(Debug, thiserror::Error)]
pub enum DereferenceError {
    /// A GET or LIST failed.
    #[error("cannot read {kind} {name}: {source}")]
    Read {
        /// Kind of the object read.
        kind: &'static str,
        /// Its name (or the label selector of a list).
        name: String,
        /// What the API server (or the connection) said (boxed: a client error is large).
        #[source]
        source: Box<kube::Error>,
    },
    /// The resource has no namespace (the CRDs are namespaced: the API server never sends one).
    #[error("{kind} {name} has no namespace")]
    NotNamespaced {
        /// Kind of the resource.
        kind: &'static str,
        /// Its name.
        name: String,
    },
}

impl DereferenceError {
    /// Label for the `errors` metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Read { source, .. } if matches!(source.as_ref(), kube::Error::Api(status) if status.code == 403) => {
                "read_forbidden"
            }
            Self::Read { .. } => "read_failed",
            Self::NotNamespaced { .. } => "not_namespaced",
        }
    }
}

/// Reads one namespaced object; `None` when it does not exist.
pub async fn get<K: Managed>(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<K>, DereferenceError> {
    Api::<K>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|source| DereferenceError::Read {
            kind: kind_of::<K>(),
            name: name.to_owned(),
            source: Box::new(source),
        })
}

/// Lists the namespaced objects of a kind that carry every label of `selector`.
pub async fn list<K: Managed>(
    client: &Client,
    namespace: &str,
    selector: &str,
) -> Result<Vec<K>, DereferenceError> {
    let params = kube::api::ListParams::default().labels(selector);
    Api::<K>::namespaced(client.clone(), namespace)
        .list(&params)
        .await
        .map(|list| list.items)
        .map_err(|source| DereferenceError::Read {
            kind: kind_of::<K>(),
            name: selector.to_owned(),
            source: Box::new(source),
        })
}

/// The namespace of a resource, which every custom resource of ours has.
pub fn namespace_of<K: kube::Resource<DynamicType = ()>>(
    object: &K,
) -> Result<String, DereferenceError> {
    object
        .meta()
        .namespace
        .clone()
        .ok_or_else(|| DereferenceError::NotNamespaced {
            kind: kind_of::<K>(),
            name: object.meta().name.clone().unwrap_or_default(),
        })
}

/// The kind of `K` as a static string (its static kind never changes).
fn kind_of<K: kube::Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()) {
        std::borrow::Cow::Borrowed(kind) => kind,
        std::borrow::Cow::Owned(_) => "object",
    }
}

/// Whether the CustomResourceDefinition `crd` (e.g. `clusters.postgresql.cnpg.io`) is installed.
/// Asked for the CRD rather than an object of it: without the CRD the API server answers 404 for
/// the whole group, which would read like "object absent" and lead to a failing apply.
pub async fn crd_is_installed(client: &Client, crd: &str) -> Result<bool, DereferenceError> {
    let found = Api::<CustomResourceDefinition>::all(client.clone())
        .get_opt(crd)
        .await
        .map_err(|source| DereferenceError::Read {
            kind: "CustomResourceDefinition",
            name: crd.to_owned(),
            source: Box::new(source),
        })?;
    Ok(found.is_some())
}
