//! `shop-api serve`: migrate, seed an empty embedded shop, then serve HTTP and gRPC until told to
//! stop.

use std::time::Duration;

use anyhow::Context as _;
use std::sync::Arc;

use secrecy::ExposeSecret as _;
use shop_core::{
    adapters::{memory::InProcessBus, rabbitmq::RabbitPublisher, redis::RedisKeyValue},
    app::{AuthSettings, DEFAULT_VIEW_CAPACITY, ProductViews, Shop},
    config::{Config, redact_url},
    ports::EventPublisher,
};
use tokio::{net::TcpListener, sync::watch};

use super::{describe_database, open_shop};
use crate::{
    grpc::{self, GrpcSettings},
    output::say,
    relay::Relay,
    seed,
    server::{self, AppState, Limits, ShutdownSignals},
};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let auth = session_keys(&config)?;
    let shop = open_shop(&config).await?.with_auth(auth);
    say(format!(
        "database: {}",
        describe_database(&config.database_url)
    ));
    let shop = match &config.redis_url {
        Some(url) => {
            let kv = RedisKeyValue::connect(url.expose_secret(), "shop:")
                .await
                .context("cannot connect to Redis (REDIS_URL)")?;
            say(format!("cache: redis {}", redact_url(url.expose_secret())));
            shop.with_key_value(Arc::new(kv))
        }
        None => {
            say("cache: in-process");
            shop
        }
    };
    // Product views are written to the outbox off the read path, by a task of their own.
    let (views, view_writer) =
        ProductViews::channel(Arc::clone(shop.store()), DEFAULT_VIEW_CAPACITY);
    let shop = shop
        .with_product_views(views)
        .with_low_stock_threshold(config.low_stock_threshold);
    let (publisher, event_bus) = event_publisher(&config).await;
    // The workers' tables (the analytics report) through a small pool of their own.
    let workers_db = shop_workers::store::Db::connect(&config.database_url, 2)
        .await
        .context("the database is not usable (DATABASE_URL)")?;
    // The embedded default runs the implemented workers in this process, subscribed to the bus
    // now, before the relay publishes anything.
    let embedded = match &event_bus {
        Some(bus) => Some(embedded_workers(bus, &workers_db)?),
        None => None,
    };

    // Signals are caught before the address is announced: whoever reads that line may send
    // SIGTERM at once, and it must end in a graceful shutdown, not the default kill.
    let signals = ShutdownSignals::install().context("cannot listen for shutdown signals")?;
    let listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {} (SHOP_HTTP_ADDR)", config.http_addr))?;
    let address = listener
        .local_addr()
        .context("cannot read the address the server listens on")?;
    let grpc_listener = TcpListener::bind(config.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on {} (SHOP_GRPC_ADDR)", config.grpc_addr))?;
    let grpc_address = grpc_listener
        .local_addr()
        .context("cannot read the address the gRPC server listens on")?;
    // Seeding comes after binding: a busy port must fail the start before a demo admin
    // password is printed (and so used up) for a server that never ran.
    if config.demo_seed {
        seed_empty_shop(&shop).await?;
    }
    // The HTTP line comes last: whoever waits for it may use both servers from then on.
    say(format!("grpc listening on {grpc_address}"));
    say(format!("listening on http://{address}"));

    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let mut state = AppState::new(shop, Limits::from_config(&config)).with_workers_db(workers_db);
    if let Some(embedded) = &embedded {
        state = state.with_worker_metrics(Arc::clone(embedded.metrics()));
    }
    // One signal stops both servers.
    let (stop, stopping) = watch::channel(false);
    tokio::spawn(async move {
        signals.received().await;
        let _ = stop.send(true);
    });
    let shutdown = || {
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        }
    };
    let view_writer = tokio::spawn(view_writer.run(shutdown()));
    // The workers finish the event in hand when the servers stop.
    let workers = embedded.map(|embedded| tokio::spawn(embedded.run(shutdown())));
    let mut relay = Relay::new(
        Arc::clone(state.shop.store()),
        publisher,
        state.metrics.relay.clone(),
    );
    if !config.database_url.is_sqlite() {
        relay = relay.listening_to(config.database_url.expose());
    }
    let relay = tokio::spawn(relay.run(shutdown()));
    tokio::try_join!(
        server::serve(listener, server::router(state.clone()), shutdown(), grace),
        grpc::serve(
            grpc_listener,
            state,
            GrpcSettings::default(),
            shutdown(),
            grace
        ),
    )?;
    // Views still queued are written; the relay finishes its batch. Both end promptly.
    let _ = tokio::join!(view_writer, relay);
    if let Some(workers) = workers {
        let _ = workers.await;
    }
    say("stopped");
    Ok(())
}

