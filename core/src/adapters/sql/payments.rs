//! Payments: recorded with the order transition they cause, in one transaction; payment sessions
//! ([`PaymentStore`]) and the provider notifications stored with the payment they cause.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    Db, Sql, SqlStore, Tx, orders::apply_transition, outbox::insert_events, rows::PaymentRow,
};
use crate::{
    domain::{OrderId, OutboxEvent, Payment},
    ports::{
        NotificationStatus, OrderTransition, PaymentEffect, PaymentNotification, PaymentSession,
        PaymentStore, ProviderKind, StoreError, StoreResult, StoredPaymentSession,
    },
};

const SELECT_PAYMENT: &str = include_str!("queries/orders/select_payment.sql");
const SELECT_SESSION: &str = include_str!("queries/payments/select_session.sql");
const SELECT_NOTIFICATION: &str = include_str!("queries/payments/select_notification.sql");

/// See [`OrderStore::record_payment`](crate::ports::OrderStore::record_payment).
pub(super) async fn record(
    db: &Db,
    payment: &Payment,
    transition: Option<&OrderTransition>,
    events: &[OutboxEvent],
) -> StoreResult<()> {
    let mut tx = db.begin().await?;
    record_in(&mut tx, payment, transition, events).await?;
    tx.commit().await
}

/// The payment, the transition it causes and its events, inside `tx`: the one path every
/// payment takes, whether staff record it or a provider's notification does.
async fn record_in(
    tx: &mut Tx,
    payment: &Payment,
    transition: Option<&OrderTransition>,
    events: &[OutboxEvent],
) -> StoreResult<()> {
    Sql::new(include_str!("queries/orders/insert_payment.sql"))
        .bind(payment.id.as_uuid())
        .bind(payment.order_id.as_uuid())
        .bind(payment.amount.amount_minor())
        .bind(payment.amount.currency().code())
        .bind(payment.provider.as_str())
        .bind(payment.reference.as_str())
        .bind(payment.status.as_str())
        .bind(payment.failure_reason.as_deref())
        .bind(payment.created_at)
        .unique(&[("reference", "reference")])
        .execute(&mut *tx)
        .await?;
    if let Some(transition) = transition {
        apply_transition(tx, transition).await?;
    }
    insert_events(tx, events).await
}

pub(super) async fn find(db: &Db, provider: &str, reference: &str) -> StoreResult<Option<Payment>> {
    Sql::new(format!(
        "{SELECT_PAYMENT} WHERE provider = $1 AND reference = $2"
    ))
    .bind(provider)
    .bind(reference)
    .fetch_parsed::<PaymentRow, _>(db)
    .await
}

pub(super) async fn of_order(db: &Db, order_id: OrderId) -> StoreResult<Vec<Payment>> {
    Sql::new(format!(
        "{SELECT_PAYMENT} WHERE order_id = $1 ORDER BY created_at, id"
    ))
    .bind(order_id.as_uuid())
    .fetch_all_parsed::<PaymentRow, _>(db)
    .await
}

fn corrupt(column: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("stored payment {column} {value:?} is invalid").into())
}

fn provider(raw: &str) -> StoreResult<ProviderKind> {
    ProviderKind::parse(raw).ok_or_else(|| corrupt("provider", raw))
}

