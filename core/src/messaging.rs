//! The event contract between the shop and its workers: the CloudEvents 1.0 envelope every event
//! travels in, and the RabbitMQ topology (exchange, queues, bindings, dead-letter queues).
//!
//! Both sides (the relay in `shop-api` and the consumers in `shop-workers`) use these names, and
//! the in-process bus of the embedded default routes by the same bindings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::OutboxEvent;

/// CloudEvents `source` of every event the shop emits.
pub const SOURCE: &str = "/shop-api";

/// A CloudEvents 1.0 event in structured JSON mode (`application/cloudevents+json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    /// Always `1.0`.
    pub specversion: String,
    /// The outbox row's id (UUIDv7); also the AMQP `message_id`, so consumers deduplicate on it.
    pub id: String,
    /// Who emitted it: [`SOURCE`].
    pub source: String,
    /// `dev.shop.<entity>.<what>.v<N>`; also the AMQP routing key.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The entity it is about, e.g. `orders/<id>`.
    pub subject: String,
    /// When the change happened (the transaction's time, not the publish time).
    pub time: DateTime<Utc>,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// The event's payload.
    pub data: serde_json::Value,
    /// W3C trace context of the span that published it (the CloudEvents distributed-tracing
    /// extension); absent when tracing is off. Also sent as the AMQP header of the same name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// Vendor trace state that goes with [`Self::traceparent`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

impl CloudEvent {
    /// The envelope of an outbox row.
    pub fn from_outbox(event: &OutboxEvent) -> Self {
        Self {
            specversion: "1.0".to_owned(),
            id: event.id.to_string(),
            source: SOURCE.to_owned(),
            event_type: event.event_type.clone(),
            subject: event.subject.clone(),
            time: event.occurred_at,
            datacontenttype: "application/json".to_owned(),
            data: event.payload.clone(),
            traceparent: event.traceparent.clone(),
            tracestate: None,
        }
    }
}

/// Content type of a structured-mode CloudEvent.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// The topic exchange events are published to, routing key = event type.
pub const EXCHANGE: &str = "shop.events";

/// The exchange queues dead-letter into (routing key = the queue's name).
pub const DEAD_LETTER_EXCHANGE: &str = "shop.dead-letter";

/// How many times a message is delivered before it is dead-lettered (quorum `x-delivery-limit`).
pub const DELIVERY_LIMIT: i64 = 5;

/// The workers, each with its own quorum queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerKind {
    Email,
    Invoice,
    Notification,
    Analytics,
    /// Product images' smaller variants.
    Media,
}

impl WorkerKind {
    pub const ALL: [Self; 5] = [
        Self::Email,
        Self::Invoice,
        Self::Notification,
        Self::Analytics,
        Self::Media,
    ];

    /// Name on the command line (`--only`), in metrics and in the processed-message records.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Invoice => "invoice",
            Self::Notification => "notification",
            Self::Analytics => "analytics",
            Self::Media => "media",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The quorum queue the worker consumes.
    pub const fn queue(self) -> &'static str {
        self.name()
    }

    /// Where its messages go after [`DELIVERY_LIMIT`] failed deliveries.
    pub fn dead_letter_queue(self) -> String {
        format!("{}.dead", self.name())
    }

    /// Topic patterns bound to its queue.
    pub const fn bindings(self) -> &'static [&'static str] {
        match self {
            Self::Email => &[
                "dev.shop.user.registered.*",
                "dev.shop.user.password_reset_requested.*",
                "dev.shop.user.email_verification_requested.*",
                "dev.shop.order.placed.*",
                "dev.shop.order.paid.*",
                "dev.shop.order.status_changed.*",
                "dev.shop.order.cancelled.*",
                "dev.shop.invoice.created.*",
                "dev.shop.payment.failed.*",
                "dev.shop.payment.refunded.*",
                // To the staff address, not a customer.
                "dev.shop.stock.low.*",
            ],
            Self::Invoice => &["dev.shop.order.paid.*"],
            Self::Notification => &[
                "dev.shop.order.#",
                "dev.shop.payment.failed.*",
                "dev.shop.payment.refunded.*",
                "dev.shop.stock.low.*",
            ],
            Self::Analytics => &["dev.shop.#"],
            Self::Media => &["dev.shop.product.image_added.*"],
        }
    }

    /// Whether an event of `event_type` reaches this worker (AMQP topic matching).
    pub fn receives(self, event_type: &str) -> bool {
        self.bindings()
            .iter()
            .any(|pattern| topic_matches(pattern, event_type))
    }
}

/// AMQP topic matching: `*` is one word, `#` zero or more words, words separated by `.`.
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    fn matches(pattern: &[&str], key: &[&str]) -> bool {
        match (pattern.split_first(), key.split_first()) {
            (None, None) => true,
            (Some((&"#", rest)), _) => {
                matches(rest, key)
                    || key
                        .split_first()
                        .is_some_and(|(_, tail)| matches(pattern, tail))
            }
            (Some((&"*", rest)), Some((_, tail))) => matches(rest, tail),
            (Some((word, rest)), Some((first, tail))) => word == first && matches(rest, tail),
            _ => false,
        }
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = key.split('.').collect();
    matches(&pattern, &key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_context_is_an_optional_envelope_attribute() {
        let mut event = CloudEvent::from_outbox(
            &crate::domain::DomainEvent::StockLow {
                product_id: crate::domain::ProductId::new(),
                sku: "MUG-1".into(),
                stock: 1,
                threshold: 5,
            }
            .into_outbox(Utc::now()),
        );
        let untraced = serde_json::to_value(&event).expect("JSON");
        assert!(untraced.get("traceparent").is_none() && untraced.get("tracestate").is_none());
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        event.traceparent = Some(traceparent.into());
        event.tracestate = Some("shop=1".into());
        let traced = serde_json::to_value(&event).expect("JSON");
        assert_eq!(traced["traceparent"], traceparent);
        assert_eq!(traced["tracestate"], "shop=1");
        let back: CloudEvent = serde_json::from_value(traced).expect("parsed");
        assert_eq!(back, event);
        // Envelopes from before tracing parse too.
        let old: CloudEvent = serde_json::from_value(untraced).expect("parsed");
        assert_eq!(old.traceparent, None);
    }

    #[test]
    fn topic_patterns_match_like_rabbitmq() {
        assert!(topic_matches("dev.shop.#", "dev.shop.order.placed.v1"));
        assert!(topic_matches(
            "dev.shop.order.placed.*",
            "dev.shop.order.placed.v1"
        ));
        assert!(!topic_matches(
            "dev.shop.order.placed.*",
            "dev.shop.order.placed"
        ));
        assert!(topic_matches("dev.shop.order.#", "dev.shop.order"));
        assert!(!topic_matches(
            "dev.shop.order.#",
            "dev.shop.user.registered.v1"
        ));
    }

    #[test]
    fn each_worker_receives_what_it_handles() {
        assert!(WorkerKind::Invoice.receives("dev.shop.order.paid.v1"));
        assert!(!WorkerKind::Invoice.receives("dev.shop.order.placed.v1"));
        assert!(WorkerKind::Email.receives("dev.shop.user.registered.v1"));
        assert!(WorkerKind::Analytics.receives("dev.shop.product.viewed.v1"));
        assert!(!WorkerKind::Email.receives("dev.shop.product.viewed.v1"));
        for payment in ["dev.shop.payment.failed.v1", "dev.shop.payment.refunded.v1"] {
            assert!(WorkerKind::Email.receives(payment), "{payment}");
            assert!(WorkerKind::Notification.receives(payment), "{payment}");
        }
    }
}
