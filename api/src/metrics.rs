//! Prometheus metrics (prometheus-client), served as text at `/metrics`: HTTP traffic by method,
//! route template and status; gRPC calls by method and status code; requests in flight; the
//! database pool; the catalog cache; and business counters.

use std::{sync::Arc, time::Duration};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric as _},
    metrics::counter::ConstCounter,
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};
use shop_core::{app::ViewCounts, domain::Order, ports::Store};

use crate::relay::RelayMetrics;

/// One HTTP series: requests answered with one method, route and status, and their durations.
#[derive(Debug, Clone)]
pub struct HttpSeries {
    requests: Counter,
    duration: Histogram,
}

impl HttpSeries {
    pub fn observe(&self, elapsed: Duration) {
        self.duration.observe(elapsed.as_secs_f64());
        self.requests.inc();
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route template (`/api/v1/orders/{id}`), never the raw path, so ids don't explode
    /// the number of series.
    pub route: String,
    pub status: u16,
}

/// A gRPC method (`shop.v1.OrderService/GetOrder`, or `unknown`) and the status code name it
/// ended with (`OK`, `NOT_FOUND`, ...).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcLabels {
    pub method: String,
    pub code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcMethodLabels {
    pub method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CurrencyLabels {
    pub currency: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

/// A payment provider (`sandbox`, `midtrans`, `stripe`) and what became of a notification
/// (`applied`, `duplicate`, `ignored`, `rejected`, `mismatch`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    pub provider: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

pub struct Metrics {
    registry: Registry,
    store: Arc<dyn Store>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_duration: Family<HttpLabels, Histogram>,
    pub http_in_flight: Gauge,
    grpc_requests: Family<GrpcLabels, Counter>,
    grpc_duration: Family<GrpcMethodLabels, Histogram>,
    db_pool_connections: Gauge,
    db_pool_idle: Gauge,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub users_registered: Counter,
    orders_placed: Counter,
    order_value_minor: Family<CurrencyLabels, Counter>,
    checkouts_failed: Family<ReasonLabels, Counter>,
    pub rate_limited: Counter,
    payment_notifications: Family<NotificationLabels, Counter>,
    payment_amount_mismatches: Family<ProviderLabels, Counter>,
    payment_refunds: Family<ProviderLabels, Counter>,
    pub orders_expired: Counter,
    /// The outbox relay's counters and backlog gauge.
    pub relay: RelayMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new(store: Arc<dyn Store>) -> Self {
        let mut registry = Registry::with_prefix("shop");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered",
            http_requests.clone(),
        );
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests",
            http_duration.clone(),
        );
        let http_in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "HTTP requests being answered",
            http_in_flight.clone(),
        );
        let grpc_requests = Family::<GrpcLabels, Counter>::default();
        registry.register(
            "grpc_requests",
            "gRPC calls answered, by method and status code",
            grpc_requests.clone(),
        );
        let grpc_duration = Family::<GrpcMethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register(
            "grpc_request_duration_seconds",
            "Time to answer gRPC calls (streams: until they end)",
            grpc_duration.clone(),
        );
        let db_pool_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Open database connections",
            db_pool_connections.clone(),
        );
        let db_pool_idle = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            db_pool_idle.clone(),
        );
        let cache_hits = Counter::default();
        registry.register(
            "catalog_cache_hits",
            "Catalog answers served from the cache",
            cache_hits.clone(),
        );
        let cache_misses = Counter::default();
        registry.register(
            "catalog_cache_misses",
            "Catalog answers computed and cached",
            cache_misses.clone(),
        );
        let users_registered = Counter::default();
        registry.register(
            "users_registered",
            "Accounts created",
            users_registered.clone(),
        );
        let orders_placed = Counter::default();
        registry.register("orders_placed", "Orders placed", orders_placed.clone());
        let order_value_minor = Family::<CurrencyLabels, Counter>::default();
        registry.register(
            "order_value_minor",
            "Value of orders placed, in minor units",
            order_value_minor.clone(),
        );
        let checkouts_failed = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "checkouts_failed",
            "Checkouts refused, by reason",
            checkouts_failed.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "rate_limited_requests",
            "Requests refused by the rate limit",
            rate_limited.clone(),
        );
        let payment_notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "payment_notifications",
            "Payment provider notifications received, by provider and outcome",
            payment_notifications.clone(),
        );
        let payment_amount_mismatches = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "payment_amount_mismatches",
            "Notifications whose amount or currency differed from the order's (recorded as failed payments)",
            payment_amount_mismatches.clone(),
        );
        let payment_refunds = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "payment_refunds",
            "Refunds issued through the payment provider",
            payment_refunds.clone(),
        );
        let orders_expired = Counter::default();
        registry.register(
            "orders_expired",
            "Unpaid orders cancelled because their payment time ran out",
            orders_expired.clone(),
        );
        let relay = RelayMetrics::default();
        registry.register(
            "events_published",
            "Events the broker confirmed",
            relay.published.clone(),
        );
        registry.register(
            "event_publish_failures",
            "Batches of events that could not be published (they stay in the outbox)",
            relay.failures.clone(),
        );
        registry.register(
            "outbox_backlog",
            "Events waiting in the outbox to be published",
            relay.backlog.clone(),
        );
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "How long the oldest event waiting in the outbox has waited (0: none waits)",
            relay.oldest_pending_age.clone(),
        );
        Self {
            registry,
            store,
            relay,
            http_requests,
            http_duration,
            http_in_flight,
            grpc_requests,
            grpc_duration,
            db_pool_connections,
            db_pool_idle,
            cache_hits,
            cache_misses,
            users_registered,
            orders_placed,
            order_value_minor,
            checkouts_failed,
            rate_limited,
            payment_notifications,
            payment_amount_mismatches,
            payment_refunds,
            orders_expired,
        }
    }

    /// The request counter and duration histogram of one label set, as handles that share
    /// their series: the HTTP layer keeps them per route instead of hashing owned labels on
    /// every request (see `rest::layers::RouteMetrics`).
    pub fn http_series(&self, method: &str, route: &str, status: u16) -> HttpSeries {
        let labels = HttpLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        HttpSeries {
            requests: self.http_requests.get_or_create(&labels).clone(),
            duration: self.http_duration.get_or_create(&labels).clone(),
        }
    }

    pub fn observe_grpc(&self, method: &str, code: &str, elapsed: Duration) {
        self.grpc_duration
            .get_or_create(&GrpcMethodLabels {
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
        self.grpc_requests
            .get_or_create(&GrpcLabels {
                method: method.to_owned(),
                code: code.to_owned(),
            })
            .inc();
    }

    pub fn order_placed(&self, order: &Order) {
        self.orders_placed.inc();
        let currency = order.total.currency().code().to_owned();
        let value = u64::try_from(order.total.amount_minor()).unwrap_or(0);
        self.order_value_minor
            .get_or_create(&CurrencyLabels { currency })
            .inc_by(value);
    }

    pub fn checkout_failed(&self, reason: &str) {
        self.checkouts_failed
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// One provider notification and what became of it; a mismatch is also counted on its own.
    pub fn payment_notification(&self, provider: &str, outcome: &str) {
        self.payment_notifications
            .get_or_create(&NotificationLabels {
                provider: provider.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        if outcome == "mismatch" {
            self.payment_amount_mismatches
                .get_or_create(&ProviderLabels {
                    provider: provider.to_owned(),
                })
                .inc();
        }
    }

    pub fn payment_refunded(&self, provider: &str) {
        self.payment_refunds
            .get_or_create(&ProviderLabels {
                provider: provider.to_owned(),
            })
            .inc();
    }

    /// Exposes what became of product views (`ProductViewed` events recorded off the read path).
    pub fn observe_product_views(&mut self, counts: Arc<ViewCounts>) {
        self.registry
            .register_collector(Box::new(ProductViewsCollector(counts)));
    }

    /// The text exposition, with the pool gauges read at scrape time.
    pub fn render(&self) -> String {
        let pool = self.store.pool_status();
        self.db_pool_connections.set(i64::from(pool.size));
        self.db_pool_idle.set(i64::from(pool.idle));
        self.relay.refresh_oldest_age(chrono::Utc::now());
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// Product views counted by `shop_core::app::ProductViews`, read at scrape time.
#[derive(Debug)]
struct ProductViewsCollector(Arc<ViewCounts>);

impl Collector for ProductViewsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, help, value) in [
            (
                "product_views_recorded",
                "Product views written to the outbox",
                self.0.written(),
            ),
            (
                "product_views_dropped",
                "Product views dropped because the view channel was full",
                self.0.dropped(),
            ),
            (
                "product_views_failed",
                "Product views lost because the outbox could not be written",
                self.0.failed(),
            ),
        ] {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}
