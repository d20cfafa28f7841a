//! [`NotificationStore`]: in-app notifications and the webhook deliveries made for them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::{Sql, SqlStore, Tx};
use crate::ports::{
    Notification, NotificationPage, NotificationQuery, NotificationStore, StoreResult,
};

const SELECT: &str = include_str!("queries/workers/select_notification.sql");

#[derive(Debug, sqlx::FromRow)]
struct NotificationRow {
    id: String,
    user_id: String,
    kind: String,
    title: String,
    body: String,
    data: Json<serde_json::Value>,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

impl From<NotificationRow> for Notification {
    fn from(row: NotificationRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            kind: row.kind,
            title: row.title,
            body: row.body,
            data: row.data.0,
            created_at: row.created_at,
            read_at: row.read_at,
        }
    }
}

/// Stores `event_id`'s notification inside the event's handling.
pub(super) async fn insert(
    tx: &mut Tx,
    event_id: &str,
    notification: &Notification,
) -> StoreResult<()> {
    Sql::new(include_str!("queries/workers/insert_notification.sql"))
        .bind(notification.id.as_str())
        .bind(event_id)
        .bind(notification.user_id.as_str())
        .bind(notification.kind.as_str())
        .bind(notification.title.as_str())
        .bind(notification.body.as_str())
        .bind(&notification.data)
        .bind(notification.created_at)
        .execute(tx)
        .await
        .map(drop)
}

#[async_trait]
impl NotificationStore for SqlStore {
    async fn notification_of_event(&self, event_id: &str) -> StoreResult<Option<Notification>> {
        let row: Option<NotificationRow> = Sql::new(format!("{SELECT} WHERE event_id = $1"))
            .bind(event_id)
            .fetch_optional(&self.db)
            .await?;
        Ok(row.map(Notification::from))
    }

    async fn list_notifications(&self, query: &NotificationQuery) -> StoreResult<NotificationPage> {
        let limit = query.limit.clamp(1, 100);
        let mut sql = Sql::new(format!("{SELECT} WHERE user_id = "));
        sql.push_bind(query.user_id.as_str());
        if query.unread_only {
            sql.push(" AND read_at IS NULL");
        }
        if let Some(before) = &query.before {
            sql.push(" AND id < ").push_bind(before.as_str());
        }
        // One more than asked tells whether there is a next page.
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let mut rows: Vec<NotificationRow> = sql.fetch_all(&self.db).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let items: Vec<Notification> = rows.into_iter().map(Notification::from).collect();
        let next_cursor = if more {
            items.last().map(|last| last.id.clone())
        } else {
            None
        };
        Ok(NotificationPage { items, next_cursor })
    }

    async fn mark_notification_read(
        &self,
        user_id: &str,
        id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<Notification>> {
        Sql::new(
            "UPDATE notifications SET read_at = $3 \
             WHERE id = $1 AND user_id = $2 AND read_at IS NULL",
        )
        .bind(id)
        .bind(user_id)
        .bind(at)
        .execute(&self.db)
        .await?;
        let row: Option<NotificationRow> =
            Sql::new(format!("{SELECT} WHERE id = $1 AND user_id = $2"))
                .bind(id)
                .bind(user_id)
                .fetch_optional(&self.db)
                .await?;
        Ok(row.map(Notification::from))
    }

    async fn delivered_webhooks(&self, event_id: &str) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> =
            Sql::new("SELECT url FROM webhook_deliveries WHERE event_id = $1")
                .bind(event_id)
                .fetch_all(&self.db)
                .await?;
        Ok(rows.into_iter().map(|(url,)| url).collect())
    }

    async fn record_webhook_delivery(
        &self,
        event_id: &str,
        url: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        Sql::new(include_str!("queries/workers/record_delivery.sql"))
            .bind(event_id)
            .bind(url)
            .bind(at)
            .execute(&self.db)
            .await
            .map(drop)
    }
}
