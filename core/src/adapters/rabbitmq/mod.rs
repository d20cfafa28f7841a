//! RabbitMQ (`AMQP_URL`) via lapin: connecting, the topology of [`crate::messaging`] (declared
//! by the relay and by the workers, idempotently), and [`RabbitPublisher`], the relay's
//! [`EventPublisher`] with publisher confirms.

use std::time::Duration;

use async_trait::async_trait;
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Mutex;

use crate::{
    config::redact_url,
    messaging::{
        CONTENT_TYPE, CloudEvent, DEAD_LETTER_EXCHANGE, DELIVERY_LIMIT, EXCHANGE, WorkerKind,
    },
    ports::{EventPublisher, PublishError},
};

/// Why RabbitMQ could not be reached or set up.
#[derive(Debug, thiserror::Error)]
pub enum RabbitError {
    #[error("cannot connect to RabbitMQ at {url} (AMQP_URL): {source}")]
    Connect {
        url: String,
        #[source]
        source: lapin::Error,
    },
    #[error("RabbitMQ refused to {what}: {source}")]
    Broker {
        what: String,
        #[source]
        source: lapin::Error,
    },
}

fn broker(what: impl Into<String>) -> impl FnOnce(lapin::Error) -> RabbitError {
    let what = what.into();
    move |source| RabbitError::Broker { what, source }
}

/// Opens a connection to `url` (the value of `AMQP_URL`); the error names the variable and the
/// broker without credentials.
pub async fn connect(url: &str) -> Result<Connection, RabbitError> {
    let properties = ConnectionProperties::default()
        .with_connection_name(LongString::from(format!("shop-{}", std::process::id())));
    Connection::connect(url, properties)
        .await
        .map_err(|source| RabbitError::Connect {
            url: redact_url(url),
            source,
        })
}

/// The arguments of a worker's queue: quorum, dead-lettered at least once into
/// `<queue>.dead` after [`DELIVERY_LIMIT`] deliveries. At-least-once dead-lettering requires
/// `reject-publish` overflow.
fn worker_queue_arguments(kind: WorkerKind) -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments
        .insert("x-queue-type".into(), string("quorum"))
        .insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(DELIVERY_LIMIT),
        )
        .insert(
            "x-dead-letter-exchange".into(),
            string(DEAD_LETTER_EXCHANGE),
        )
        .insert("x-dead-letter-routing-key".into(), string(kind.queue()))
        .insert("x-dead-letter-strategy".into(), string("at-least-once"))
        .insert("x-overflow".into(), string("reject-publish"));
    arguments
}

