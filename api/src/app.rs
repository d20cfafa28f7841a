//! The application `shop-api serve` runs, built from the configuration in one place: the
//! database and cache, the event publisher and its relay, the embedded workers, and the REST and
//! gRPC servers on listeners bound at build time (port 0 picks a free port). The test suites
//! build the same [`Application`], so what they drive is what production runs.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use shop_core::{
    adapters::{
        images::BlobImageFiles, memory::InProcessBus, rabbitmq::RabbitPublisher,
        redis::RedisKeyValue,
    },
    app::{AuthSettings, DEFAULT_VIEW_CAPACITY, ProductViews, Shop, ViewWriter, WorkerData},
    config::{Config, redact_url},
    messaging::WorkerKind,
    ports::EventPublisher,
};
use tokio::{net::TcpListener, sync::watch};

use crate::{
    UsageError,
    commands::{describe_database, open_shop},
    grpc::{self, GrpcSettings},
    output::say,
    payment_expiry::PaymentExpiry,
    relay::Relay,
    seed,
    server::{self, AppState, Limits},
};

/// The key prefix of everything the shop keeps in Redis.
const REDIS_PREFIX: &str = "shop:";

/// How to build an [`Application`]: the configuration, and the few things that are not
/// settings (the gRPC server's timings, Redis' key prefix).
#[derive(Debug)]
pub struct ApplicationBuilder {
    config: Config,
    grpc: GrpcSettings,
    redis_prefix: String,
}

impl ApplicationBuilder {
    /// The gRPC server's timings (tests make them short).
    #[must_use]
    pub fn grpc_settings(mut self, settings: GrpcSettings) -> Self {
        self.grpc = settings;
        self
    }

