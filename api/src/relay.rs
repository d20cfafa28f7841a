//! The outbox relay, run by `shop-api serve`: publishes the outbox's events, oldest first, to
//! the [`EventPublisher`] (RabbitMQ, or the in-process bus of the embedded default) and marks
//! them published once the broker has confirmed them.
//!
//! It wakes on Postgres `LISTEN outbox_events` (a trigger notifies on every insert) and polls
//! anyway every [`RelaySettings::poll_interval`], so a lost notification or SQLite only delays an
//! event. Replicas are safe together: each claims its batch with `FOR UPDATE SKIP LOCKED`. After
//! a failure it backs off, doubling the wait up to [`RelaySettings::max_backoff`].

use std::{
    future::Future,
    pin::pin,
    sync::{Arc, Mutex, PoisonError, atomic::AtomicU64},
    time::Duration,
};

use chrono::{DateTime, Utc};
use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use shop_core::ports::{EventPublisher, RelayError, Store};
use sqlx::postgres::PgListener;

/// The channel the outbox trigger notifies (see the `outbox_notify` migration).
pub const OUTBOX_CHANNEL: &str = "outbox_events";

#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Events claimed and published per transaction.
    pub batch_size: u32,
    /// How often the outbox is looked at without a notification.
    pub poll_interval: Duration,
    /// The first wait after a failure; doubled after each further failure.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a batch in flight may finish once shutdown is asked for.
    pub shutdown_grace: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 200,
            poll_interval: Duration::from_millis(500),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// The relay's series in the API's registry.