fn string(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

/// Declares the exchanges, every worker's queue with its bindings and its dead-letter queue.
/// Idempotent: declaring what exists with the same arguments changes nothing, so the relay and
/// every worker declare it at start.
pub async fn declare_topology(channel: &Channel) -> Result<(), RabbitError> {
    let exchange = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Topic,
            exchange,
            FieldTable::default(),
        )
        .await
        .map_err(broker(format!("declare the exchange {EXCHANGE}")))?;
    channel
        .exchange_declare(
            DEAD_LETTER_EXCHANGE.into(),
            ExchangeKind::Direct,
            exchange,
            FieldTable::default(),
        )
        .await
        .map_err(broker(format!(
            "declare the exchange {DEAD_LETTER_EXCHANGE}"
        )))?;
    for kind in WorkerKind::ALL {
        let queue = kind.queue();
        let dead = kind.dead_letter_queue();
        let mut quorum = FieldTable::default();
        quorum.insert("x-queue-type".into(), string("quorum"));
        channel
            .queue_declare(dead.as_str().into(), durable(), quorum)
            .await
            .map_err(broker(format!("declare the queue {dead}")))?;
        channel
            .queue_bind(
                dead.as_str().into(),
                DEAD_LETTER_EXCHANGE.into(),
                queue.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(broker(format!("bind the queue {dead}")))?;
        channel
            .queue_declare(queue.into(), durable(), worker_queue_arguments(kind))
            .await
            .map_err(broker(format!("declare the queue {queue}")))?;
        for pattern in kind.bindings() {
            channel
                .queue_bind(
                    queue.into(),
                    EXCHANGE.into(),
                    (*pattern).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(broker(format!("bind the queue {queue} to {pattern}")))?;
        }
    }
    Ok(())
}

/// The AMQP properties of an event: persistent, the CloudEvents content type, and the event's
/// id and type as `message_id` and `type`, so consumers deduplicate without parsing the body.
/// A traced event also carries `traceparent` and `tracestate` headers (W3C trace context), so
/// consumers continue its trace without parsing the body either.
pub fn message_properties(event: &CloudEvent) -> BasicProperties {
    let properties = BasicProperties::default()
        .with_content_type(CONTENT_TYPE.into())
        .with_delivery_mode(2)
        .with_message_id(ShortString::from(event.id.as_str()))
        .with_type(ShortString::from(event.event_type.as_str()))
        .with_timestamp(u64::try_from(event.time.timestamp()).unwrap_or(0));
    let Some(traceparent) = &event.traceparent else {
        return properties;
    };
    let mut headers = FieldTable::default();
    headers.insert(TRACEPARENT.into(), string(traceparent));
    if let Some(tracestate) = &event.tracestate {
        headers.insert(TRACESTATE.into(), string(tracestate));
    }
    properties.with_headers(headers)
}

/// The AMQP headers of the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// The `traceparent` and `tracestate` headers of a delivery, when they are strings.
pub fn trace_headers(properties: &BasicProperties) -> (Option<String>, Option<String>) {
    let Some(headers) = properties.headers() else {
        return (None, None);
    };
    let text = |name: &str| match headers
        .inner()
        .iter()
        .find(|(key, _)| key.as_str() == name)?
    {
        (_, AMQPValue::LongString(value)) => String::from_utf8(value.as_bytes().to_vec()).ok(),
        (_, AMQPValue::ShortString(value)) => Some(value.as_str().to_owned()),
        _ => None,
    };
    (text(TRACEPARENT), text(TRACESTATE))
}

/// How long a batch may wait for its confirms before the publish counts as failed.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// Publishes to [`EXCHANGE`] with publisher confirms. One connection and channel, opened on the
/// first publish (declaring the topology, so nothing is published before the queues exist) and
/// opened anew on the publish after a connection error.
pub struct RabbitPublisher {
    url: SecretString,
    link: Mutex<Option<Link>>,
    confirm_timeout: Duration,
}

struct Link {
    connection: Connection,
    channel: Channel,
}

impl std::fmt::Debug for RabbitPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitPublisher")
            .field("url", &redact_url(self.url.expose_secret()))
            .finish_non_exhaustive()
    }
}

impl RabbitPublisher {
    /// A publisher for `url`; nothing is connected until [`Self::connect_now`] or the first
    /// publish.
    pub fn new(url: SecretString) -> Self {
        Self {
            url,
            link: Mutex::new(None),
            confirm_timeout: CONFIRM_TIMEOUT,
        }
    }

    #[must_use]
    pub fn with_confirm_timeout(mut self, timeout: Duration) -> Self {
        self.confirm_timeout = timeout;
        self
    }

    /// Connects and declares the topology now, so a wrong `AMQP_URL` fails the start.
    pub async fn connect_now(&self) -> Result<(), RabbitError> {
        let mut link = self.link.lock().await;
        *link = Some(self.open().await?);
        Ok(())
    }

    async fn open(&self) -> Result<Link, RabbitError> {
        let connection = connect(self.url.expose_secret()).await?;
        let channel = connection
            .create_channel()
            .await
            .map_err(broker("open a channel"))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(broker("enable publisher confirms"))?;
        declare_topology(&channel).await?;
        Ok(Link {
            connection,
            channel,
        })
    }

