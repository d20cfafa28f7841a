//! What a worker does with one event, independent of how the event arrived.

use async_trait::async_trait;
use shop_core::{
    app::WorkerData,
    messaging::{CloudEvent, WorkerKind},
    ports::{EventWork, StoreError},
};

/// Why handling an event failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth trying again later (a server was unreachable, a deadlock, a timeout). The message is
    /// redelivered with backoff until the queue's delivery limit, then dead-lettered.
    #[error("transient failure: {0:#}")]
    Retry(anyhow::Error),
    /// Will never succeed (the payload is malformed, the order does not exist). The message is
    /// dead-lettered at once.
    #[error("permanent failure: {0:#}")]
    Reject(anyhow::Error),
}

impl HandlerError {
    /// A failure of `kind`'s database work. Any may pass (a restart, a serialisation failure, a
    /// full pool); a statement that can never succeed would be a bug in the worker, not in the
    /// event. The runtime tells an unreachable database apart and waits for it before retrying.
    pub fn database(kind: WorkerKind, error: StoreError) -> Self {
        Self::Retry(anyhow::Error::new(error).context(format!("{} database", kind.name())))
    }
}

/// Starts `kind`'s handling of `event_id`: the work its effects and the processed record commit
/// in together, or `None` (logged) when `kind` handled the event before.
pub async fn claim(
    data: &WorkerData,
    kind: WorkerKind,
    event_id: &str,
) -> Result<Option<Box<dyn EventWork>>, HandlerError> {
    let work = data
        .claim(kind.name(), event_id)
        .await
        .map_err(|error| HandlerError::database(kind, error))?;
    if work.is_none() {
        tracing::debug!(id = %event_id, "{}: event handled before", kind.name());
    }
    Ok(work)
}

/// One worker's reaction to events. Implementations must be idempotent: the same event (same
/// `id`) may arrive more than once, and its effect must happen once.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Which worker this is (its queue, its name in metrics and processed-message records).
    fn kind(&self) -> WorkerKind;

    /// Handles one event. Events of types the worker does not care about return `Ok(())`.
    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError>;
}

impl std::fmt::Debug for dyn Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Handler({})", self.kind().name())
    }
}

/// The event's `data` as the payload type a handler reads. A payload that does not decode will
/// never decode, so it is a [`HandlerError::Reject`]: dead-lettered at once, not retried.
pub fn payload<T: serde::de::DeserializeOwned>(event: &CloudEvent) -> Result<T, HandlerError> {
    serde_json::from_value(event.data.clone()).map_err(|error| {
        HandlerError::Reject(anyhow::anyhow!(
            "{} {} has a malformed payload: {error}",
            event.event_type,
            event.id
        ))
    })
}
