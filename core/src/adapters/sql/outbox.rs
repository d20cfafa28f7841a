//! [`OutboxStore`]: events written with the changes they report, and the relay's claim on them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Sql, SqlStore, Tx, Value, rows::OutboxRow};
use crate::{
    domain::OutboxEvent,
    messaging::CloudEvent,
    ports::{EventPublisher, OutboxStore, RelayError, StoreResult},
};

const PENDING: &str = include_str!("queries/outbox/pending.sql");

/// Writes `events` in `tx`, with the change they report.
pub(crate) async fn insert_events(tx: &mut Tx, events: &[OutboxEvent]) -> StoreResult<()> {
    for event in events {
        Sql::new(include_str!("queries/outbox/insert.sql"))
            .bind(event.id.as_uuid())
            .bind(event.event_type.as_str())
            .bind(event.subject.as_str())
            .bind(&event.payload)
            .bind(event.occurred_at)
            .bind(event.traceparent.as_deref())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Marks the claimed `ids` published at `published_at`, or (`None`) counts a failed attempt.
fn mark(ids: &[Uuid], published_at: Option<DateTime<Utc>>) -> Sql {
    let mut sql = Sql::new("UPDATE outbox SET ");
    match published_at {
        Some(at) => sql.push("published_at = ").push_bind(at),
        None => sql.push("attempts = attempts + 1"),
    };
    sql.push(" WHERE id IN ")
        .push_rows([ids.iter().map(|id| Value::from(*id))]);
    sql
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn pending_events(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        let rows: Vec<OutboxRow> = Sql::new(PENDING)
            .bind(i64::from(limit))
            .fetch_all(&self.db)
            .await?;
        Ok(rows.into_iter().map(OutboxEvent::from).collect())
    }

    async fn pending_count(&self) -> StoreResult<u64> {
        let (count,): (i64,) = Sql::new("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&self.db)
            .await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }

    async fn oldest_pending_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let oldest: Option<(DateTime<Utc>,)> =
            Sql::new(include_str!("queries/outbox/oldest_pending.sql"))
                .fetch_optional(&self.db)
                .await?;
        Ok(oldest.map(|(occurred_at,)| occurred_at))
    }

    async fn append_events(&self, events: &[OutboxEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        insert_events(&mut tx, events).await?;
        tx.commit().await
    }

    async fn publish_pending(
        &self,
        limit: u32,
        publisher: &dyn EventPublisher,
    ) -> Result<usize, RelayError> {
        let mut tx = self.db.begin().await?;
        let claim = format!("{}{}", PENDING.trim_end(), self.db.dialect().lock_pending);
        let rows: Vec<OutboxRow> = Sql::new(claim)
            .bind(i64::from(limit))
            .fetch_all(&mut tx)
            .await?;
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        let ids: Vec<Uuid> = rows.iter().map(OutboxRow::id).collect();
        let events: Vec<CloudEvent> = rows
            .into_iter()
            .map(|row| CloudEvent::from_outbox(&OutboxEvent::from(row)))
            .collect();
        match publisher.publish(&events).await {
            Ok(()) => {
                mark(&ids, Some(Utc::now())).execute(&mut tx).await?;
                tx.commit().await?;
                Ok(events.len())
            }
            Err(source) => {
                // The claim ends first: the attempts are counted in a statement of their own.
                tx.rollback().await?;
                mark(&ids, None).execute(&self.db).await?;
                Err(RelayError::Publish {
                    count: events.len(),
                    source,
                })
            }
        }
    }

    async fn return_unhandled(&self, ids: &[Uuid]) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut sql = Sql::new(
            "UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL AND id IN ",
        );
        sql.push_rows([ids.iter().map(|id| Value::from(*id))]);
        sql.execute(&self.db).await
    }
}
