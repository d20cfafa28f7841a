//! Leader election on a `coordination.k8s.io` Lease, so that of several replicas exactly one runs
//! the controllers while the others wait as standbys.
//!
//! A leader that loses the Lease does not try to become a standby in place: it stops its
//! controllers and the process exits non-zero, and Kubernetes restarts it as a fresh standby.
//! That leaves no state (caches, queued retries) from the old term behind.
//!
//! The lease manager keeps reporting "leader" while it cannot reach the API server, so a leader
//! also reads the Lease itself and steps down once it can no longer prove that it holds it: the
//! Lease names another holder, has expired, or could not be read for longer than a term. A standby
//! may take over after expiry, and two replicas must never reconcile at once.

use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::jiff::Timestamp;
use kube::{Api, Client};
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
    watchdog: Watchdog,
}

/// What the leader needs to check the Lease on its own.
#[derive(Clone)]
struct Watchdog {
    leases: Api<Lease>,
    name: String,
    identity: String,
    every: Duration,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog")
            .field("name", &self.name)
            .field("identity", &self.identity)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl Watchdog {
    /// Returns why this replica can no longer count itself the leader.
    async fn lost(self) -> String {
        let unconfirmed_limit = Duration::from_secs(LEASE_DURATION_SECONDS - LEASE_GRACE_SECONDS);
        let mut confirmed = Instant::now();
        loop {
            tokio::time::sleep(self.every).await;
            match self.leases.get(&self.name).await {
                Ok(lease) => {
                    let spec = lease.spec.unwrap_or_default();
                    match still_held(&spec, &self.identity, Timestamp::now()) {
                        Ok(()) => confirmed = Instant::now(),
                        Err(reason) => return reason,
                    }
                }
                Err(error) if confirmed.elapsed() > unconfirmed_limit => {
                    return format!(
                        "could not read the Lease for {}s: {error}",
                        confirmed.elapsed().as_secs()
                    );
                }
                Err(error) => tracing::debug!(%error, "cannot read the leader Lease, retrying"),
            }
        }
    }
}

/// Whether `lease` still shows `identity` as a holder whose term has not run out at `now`.
pub fn still_held(lease: &LeaseSpec, identity: &str, now: Timestamp) -> Result<(), String> {
    match lease.holder_identity.as_deref() {
        Some(holder) if holder == identity => {}
        Some(holder) => return Err(format!("the Lease is now held by {holder}")),
        None => return Err("the Lease has no holder".to_owned()),
    }
    let Some(renewed) = &lease.renew_time else {
        return Err("the Lease has no renew time".to_owned());
    };
    let term = lease
        .lease_duration_seconds
        .map_or(LEASE_DURATION_SECONDS as i64, i64::from);
    let expires_ms = renewed.0.as_millisecond() + term * 1000;
    let overdue_ms = now.as_millisecond() - expires_ms;
    if overdue_ms > 0 {
        return Err(format!(
            "the Lease expired {:.1}s ago without renewal",
            overdue_ms as f64 / 1000.0
        ));
    }
    Ok(())
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
        let watchdog = Watchdog {
            leases: Api::namespaced(client.clone(), namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            every: Duration::from_secs(LEASE_GRACE_SECONDS),
        };
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
            watchdog,
        })
    }

    /// Checks the Lease this often while leading (default: every grace period).
    pub fn check_every(mut self, every: Duration) -> Self {
        self.watchdog.every = every;
        self
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

    /// Resolves, with the reason, once this replica can no longer count itself the leader.
    pub async fn lost(&mut self) -> String {
        let watchdog = self.watchdog.clone();
        tokio::select! {
            // An error means the election task ended, which also means no more renewals.
            changed = self.leading.wait_for(|leading| !*leading) => match changed {
                Ok(_) => "another replica holds the Lease".to_owned(),
                Err(_) => "leader election stopped".to_owned(),
            },
            reason = watchdog.lost() => reason,
        }
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

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use kube::api::{Patch, PatchParams};
    use kube_fake_client::ClientBuilder;

    fn held_by(holder: &str, renewed_s: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            renew_time: Some(MicroTime(
                Timestamp::from_second(renewed_s).expect("valid time"),
            )),
            lease_duration_seconds: Some(15),
            ..LeaseSpec::default()
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("valid time")
    }

    #[test]
    fn a_lease_proves_leadership_only_for_its_holder_and_within_its_term() {
        let start = 1_800_000_000;
        assert_eq!(
            still_held(&held_by("pod-a", start), "pod-a", at(start + 15)),
            Ok(())
        );
        let expired = still_held(&held_by("pod-a", start), "pod-a", at(start + 16));
        assert!(expired.expect_err("expired").contains("expired 1.0s ago"));
        let taken = still_held(&held_by("pod-b", start), "pod-a", at(start));
        assert!(taken.expect_err("taken").contains("held by pod-b"));
        assert!(still_held(&LeaseSpec::default(), "pod-a", at(start)).is_err());
    }

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

    #[tokio::test]
    async fn a_leader_notices_when_the_lease_names_someone_else() {
        let client = ClientBuilder::new().build().await.expect("fake client");
        let mut election = Election::start(client.clone(), "shop-operator", "ops", "pod-a")
            .await
            .expect("candidate")
            .check_every(Duration::from_millis(50));
        tokio::time::timeout(Duration::from_secs(10), election.acquired())
            .await
            .expect("leads in time")
            .expect("election running");

        let leases: Api<Lease> = Api::namespaced(client.clone(), "ops");
        let takeover = serde_json::json!({ "spec": { "holderIdentity": "intruder" } });
        leases
            .patch(
                "shop-operator",
                &PatchParams::default(),
                &Patch::Merge(&takeover),
            )
            .await
            .expect("patch the Lease");

        let reason = tokio::time::timeout(Duration::from_secs(5), election.lost())
            .await
            .expect("loss noticed in time");
        assert!(reason.contains("intruder"), "{reason}");
    }
}
