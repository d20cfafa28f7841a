//! Reconcile errors. Each stage of a reconcile (dereference → validate → build → apply → status)
//! has its own error enum; [`Error`] wraps them. From the variant alone follow the metric label,
//! the condition reason the user sees, and how soon the reconcile is retried.

use std::time::Duration;

pub use crate::reconcile::dereference::DereferenceError;
pub use crate::reconcile::validate::ValidationError;

/// Why a reconcile failed. Every failure is shown on the resource (`Ready=False` with
/// [`Error::reason`]), recorded as a Warning Event, counted, and retried after
/// [`Error::retry_delay`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading what the resource refers to failed.
    #[error(transparent)]
    Dereference(#[from] DereferenceError),
    /// The resource cannot be acted upon as it is (a missing Secret, Shop or setting, a bad
    /// schedule): nothing was changed.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Writing a child object failed.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// Writing the resource's status failed.
    #[error(transparent)]
    Status(#[from] StatusError),
}

/// A write of a child object that failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The API server refused or failed a request about a child object.
    #[error("cannot {verb} {kind} {name}: {source}")]
    Request {
        /// `apply`, `delete`, `read`.
        verb: &'static str,
        /// The child's kind.
        kind: String,
        /// The child's name.
        name: String,
        /// What the API server (or the connection) said (boxed: a client error is large).
        #[source]
        source: Box<kube::Error>,
    },
    /// A child object could not be encoded or decoded.
    #[error("cannot encode or decode an object: {0}")]
    Serialization(#[from] serde_json::Error),
    /// A child object was built without a namespace (a bug in a builder).
    #[error("{0} has no namespace")]
    NoNamespace(String),
}

impl ApplyError {
    fn kube(&self) -> Option<&kube::Error> {
        match self {
            Self::Request { source, .. } => Some(source.as_ref()),
            Self::Serialization(_) | Self::NoNamespace(_) => None,
        }
    }

    /// The HTTP status of the API server's answer, when it answered.
    fn status_code(&self) -> Option<u16> {
        match self.kube() {
            Some(kube::Error::Api(status)) => Some(status.code),
            _ => None,
        }
    }
}

/// Writing a resource's status failed.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The status subresource refused the patch.
    #[error("cannot write the status of {name}: {source}")]
    Write {
        /// The resource's name.
        name: String,
        /// What the API server said (boxed: a client error is large).
        #[source]
        source: Box<kube::Error>,
    },
}

impl Error {
    /// Low-cardinality label for the `errors` metric and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Dereference(error) => error.metric_label(),
            Self::Validation(error) => error.metric_label(),
            Self::Apply(error) => match error.status_code() {
                Some(409) => "conflict",
                Some(400 | 403 | 404 | 422) => "apply_refused",
                Some(_) => "api_error",
                None if error.kube().is_some() => "api_unreachable",
                None => "serialization",
            },
            Self::Status(StatusError::Write { source, .. }) => match source.as_ref() {
                kube::Error::Api(status) if status.code == 409 => "conflict",
                _ => "status_write",
            },
        }
    }

    /// CamelCase reason of the `Ready=False` condition and the Warning Event.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Dereference(_) => "ReadFailed",
            Self::Validation(error) => error.reason(),
            Self::Apply(error) => match error.status_code() {
                Some(409) => "Conflict",
                Some(400 | 403 | 404 | 422) => "ApplyRefused",
                _ => "ApplyFailed",
            },
            Self::Status(_) => "StatusWriteFailed",
        }
    }

    /// How long to wait before retrying after `consecutive_failures` failures of the same object:
    /// short for races that clear by themselves (conflicts), longer for what needs someone to act
    /// (a refused object, a bad spec), doubling with each consecutive failure up to five minutes.
    pub fn retry_delay(&self, consecutive_failures: u32) -> Duration {
        let base = match self {
            Self::Apply(error) => match error.status_code() {
                Some(409) => Duration::from_secs(1),
                Some(400 | 403 | 404 | 422) => Duration::from_secs(60),
                _ => Duration::from_secs(5),
            },
            Self::Status(_) | Self::Dereference(_) => Duration::from_secs(5),
            Self::Validation(error) if error.needs_a_spec_change() => Duration::from_secs(60),
            // Something the user creates next to the resource (a Secret, the Shop): look again
            // soon, since Secrets are not watched.
            Self::Validation(_) => Duration::from_secs(10),
        };
        let doublings = consecutive_failures.saturating_sub(1).min(10);
        (base * 2u32.pow(doublings)).min(Duration::from_secs(300))
    }
}

/// Result of reconcile steps.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::validate::MissingSecret;

    fn api_error(code: u16, reason: &str) -> Error {
        Error::Apply(ApplyError::Request {
            verb: "apply",
            kind: "Service".to_owned(),
            name: "2shop-api".to_owned(),
            source: Box::new(kube::Error::Api(
                kube::core::Status::failure("refused", reason)
                    .with_code(code)
                    .boxed(),
            )),
        })
    }

    #[test]
    fn labels_reasons_and_delays_follow_the_variant() {
        let conflict = api_error(409, "Conflict");
        assert_eq!(conflict.metric_label(), "conflict");
        assert_eq!(conflict.reason(), "Conflict");
        assert_eq!(conflict.retry_delay(1), Duration::from_secs(1));
        assert_eq!(conflict.retry_delay(3), Duration::from_secs(4));

        for (code, reason) in [(422, "Invalid"), (404, "NotFound")] {
            let refused = api_error(code, reason);
            assert_eq!(refused.metric_label(), "apply_refused");
            assert_eq!(refused.reason(), "ApplyRefused");
            assert_eq!(refused.retry_delay(1), Duration::from_secs(60));
        }

        let missing = Error::Validation(ValidationError::MissingSecrets(vec![MissingSecret {
            field: "spec.payments".to_owned(),
            name: "pay".to_owned(),
            key: None,
        }]));
        assert_eq!(missing.metric_label(), "missing_secret");
        assert_eq!(missing.reason(), "SecretMissing");
        assert_eq!(missing.retry_delay(1), Duration::from_secs(10));
        assert_eq!(missing.retry_delay(30), Duration::from_secs(300), "capped");
    }
}