#[derive(Debug, sqlx::FromRow)]
struct SessionRow {
    order_id: Uuid,
    attempt: i64,
    provider: String,
    reference: String,
    token: Option<String>,
    redirect_url: String,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl TryFrom<SessionRow> for StoredPaymentSession {
    type Error = StoreError;
    fn try_from(row: SessionRow) -> StoreResult<Self> {
        Ok(Self {
            order_id: OrderId::from_uuid(row.order_id),
            attempt: row.attempt,
            session: PaymentSession {
                provider: provider(&row.provider)?,
                reference: row.reference,
                token: row.token,
                redirect_url: row.redirect_url,
                expires_at: row.expires_at,
            },
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
struct NotificationRow {
    id: Uuid,
    provider: String,
    event_id: Option<String>,
    order_id: Option<Uuid>,
    body: String,
    body_sha256: String,
    body_length: i64,
    headers: Json<Vec<(String, String)>>,
    received_at: DateTime<Utc>,
    outcome: String,
    detail: Option<String>,
}

impl TryFrom<NotificationRow> for PaymentNotification {
    type Error = StoreError;
    fn try_from(row: NotificationRow) -> StoreResult<Self> {
        Ok(Self {
            id: row.id,
            provider: provider(&row.provider)?,
            event_id: row.event_id,
            order_id: row.order_id.map(OrderId::from_uuid),
            body: row.body,
            body_sha256: row.body_sha256,
            body_length: row.body_length,
            headers: row.headers.0,
            received_at: row.received_at,
            status: NotificationStatus::parse(&row.outcome)
                .ok_or_else(|| corrupt("notification outcome", &row.outcome))?,
            detail: row.detail,
        })
    }
}

async fn insert_notification(tx: &mut Tx, notification: &PaymentNotification) -> StoreResult<()> {
    let headers = serde_json::to_value(&notification.headers)
        .map_err(|error| StoreError::Backend(Box::new(error)))?;
    Sql::new(include_str!("queries/payments/insert_notification.sql"))
        .bind(notification.id)
        .bind(notification.provider.as_str())
        .bind(notification.event_id.as_deref())
        .bind(notification.order_id.map(|id| id.as_uuid()))
        .bind(notification.body.as_str())
        .bind(notification.body_sha256.as_str())
        .bind(notification.body_length)
        .bind(headers)
        .bind(notification.received_at)
        .bind(notification.status.as_str())
        .bind(notification.detail.as_deref())
        .unique(&[("event_id", "event_id"), ("event_idx", "event_id")])
        .execute(tx)
        .await
        .map(drop)
}

#[async_trait]
impl PaymentStore for SqlStore {
    async fn insert_payment_session(&self, stored: &StoredPaymentSession) -> StoreResult<()> {
        let session = &stored.session;
        Sql::new(include_str!("queries/payments/insert_session.sql"))
            .bind(stored.order_id.as_uuid())
            .bind(stored.attempt)
            .bind(session.provider.as_str())
            .bind(session.reference.as_str())
            .bind(session.token.as_deref())
            .bind(session.redirect_url.as_str())
            .bind(session.expires_at)
            .bind(stored.created_at)
            // Postgres names the primary key; SQLite names its columns.
            .unique(&[
                ("payment_sessions_pkey", "attempt"),
                ("attempt", "attempt"),
                ("reference", "reference"),
            ])
            .execute(&self.db)
            .await
            .map(drop)
    }

    async fn latest_payment_session(
        &self,
        order_id: OrderId,
    ) -> StoreResult<Option<StoredPaymentSession>> {
        Sql::new(format!(
            "{SELECT_SESSION} WHERE order_id = $1 ORDER BY attempt DESC LIMIT 1"
        ))
        .bind(order_id.as_uuid())
        .fetch_parsed::<SessionRow, _>(&self.db)
        .await
    }

    async fn payment_session_by_token(
        &self,
        provider: ProviderKind,
        token: &str,
    ) -> StoreResult<Option<StoredPaymentSession>> {
        Sql::new(format!(
            "{SELECT_SESSION} WHERE provider = $1 AND token = $2"
        ))
        .bind(provider.as_str())
        .bind(token)
        .fetch_parsed::<SessionRow, _>(&self.db)
        .await
    }

    async fn record_notification(
        &self,
        notification: &PaymentNotification,
        effect: Option<PaymentEffect<'_>>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        // The notification first: a concurrent delivery of the same event stops here, before
        // its payment is attempted.
        insert_notification(&mut tx, notification).await?;
        if let Some(effect) = effect {
            record_in(&mut tx, effect.payment, effect.transition, effect.events).await?;
        }
        tx.commit().await
    }

    async fn find_notification(
        &self,
        provider: ProviderKind,
        event_id: &str,
    ) -> StoreResult<Option<PaymentNotification>> {
        Sql::new(format!(
            "{SELECT_NOTIFICATION} WHERE provider = $1 AND event_id = $2 \
             AND outcome IN ('applied', 'mismatch')"
        ))
        .bind(provider.as_str())
        .bind(event_id)
        .fetch_parsed::<NotificationRow, _>(&self.db)
        .await
    }

    async fn find_applied_body(
        &self,
        provider: ProviderKind,
        body_sha256: &str,
    ) -> StoreResult<Option<PaymentNotification>> {
        Sql::new(format!(
            "{SELECT_NOTIFICATION} WHERE provider = $1 AND body_sha256 = $2 \
             AND outcome IN ('applied', 'mismatch') LIMIT 1"
        ))
        .bind(provider.as_str())
        .bind(body_sha256)
        .fetch_parsed::<NotificationRow, _>(&self.db)
        .await
    }

    async fn recent_notifications(&self, limit: u32) -> StoreResult<Vec<PaymentNotification>> {
        Sql::new(format!(
            "{SELECT_NOTIFICATION} ORDER BY received_at DESC, id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all_parsed::<NotificationRow, _>(&self.db)
        .await
    }
}
