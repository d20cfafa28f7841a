//! The `notifications` table: written by the handler, read and marked read by the REST API.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::{Draft, Notification};
use crate::{
    on_backend,
    store::{Db, Tx},
};

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: String,
    user_id: String,
    kind: String,
    title: String,
    body: String,
    data: Json<serde_json::Value>,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

impl From<Row> for Notification {
    fn from(row: Row) -> Self {
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

const COLUMNS: &str = "id, user_id, kind, title, body, data, created_at, read_at";

/// Stores the notification of `event_id` in the claim's transaction.
pub(super) async fn insert(
    tx: &mut Tx,
    event_id: &str,
    draft: Draft,
) -> Result<Notification, sqlx::Error> {
    let notification = Notification {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: draft.user_id,
        kind: draft.kind.to_owned(),
        title: draft.title,
        body: draft.body,
        data: draft.data,
        // Whole microseconds: what both databases keep, so the webhook body and a later read
        // agree.
        created_at: DateTime::from_timestamp_micros(Utc::now().timestamp_micros())
            .unwrap_or_else(Utc::now),
        read_at: None,
    };
    on_backend!(tx, conn => sqlx::query(
        "INSERT INTO notifications (id, event_id, user_id, kind, title, body, data, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&notification.id)
    .bind(event_id)
    .bind(&notification.user_id)
    .bind(&notification.kind)
    .bind(&notification.title)
    .bind(&notification.body)
    .bind(Json(&notification.data))
    .bind(notification.created_at)
    .execute(conn)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(notification)
}

/// The notification an event made, if any.
pub(super) async fn by_event(db: &Db, event_id: &str) -> Result<Option<Notification>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM notifications WHERE event_id = $1");
    let row: Option<Row> = on_backend!(pool db, conn => sqlx::query_as(&sql)
        .bind(event_id)
        .fetch_optional(conn)
        .await)?;
    Ok(row.map(Notification::from))
}

/// One page of a user's notifications, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    /// The id to pass as `before` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// `user_id`'s notifications, newest first: at most `limit`, only unread ones when
/// `unread_only`, and only those older than the notification `before` (a previous page's
/// `next_cursor`) when given.
pub async fn list(
    db: &Db,
    user_id: &str,
    unread_only: bool,
    limit: u32,
    before: Option<&str>,
) -> Result<NotificationPage, sqlx::Error> {
    let limit = limit.clamp(1, 100);
    let mut sql = format!("SELECT {COLUMNS} FROM notifications WHERE user_id = $1");
    if unread_only {
        sql.push_str(" AND read_at IS NULL");
    }
    if before.is_some() {
        sql.push_str(" AND id < $3");
    }
    sql.push_str(" ORDER BY id DESC LIMIT $2");
    // One more than asked tells whether there is a next page.
    let fetch = i64::from(limit) + 1;
    let mut rows: Vec<Row> = on_backend!(pool db, conn => {
        let mut query = sqlx::query_as(&sql).bind(user_id).bind(fetch);
        if let Some(before) = before {
            query = query.bind(before);
        }
        query.fetch_all(conn).await
    })?;
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

/// Marks `id` read if it is `user_id`'s (a second time keeps the first time) and returns it;
/// `None` when there is no such notification of that user.
pub async fn mark_read(
    db: &Db,
    user_id: &str,
    id: &str,
) -> Result<Option<Notification>, sqlx::Error> {
    let now =
        DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap_or_else(Utc::now);
    on_backend!(pool db, conn => sqlx::query(
        "UPDATE notifications SET read_at = $3 WHERE id = $1 AND user_id = $2 AND read_at IS NULL",
    )
    .bind(id)
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await
    .map(|done| done.rows_affected()))?;
    let sql = format!("SELECT {COLUMNS} FROM notifications WHERE id = $1 AND user_id = $2");
    let row: Option<Row> = on_backend!(pool db, conn => sqlx::query_as(&sql)
        .bind(id)
        .bind(user_id)
        .fetch_optional(conn)
        .await)?;
    Ok(row.map(Notification::from))
}
