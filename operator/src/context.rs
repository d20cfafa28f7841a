//! What every reconcile needs: the client, the Event recorder, and a source of new secrets
//! (replaceable in tests so that snapshots are stable).

use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use rand::Rng;
use rand::distributions::Alphanumeric;

/// Generates a new random credential.
pub type SecretGenerator = Arc<dyn Fn() -> String + Send + Sync>;

/// Shared state of the controllers.
#[derive(Clone)]
pub struct Context {
    /// Client for the API server.
    pub client: Client,
    /// Publishes Events on the custom resources.
    pub recorder: Recorder,
    /// Source of generated passwords and keys.
    pub new_secret: SecretGenerator,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl Context {
    /// A context with random 48-character alphanumeric secrets.
    pub fn new(client: Client) -> Self {
        Self::with_secret_generator(client, Arc::new(random_secret))
    }

    /// A context with the given source of secrets.
    pub fn with_secret_generator(client: Client, new_secret: SecretGenerator) -> Self {
        let reporter = Reporter {
            controller: crate::labels::MANAGER.to_owned(),
            instance: None,
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            new_secret,
        }
    }

    /// Publishes an Event on `object`. A failure is logged, not returned: an Event that cannot be
    /// written must not stop the reconcile that produced it.
    pub async fn event(&self, object: &ObjectReference, warning: bool, reason: &str, note: String) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_owned(),
            note: Some(note),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, object).await {
            tracing::warn!(%error, reason, "cannot publish an Event");
        }
    }
}

/// 48 alphanumeric characters from the OS-seeded CSPRNG: 285 bits, safe in URLs without escaping.
pub fn random_secret() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(48)
        .map(char::from)
        .collect()
}
