//! Payments: recorded with the order transition they cause, in one transaction.

use super::{Db, Sql, orders::apply_transition, outbox::insert_events, rows::PaymentRow};
use crate::{
    domain::{OrderId, OutboxEvent, Payment},
    ports::{OrderTransition, StoreResult},
};

const SELECT_PAYMENT: &str = include_str!("queries/orders/select_payment.sql");

/// See [`OrderStore::record_payment`](crate::ports::OrderStore::record_payment).
pub(super) async fn record(
    db: &Db,
    payment: &Payment,
    transition: Option<&OrderTransition>,
    events: &[OutboxEvent],
) -> StoreResult<()> {
    let mut tx = db.begin().await?;
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
        .execute(&mut tx)
        .await?;
    if let Some(transition) = transition {
        apply_transition(&mut tx, transition).await?;
    }
    insert_events(&mut tx, events).await?;
    tx.commit().await
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