#[derive(Debug, Clone, Default)]
pub struct RelayMetrics {
    /// Events the broker confirmed.
    pub published: Counter,
    /// Batches that failed to publish (or whose claim failed).
    pub failures: Counter,
    /// Events waiting in the outbox, as last counted.
    pub backlog: Gauge,
    /// Seconds since the oldest waiting event occurred (0: none waits), set at scrape time by
    /// [`Self::refresh_oldest_age`].
    pub oldest_pending_age: Gauge<f64, AtomicU64>,
    /// When the oldest waiting event occurred, as last read by the relay.
    oldest_pending: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl RelayMetrics {
    /// Remembers when the oldest waiting event occurred (`None`: the outbox is empty).
    pub fn set_oldest_pending(&self, at: Option<DateTime<Utc>>) {
        *self
            .oldest_pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Sets the age gauge as of `now`. Computed at scrape time rather than by the relay, so the
    /// age keeps rising while the relay backs off (up to [`RelaySettings::max_backoff`]) from a
    /// broker that is away.
    pub fn refresh_oldest_age(&self, now: DateTime<Utc>) {
        let oldest = *self
            .oldest_pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let age = oldest.map_or(0.0, |at| {
            (now - at).to_std().map_or(0.0, |age| age.as_secs_f64())
        });
        self.oldest_pending_age.set(age);
    }
}

pub struct Relay {
    store: Arc<dyn Store>,
    publisher: Arc<dyn EventPublisher>,
    /// A Postgres URL to `LISTEN` on; `None` polls only.
    listen_url: Option<String>,
    settings: RelaySettings,
    metrics: RelayMetrics,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("store", &self.store.backend())
            .field("publisher", &self.publisher.backend())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Relay {
    pub fn new(
        store: Arc<dyn Store>,
        publisher: Arc<dyn EventPublisher>,
        metrics: RelayMetrics,
    ) -> Self {
        Self {
            store,
            // One span per published event, continuing the trace of the request that wrote it.
            publisher: shop_core::telemetry::traced_publisher(publisher),
            listen_url: None,
            settings: RelaySettings::default(),
            metrics,
        }
    }

    /// Wakes on notifications from the Postgres database at `url`.
    #[must_use]
    pub fn listening_to(mut self, url: impl Into<String>) -> Self {
        self.listen_url = Some(url.into());
        self
    }

    #[must_use]
    pub fn with_settings(mut self, settings: RelaySettings) -> Self {
        self.settings = settings;
        self
    }

    /// Publishes until `shutdown` resolves. A batch in flight then gets
    /// [`RelaySettings::shutdown_grace`] to finish; one cut short is rolled back and published
    /// again later (consumers deduplicate on the event id).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = pin!(shutdown);
        let mut listener = self.listen().await;
        let mut backoff: Option<Duration> = None;
        loop {
            let step = self.drain();
            let mut step = pin!(step);
            let outcome = tokio::select! {
                outcome = &mut step => outcome,
                () = &mut shutdown => {
                    let _ = tokio::time::timeout(self.settings.shutdown_grace, step).await;
                    break;
                }
            };
            let wait = match outcome {
                Ok(()) => {
                    backoff = None;
                    self.settings.poll_interval
                }
                Err(error) => {
                    self.metrics.failures.inc();
                    let wait = backoff.map_or(self.settings.min_backoff, |last| {
                        (last * 2).min(self.settings.max_backoff)
                    });
                    backoff = Some(wait);
                    tracing::warn!(error = %error, retry_in = ?wait, publisher = self.publisher.backend(),
                        "events not published; they stay in the outbox");
                    wait
                }
            };
            if let Ok(pending) = self.store.pending_count().await {
                self.metrics
                    .backlog
                    .set(i64::try_from(pending).unwrap_or(i64::MAX));
            }
            // On a database error the last value stands: those events most likely still wait.
            if let Ok(oldest) = self.store.oldest_pending_at().await {
                self.metrics.set_oldest_pending(oldest);
            }
            let woken = async {
                match (&mut listener, backoff) {
                    // After a failure only the backoff ends the wait.
                    (Some(listener), None) => {
                        tokio::select! {
                            received = listener.recv() => {
                                if let Err(error) = received {
                                    tracing::debug!(error = %error, "outbox notifications interrupted");
                                    tokio::time::sleep(wait).await;
                                }
                                // Notifications that came meanwhile are covered by this wake.
                                while listener.next_buffered().is_some() {}
                            }
                            () = tokio::time::sleep(wait) => {}
                        }
                    }
                    _ => tokio::time::sleep(wait).await,
                }
            };
            tokio::select! {
                () = woken => {}
                () = &mut shutdown => break,
            }
        }
        tracing::info!("outbox relay stopped");
    }

    /// Publishes batches until the outbox is empty.
    async fn drain(&self) -> Result<(), RelayError> {
        loop {
            let published = self
                .store
                .publish_pending(self.settings.batch_size, self.publisher.as_ref())
                .await?;
            self.metrics.published.inc_by(published as u64);
            if published < self.settings.batch_size as usize {
                return Ok(());
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let url = self.listen_url.as_deref()?;
        let listener = async {
            let mut listener = PgListener::connect(url).await?;
            listener.listen(OUTBOX_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listener.await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(error = %error, "cannot LISTEN for outbox events; polling only");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn the_age_counts_from_the_oldest_waiting_event_and_is_never_negative() {
        let metrics = RelayMetrics::default();
        let now = Utc::now();
        metrics.refresh_oldest_age(now);
        assert_eq!(metrics.oldest_pending_age.get(), 0.0, "nothing waits");

        metrics.set_oldest_pending(Some(now - TimeDelta::milliseconds(2_500)));
        metrics.refresh_oldest_age(now);
        assert_eq!(metrics.oldest_pending_age.get(), 2.5);
        metrics.refresh_oldest_age(now + TimeDelta::seconds(10));
        assert_eq!(
            metrics.oldest_pending_age.get(),
            12.5,
            "rises between looks"
        );

        // Written by a replica whose clock is ahead of this one's.
        metrics.set_oldest_pending(Some(now + TimeDelta::seconds(1)));
        metrics.refresh_oldest_age(now);
        assert_eq!(metrics.oldest_pending_age.get(), 0.0);

        metrics.set_oldest_pending(None);
        metrics.refresh_oldest_age(now);
        assert_eq!(metrics.oldest_pending_age.get(), 0.0, "published");
    }
}