/// The implemented workers (`shop_workers::implemented`), built on the same handler code as the
/// `shop-workers` binary and subscribed to `bus`. A worker setting that is wrong stops the start.
fn embedded_workers(
    bus: &InProcessBus,
    db: &shop_workers::store::Db,
) -> anyhow::Result<shop_workers::embedded::Embedded> {
    let deps = shop_workers::Deps { db: db.clone() };
    let mut handlers = Vec::new();
    for kind in shop_workers::implemented() {
        if let Some(handler) = shop_workers::handler_for(kind, &deps)? {
            handlers.push(handler);
        }
    }
    let embedded = shop_workers::embedded::Embedded::subscribe(handlers, bus);
    let names: Vec<&str> = embedded.kinds().iter().map(|kind| kind.name()).collect();
    say(format!("workers: embedded ({})", names.join(", ")));
    Ok(embedded)
}

/// RabbitMQ when `AMQP_URL` is set, else the in-process bus (returned too, for the embedded
/// workers to subscribe to). An unreachable broker does not stop the start: the API keeps
/// answering, events wait in the outbox, and the relay retries.
async fn event_publisher(config: &Config) -> (Arc<dyn EventPublisher>, Option<Arc<InProcessBus>>) {
    match &config.amqp_url {
        Some(url) => {
            let publisher = RabbitPublisher::new(url.clone());
            let shown = redact_url(url.expose_secret());
            match publisher.connect_now().await {
                Ok(()) => say(format!("events: rabbitmq {shown}")),
                Err(error) => {
                    tracing::warn!(error = %error, "RabbitMQ is unreachable; events wait in the outbox");
                    say(format!(
                        "events: rabbitmq {shown} (unreachable for now: {error})"
                    ));
                }
            }
            (Arc::new(publisher), None)
        }
        None => {
            say("events: in-process");
            let bus = Arc::new(InProcessBus::default());
            (Arc::clone(&bus) as Arc<dyn EventPublisher>, Some(bus))
        }
    }
}

/// The key that signs access tokens: `SHOP_JWT_SECRET`, required everywhere but the embedded
/// default, where a key made up at start keeps the quick start to one command (and every
/// session ends when the process does).
fn session_keys(config: &Config) -> anyhow::Result<AuthSettings> {
    match &config.jwt_secret {
        Some(secret) => Ok(AuthSettings::new(secret.clone())),
        None if config.database_is_default => {
            say(
                "sessions: signed with an ephemeral key (set SHOP_JWT_SECRET to keep them across restarts)",
            );
            Ok(AuthSettings::ephemeral())
        }
        None => anyhow::bail!(
            "SHOP_JWT_SECRET: must be set (at least 32 bytes) when DATABASE_URL is set; \
             only the embedded default makes up its own"
        ),
    }
}

/// The embedded default's first start: a shop with something to browse and an administrator to
/// manage it. A database that already has users is left alone, so nothing is seeded twice and
/// the admin password is printed exactly once.
async fn seed_empty_shop(shop: &Shop) -> anyhow::Result<()> {
    let users = shop
        .store()
        .count_users()
        .await
        .context("cannot count users")?;
    if users > 0 {
        return Ok(());
    }
    say(seed::demo_catalog(shop).await?);
    let (admin, password) = seed::demo_admin(shop).await?;
    say(format!(
        "demo admin: {} / {password} (shown once)",
        admin.email
    ));
    Ok(())
}