    async fn send(channel: &Channel, events: &[CloudEvent]) -> Result<(), SendError> {
        let mut confirms = Vec::with_capacity(events.len());
        for event in events {
            let body = serde_json::to_vec(event).map_err(|e| SendError::Refused(e.to_string()))?;
            let confirm = channel
                .basic_publish(
                    EXCHANGE.into(),
                    event.event_type.as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &body,
                    message_properties(event),
                )
                .await
                .map_err(SendError::Broken)?;
            confirms.push((event, confirm));
        }
        for (event, confirm) in confirms {
            match confirm.await.map_err(SendError::Broken)? {
                Confirmation::Ack(None) => {}
                Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                    return Err(SendError::Refused(format!(
                        "event {} ({}) was returned: {} {}",
                        event.id, event.event_type, returned.reply_code, returned.reply_text
                    )));
                }
                Confirmation::Nack(None) => {
                    return Err(SendError::Refused(format!(
                        "the broker did not accept event {} ({})",
                        event.id, event.event_type
                    )));
                }
                Confirmation::NotRequested => {
                    return Err(SendError::Refused("publisher confirms are off".into()));
                }
            }
        }
        Ok(())
    }
}

enum SendError {
    /// The connection or channel failed: open a new one next time.
    Broken(lapin::Error),
    /// The broker answered, but not with a plain ack.
    Refused(String),
}

#[async_trait]
impl EventPublisher for RabbitPublisher {
    fn backend(&self) -> &'static str {
        "rabbitmq"
    }

    async fn publish(&self, events: &[CloudEvent]) -> Result<(), PublishError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut guard = self.link.lock().await;
        let usable = guard.as_ref().is_some_and(|link| {
            link.connection.status().connected() && link.channel.status().connected()
        });
        if !usable {
            *guard = None;
            let link = tokio::time::timeout(self.confirm_timeout, self.open())
                .await
                .map_err(|_| PublishError::new("timed out connecting to RabbitMQ (AMQP_URL)"))?
                .map_err(PublishError::new)?;
            *guard = Some(link);
        }
        let Some(link) = guard.as_ref() else {
            return Err(PublishError::new("no RabbitMQ channel"));
        };
        match tokio::time::timeout(self.confirm_timeout, Self::send(&link.channel, events)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(SendError::Refused(reason))) => Err(PublishError::new(reason)),
            Ok(Err(SendError::Broken(error))) => {
                *guard = None;
                Err(PublishError::new(error))
            }
            Err(_) => {
                // Confirms that never come: the connection is not trusted again.
                *guard = None;
                Err(PublishError::new(format!(
                    "RabbitMQ did not confirm {} events within {:?}",
                    events.len(),
                    self.confirm_timeout
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(traceparent: Option<&str>, tracestate: Option<&str>) -> CloudEvent {
        CloudEvent {
            specversion: "1.0".into(),
            id: "01a2427d-0473-73fc-8976-361ee5fb55fc".into(),
            source: crate::messaging::SOURCE.into(),
            event_type: "dev.shop.order.placed.v1".into(),
            subject: "orders/1".into(),
            time: chrono::Utc::now(),
            datacontenttype: "application/json".into(),
            data: serde_json::json!({}),
            traceparent: traceparent.map(str::to_owned),
            tracestate: tracestate.map(str::to_owned),
        }
    }

    #[test]
    fn the_trace_context_travels_in_the_message_headers() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let properties = message_properties(&event(Some(traceparent), Some("shop=1")));
        assert_eq!(
            trace_headers(&properties),
            (Some(traceparent.to_owned()), Some("shop=1".to_owned()))
        );
        let untraced = message_properties(&event(None, None));
        assert!(untraced.headers().is_none());
        assert_eq!(trace_headers(&untraced), (None, None));
    }
}
