//! What every reconcile needs: the client, the identity Events are reported under, and a source
//! of new secrets (replaceable in tests so that snapshots are stable).

use std::sync::Arc;

use kube::Client;
use kube::runtime::events::Reporter;
use rand::Rng;
use rand::distributions::Alphanumeric;

/// Generates a new random credential.
pub type SecretGenerator = Arc<dyn Fn() -> String + Send + Sync>;

/// Shared state of the controllers.
#[derive(Clone)]
pub struct Context {
    /// Client for the API server.
    pub client: Client,
    /// Who Events come from.
    pub reporter: Reporter,
    /// Source of generated passwords and keys.
    pub new_secret: SecretGenerator,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("reporter", &self.reporter)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context with random 48-character alphanumeric secrets.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            reporter: Reporter {
                controller: crate::labels::MANAGER.to_owned(),
                instance: None,
            },
            new_secret: Arc::new(random_secret),
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
