//! Reconcile errors, each with a stable label for the `errors` metric.

/// Why a reconcile failed. Reconciles that fail are retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused or failed a request.
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),
    /// An object could not be (de)serialised.
    #[error("cannot encode or decode an object: {0}")]
    Serialization(#[from] serde_json::Error),
    /// The resource's spec is valid for the schema but cannot be acted upon.
    #[error("invalid spec: {0}")]
    InvalidSpec(String),
    /// A referenced object does not exist (yet).
    #[error("{kind} {name:?} does not exist")]
    MissingReference {
        /// Kind of the missing object.
        kind: &'static str,
        /// Its name.
        name: String,
    },
}

impl Error {
    /// Low-cardinality label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Kube(kube::Error::Api(response)) if response.code == 409 => "conflict",
            Self::Kube(kube::Error::Api(_)) => "api_error",
            Self::Kube(_) => "client_error",
            Self::Serialization(_) => "serialization",
            Self::InvalidSpec(_) => "invalid_spec",
            Self::MissingReference { .. } => "missing_reference",
        }
    }
}

/// Result of reconcile steps.
pub type Result<T, E = Error> = std::result::Result<T, E>;