    /// Keys in Redis start with `prefix` (default `shop:`); apps given the same prefix share
    /// sessions, limits and the cache like replicas of one deployment.
    #[must_use]
    pub fn redis_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis_prefix = prefix.into();
        self
    }

    /// Connects, migrates, wires everything and binds both listeners; seeds an empty embedded
    /// shop when `SHOP_DEMO_SEED` says so. Nothing is served until
    /// [`Application::run_until_stopped`].
    pub async fn build(self) -> anyhow::Result<Application> {
        let config = self.config;
        let auth = session_keys(&config)?;
        let shop = open_shop(&config).await?.with_auth(auth);
        say(format!(
            "database: {}",
            describe_database(&config.database_url)
        ));
        let shop = match &config.redis_url {
            Some(url) => {
                let kv = RedisKeyValue::connect_with_ca(
                    url.expose_secret(),
                    self.redis_prefix,
                    config.redis_ca_file.as_deref(),
                )
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
            .with_low_stock_threshold(config.low_stock_threshold)
            .with_verified_email_required(config.require_verified_email)
            .with_payments(
                shop_core::adapters::payments::provider_from_settings(&config.payments)?,
                config.payments.clone(),
            )
            // The invoice download reads the PDFs where the invoice worker stores them.
            .with_invoice_files(Arc::new(
                shop_core::adapters::invoice_files::InvoiceReader::from_settings(
                    &config.workers.invoice,
                ),
            ));
        let shop = product_images(shop, &config);
        let (publisher, event_bus) = event_publisher(&config).await;
        // The embedded default runs the workers in this process, on the shop's store,
        // subscribed to the bus now, before the relay publishes anything.
        let embedded = match &event_bus {
            Some(bus) => Some(embedded_workers(bus, &shop, &config)?),
            None => None,
        };

        let http = TcpListener::bind(config.http_addr)
            .await
            .with_context(|| format!("cannot listen on {} (SHOP_HTTP_ADDR)", config.http_addr))?;
        let http_addr = http
            .local_addr()
            .context("cannot read the address the server listens on")?;
        let grpc = TcpListener::bind(config.grpc_addr)
            .await
            .with_context(|| format!("cannot listen on {} (SHOP_GRPC_ADDR)", config.grpc_addr))?;
        let grpc_addr = grpc
            .local_addr()
            .context("cannot read the address the gRPC server listens on")?;
        // Seeding comes after binding: a busy port must fail the start before a demo admin
        // password is printed (and so used up) for a server that never ran.
        if config.demo_seed {
            seed_empty_shop(&shop).await?;
        }

        let mut state = AppState::new(shop, Limits::from_config(&config));
        if let Some(embedded) = &embedded {
            state = state.with_worker_metrics(Arc::clone(embedded.metrics()));
        }
        let mut relay = Relay::new(
            Arc::clone(state.shop.store()),
            publisher,
            state.metrics.relay.clone(),
        );
        if !config.database_url.is_sqlite() {
            relay = relay.listening_to(config.database_url.expose());
        }
        Ok(Application {
            state,
            http,
            http_addr,
            grpc,
            grpc_addr,
            grpc_settings: self.grpc,
            view_writer,
            relay,
            workers: embedded,
            grace: Duration::from_secs(config.shutdown_grace_seconds),
        })
    }
}

/// The shop, wired and listening; [`run_until_stopped`](Self::run_until_stopped) serves it.
#[derive(Debug)]
pub struct Application {
    state: AppState,
    http: TcpListener,
    http_addr: SocketAddr,
    grpc: TcpListener,
    grpc_addr: SocketAddr,
    grpc_settings: GrpcSettings,
    view_writer: ViewWriter,
    relay: Relay,
    workers: Option<shop_workers::embedded::Embedded>,
    grace: Duration,
}

impl Application {
    /// The application `serve` runs.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::builder(config).build().await
    }

    pub fn builder(config: Config) -> ApplicationBuilder {
        ApplicationBuilder {
            config,
            grpc: GrpcSettings::default(),
            redis_prefix: REDIS_PREFIX.to_owned(),
        }
    }

    /// Where the HTTP server listens (the actual port when port 0 was asked for).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// What the handlers reach: the shop, the metrics, the limits.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves HTTP and gRPC until `shutdown` resolves, then lets requests in flight finish
    /// within the grace period, writes the product views still queued, lets the relay finish
    /// its batch and the embedded workers the event in hand.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // One shutdown stops both servers and every background task.
        let (stop, stopping) = watch::channel(false);
        let signal = tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let stopped = || {
            let mut stopping = stopping.clone();
            async move {
                let _ = stopping.wait_for(|stopping| *stopping).await;
            }
        };
        let view_writer = tokio::spawn(self.view_writer.run(stopped()));
        let workers = self
            .workers
            .map(|workers| tokio::spawn(workers.run(stopped())));
        let relay = tokio::spawn(self.relay.run(stopped()));
        // Unpaid orders past their payment time are cancelled by every replica's sweeper; the
        // core claims each order once, so running several is safe.
        let expiry = tokio::spawn(
            PaymentExpiry::new(self.state.shop.clone(), Arc::clone(&self.state.metrics))
                .run(stopped()),
        );
        let served = tokio::try_join!(
            server::serve(
                self.http,
                server::router(self.state.clone()),
                stopped(),
                self.grace
            ),
            grpc::serve(
                self.grpc,
                self.state,
                self.grpc_settings,
                stopped(),
                self.grace
            ),
        );
        signal.abort();
        if let Err(error) = served {
            // A server failed: nothing will tell the other tasks to stop.
            view_writer.abort();
            relay.abort();
            expiry.abort();
            if let Some(workers) = &workers {
                workers.abort();
            }
            return Err(error);
        }
        // Views still queued are written; the relay finishes its batch. Both end promptly.
        let _ = tokio::join!(view_writer, relay, expiry);
        if let Some(workers) = workers {
            let _ = workers.await;
        }
        Ok(())
    }
}

/// Every worker, built on the same handler code and settings as the `shop-workers` binary and
/// subscribed to `bus`. A worker setting that is wrong stops the start as a configuration error
/// (exit code 2), as it does for `shop-workers`.
/// Product images are kept where the invoices are. A pod whose invoice storage is not set
/// (its working directory is read-only) still serves everything else: uploads answer with a
/// problem naming the settings, instead of the API failing to start.
fn product_images(shop: Shop, config: &Config) -> Shop {
    match BlobImageFiles::from_settings(&config.workers.invoice) {
        Ok(files) => shop.with_images(Arc::new(files), config.image_limits),
        Err(error) => {
            say(format!("product images: off ({error:#})"));
            shop
        }
    }
}

fn embedded_workers(
    bus: &InProcessBus,
    shop: &Shop,
    config: &Config,
) -> anyhow::Result<shop_workers::embedded::Embedded> {
    let deps = shop_workers::Deps {
        data: WorkerData::new(Arc::clone(shop.store())),
        settings: config.workers.clone(),
    };
    let handlers = shop_workers::handlers_for(&WorkerKind::ALL, &deps)
        .map_err(|error| UsageError(error.to_string()))?;
    // Events the workers have not handled when the API stops go back to the outbox.
    let outbox: Arc<dyn shop_core::ports::OutboxStore> = Arc::clone(shop.store()) as _;
    let embedded =
        shop_workers::embedded::Embedded::subscribe(handlers, bus).returning_unhandled_to(outbox);
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
