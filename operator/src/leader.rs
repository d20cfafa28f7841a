//! Leader election on a `coordination.k8s.io` Lease, so that of several replicas exactly one runs
//! the controllers while the others wait as standbys.
//!
//! A leader that loses the Lease does not try to become a standby in place: it stops its
//! controllers and the process exits non-zero, and Kubernetes restarts it as a fresh standby.
//! That leaves no state (caches, queued retries) from the old term behind.

use std::time::Duration;

use anyhow::{Context as _, anyhow};
use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a Lease stays valid without renewal: how long a standby waits after a leader dies.
pub const LEASE_DURATION_SECONDS: u64 = 15;
/// The holder renews this long before expiry; also the clock skew between nodes tolerated.
pub const LEASE_GRACE_SECONDS: u64 = 5;

/// The name this replica holds the Lease under: the pod's name (`POD_NAME` from the downward API,
/// else the hostname, which Kubernetes sets to the pod's name), else a random one.
pub fn identity() -> String {
    let from_env = |variable: &str| {
        std::env::var(variable)
            .ok()
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    from_env("POD_NAME")
        .or_else(|| from_env("HOSTNAME"))
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
        })
        .unwrap_or_else(|| {
            let random = crate::context::random_secret();
            format!("shop-operator-{}", &random[..8])
        })
}

/// This replica's candidacy for the Lease, renewed in the background.
#[derive(Debug)]
pub struct Election {
    leading: watch::Receiver<bool>,
    task: JoinHandle<Result<LeaseManager, LeaseManagerError>>,
    lease: String,
}

impl Election {
    /// Creates the Lease if needed and starts competing for it.
    pub async fn start(
        client: Client,
        name: &str,
        namespace: &str,
        identity: &str,
    ) -> anyhow::Result<Self> {
        let lease = format!("{namespace}/{name}");
        let manager = LeaseManagerBuilder::new(client, name)
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(LEASE_DURATION_SECONDS)
            .with_grace(LEASE_GRACE_SECONDS)
            .build()
            .await
            .with_context(|| {
                format!(
                    "cannot use the leader election Lease {lease}: may the operator's \
                     ServiceAccount get, create and patch leases there?"
                )
            })?;
        let (leading, task) = manager.watch().await;
        Ok(Self {
            leading,
            task,
            lease,
        })
    }

    /// Waits until this replica holds the Lease.
    pub async fn acquired(&mut self) -> anyhow::Result<()> {
        let lease = &self.lease;
        self.leading
            .wait_for(|leading| *leading)
            .await
            .map(|_| ())
            .map_err(|_| anyhow!("leader election on Lease {lease} stopped"))
    }

    /// Resolves when this replica no longer holds the Lease, for whatever reason.
    pub async fn lost(&mut self) {
        // The sender is gone only if the election task ended, which also means no more renewals.
        let _ = self.leading.wait_for(|leading| !*leading).await;
    }

    /// Gives the Lease up, so that a standby takes over at once rather than after it expires.
    pub async fn release(self) {
        drop(self.leading);
        // The task releases the Lease when it sees the channel closed; bound the wait so that a
        // slow API server cannot hold up a shutdown (the Lease then simply expires).
        match tokio::time::timeout(Duration::from_secs(5), self.task).await {
            Ok(Ok(Ok(_))) => tracing::info!(lease = %self.lease, "leader Lease released"),
            Ok(Ok(Err(error))) => {
                tracing::warn!(lease = %self.lease, %error, "cannot release the leader Lease");
            }
            Ok(Err(error)) => {
                tracing::warn!(lease = %self.lease, %error, "the leader election task failed");
            }
            Err(_) => tracing::warn!(lease = %self.lease, "timed out releasing the leader Lease"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use k8s_openapi::api::coordination::v1::Lease;
    use kube::Api;
    use kube_fake_client::ClientBuilder;

    #[test]
    fn identity_is_never_empty() {
        assert!(!identity().is_empty());
    }

    async fn holder(client: &Client) -> Option<String> {
        let leases: Api<Lease> = Api::namespaced(client.clone(), "ops");
        leases
            .get("shop-operator")
            .await
            .expect("the Lease exists")
            .spec
            .and_then(|spec| spec.holder_identity)
    }

    #[tokio::test]
    async fn one_candidate_leads_the_other_waits_and_release_frees_the_lease() {
        let client = ClientBuilder::new().build().await.expect("fake client");
        let mut first = Election::start(client.clone(), "shop-operator", "ops", "pod-a")
            .await
            .expect("first candidate");
        tokio::time::timeout(Duration::from_secs(10), first.acquired())
            .await
            .expect("the first candidate leads in time")
            .expect("election running");
        assert_eq!(holder(&client).await.as_deref(), Some("pod-a"));

        let mut second = Election::start(client.clone(), "shop-operator", "ops", "pod-b")
            .await
            .expect("second candidate");
        let waited = tokio::time::timeout(Duration::from_secs(2), second.acquired()).await;
        assert!(waited.is_err(), "the second candidate must not lead");

        first.release().await;
        assert_eq!(holder(&client).await, None);
        second.release().await;
    }
}
