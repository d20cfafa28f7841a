//! `shop-workers dead-letters list|replay`: what waits in the `<queue>.dead` queues, and sending
//! it back to be handled again.

use std::fmt::Write as _;

use lapin::{
    BasicProperties, Channel, Confirmation,
    message::Delivery,
    options::{
        BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
        QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable},
};
use shop_core::messaging::{CloudEvent, WorkerKind};

/// One dead-lettered message, as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: String,
    pub event_type: String,
    pub subject: String,
    /// Why it was dead-lettered (`rejected`, `delivery_limit`, ...), from `x-death`.
    pub reason: String,
    /// How many times it was dead-lettered from its queue, from `x-death`.
    pub deaths: i64,
}

impl DeadLetter {
    fn of(delivery: &Delivery) -> Self {
        let event: Option<CloudEvent> = serde_json::from_slice(&delivery.data).ok();
        let header = |name: &str| {
            delivery
                .properties
                .headers()
                .as_ref()
                .and_then(|headers| headers.inner().get(name).cloned())
        };
        let first_death = match header("x-death") {
            Some(AMQPValue::FieldArray(deaths)) => deaths.as_slice().first().cloned(),
            _ => None,
        };
        let death_field = |name: &str| match &first_death {
            Some(AMQPValue::FieldTable(death)) => death.inner().get(name).cloned(),
            _ => None,
        };
        let reason = death_field("reason")
            .and_then(|value| text(&value))
            .unwrap_or_else(|| "-".to_owned());
        let deaths = match death_field("count") {
            Some(AMQPValue::LongLongInt(count)) => count,
            Some(AMQPValue::LongInt(count)) => i64::from(count),
            _ => 0,
        };
        let id = event
            .as_ref()
            .map(|event| event.id.clone())
            .or_else(|| {
                delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.as_str().to_owned())
            })
            .unwrap_or_else(|| "-".to_owned());
        Self {
            id,
            event_type: original_routing_key(delivery).unwrap_or_else(|| "-".to_owned()),
            subject: event.map_or_else(|| "-".to_owned(), |event| event.subject),
            reason,
            deaths,
        }
    }
}

fn text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(text) => Some(String::from_utf8_lossy(text.as_bytes()).into_owned()),
        AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
        _ => None,
    }
}

/// The event type: the CloudEvent's `type`, else the AMQP `type`, else the first routing key
/// `x-death` remembers.
fn original_routing_key(delivery: &Delivery) -> Option<String> {
    if let Ok(event) = serde_json::from_slice::<CloudEvent>(&delivery.data) {
        return Some(event.event_type);
    }
    if let Some(kind) = delivery.properties.kind() {
        return Some(kind.as_str().to_owned());
    }
    let headers = delivery.properties.headers().as_ref()?;
    let Some(AMQPValue::FieldArray(deaths)) = headers.inner().get("x-death") else {
        return None;
    };
    let Some(AMQPValue::FieldTable(death)) = deaths.as_slice().first() else {
        return None;
    };
    let Some(AMQPValue::FieldArray(keys)) = death.inner().get("routing-keys") else {
        return None;
    };
    keys.as_slice().first().and_then(text)
}

/// The dead-letter queue of the worker or queue `name` (`analytics` or `analytics.dead`).
pub fn dead_letter_queue(name: &str) -> Option<String> {
    let worker = name.strip_suffix(".dead").unwrap_or(name);
    WorkerKind::parse(worker).map(WorkerKind::dead_letter_queue)
}

/// How many messages wait in `queue` (a passive declare, which changes nothing).
pub async fn depth(channel: &Channel, queue: &str) -> Result<u32, lapin::Error> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    Ok(channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await?
        .message_count())
}

/// The messages waiting in `queue`, at most `limit`, left where they are: each is fetched
/// without being acknowledged and the caller closes `channel` afterwards, which returns them all
/// to the queue in their order.
pub async fn peek(
    channel: &Channel,
    queue: &str,
    limit: u32,
) -> Result<Vec<DeadLetter>, lapin::Error> {
    let mut found = Vec::new();
    for _ in 0..limit {
        let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        found.push(DeadLetter::of(&message.delivery));
    }
    Ok(found)
}

/// `list`'s table for one queue.
pub fn render(queue: &str, total: u32, letters: &[DeadLetter]) -> String {
    let mut out = format!("{queue}: {total} message(s)\n");
    for letter in letters {
        let _ = writeln!(
            out,
            "  {}\t{}\t{}\treason={}\tdeaths={}",
            letter.id, letter.event_type, letter.subject, letter.reason, letter.deaths
        );
    }
    if usize::try_from(total).is_ok_and(|total| total > letters.len()) {
        let _ = writeln!(out, "  ... and {} more", total as usize - letters.len());
    }
    out
}

/// What `replay` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Replayed {
    pub messages: u32,
}

/// Moves up to `limit` messages from `<worker>.dead` back to the worker's queue: each is
/// published (with publisher confirms) to the default exchange with the worker's queue as the
/// routing key, so only the worker that failed sees it again, not every worker bound to its event
/// type; once the broker confirms, it is acked from the dead-letter queue. Its `x-death` history
/// is dropped, so it gets a full set of deliveries again.
pub async fn replay(channel: &Channel, kind: WorkerKind, limit: u32) -> anyhow::Result<Replayed> {
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let dead = kind.dead_letter_queue();
    let mut replayed = Replayed::default();
    while replayed.messages < limit {
        let Some(message) = channel
            .basic_get(dead.as_str().into(), BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        let delivery = message.delivery;
        let confirmation = channel
            .basic_publish(
                "".into(),
                kind.queue().into(),
                BasicPublishOptions::default(),
                &delivery.data,
                without_death_history(&delivery.properties),
            )
            .await?
            .await?;
        if !matches!(confirmation, Confirmation::Ack(_)) {
            // Not taken: it stays in the dead-letter queue (closing the channel returns it).
            anyhow::bail!(
                "the broker refused the replayed message {} ({replayed:?} before it)",
                DeadLetter::of(&delivery).id
            );
        }
        delivery.ack(BasicAckOptions::default()).await?;
        replayed.messages += 1;
    }
    Ok(replayed)
}

fn without_death_history(properties: &BasicProperties) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(old) = properties.headers() {
        for (name, value) in old.inner() {
            let name_str = name.as_str();
            if name_str == "x-death"
                || name_str.starts_with("x-first-death-")
                || name_str.starts_with("x-last-death-")
                || name_str == "x-delivery-count"
            {
                continue;
            }
            headers.insert(name.clone(), value.clone());
        }
    }
    properties.clone().with_headers(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_queues_by_worker_or_queue_name() {
        assert_eq!(
            dead_letter_queue("analytics").as_deref(),
            Some("analytics.dead")
        );
        assert_eq!(
            dead_letter_queue("email.dead").as_deref(),
            Some("email.dead")
        );
        assert_eq!(dead_letter_queue("bogus"), None);
    }
}
