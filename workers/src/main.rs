//! `shop-workers`: the email, invoice, notification and analytics consumers, fed by RabbitMQ.
//!
//! `shop-workers [--only analytics,...]` consumes until SIGTERM or Ctrl-C; `shop-workers
//! dead-letters list|replay` looks after the dead-letter queues. Exit codes: 0 success (also after
//! a graceful shutdown), 1 failure, 2 bad usage or configuration.

use std::{net::SocketAddr, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret as _;
use shop_core::{
    adapters::{self, rabbitmq},
    app::WorkerData,
    config::Config,
    messaging::WorkerKind,
    telemetry,
};
use shop_workers::{
    Deps, dead_letters, handlers_for,
    runtime::{MAX_RECONNECT_DELAY, Runtime, Settings, backoff, http, metrics::Metrics},
};

/// Background workers fed by RabbitMQ through the transactional outbox.
#[derive(Debug, Parser)]
#[command(name = "shop-workers", version, about)]
struct Cli {
    /// Run only these workers (comma separated: email, invoice, notification, analytics).
    /// Default: all of them.
    #[arg(long, value_delimiter = ',', value_parser = parse_worker, value_name = "WORKERS")]
    only: Vec<WorkerKind>,

    /// Messages each worker handles at once (also its channel's prefetch). Overrides
    /// SHOP_WORKER_CONCURRENCY (default 10).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1000))]
    concurrency: Option<u16>,

    /// Where /healthz, /readyz and /metrics are served. Port 0 picks a free port. Overrides
    /// SHOP_WORKERS_METRICS_ADDR (default 0.0.0.0:9100).
    #[arg(long)]
    metrics_addr: Option<SocketAddr>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect or replay the dead-letter queues (`<worker>.dead`).
    #[command(subcommand)]
    DeadLetters(DeadLetters),
}

#[derive(Debug, Subcommand)]
enum DeadLetters {
    /// Print the messages waiting in the dead-letter queues (they stay there).
    List {
        /// One worker's dead-letter queue (`analytics` or `analytics.dead`); default: all four.
        #[arg(long, value_name = "NAME")]
        queue: Option<String>,
        /// At most this many messages per queue.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Send dead-lettered messages back to their worker's queue.
    Replay {
        /// The worker or its dead-letter queue (`analytics` or `analytics.dead`).
        #[arg(long, value_name = "NAME")]
        queue: String,
        /// At most this many messages.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
}

fn parse_worker(name: &str) -> Result<WorkerKind, String> {
    WorkerKind::parse(name.trim()).ok_or_else(|| {
        format!("unknown worker {name:?}; the workers are email, invoice, notification, analytics")
    })
}

fn queue_name(name: &str) -> Result<String, Usage> {
    dead_letters::dead_letter_queue(name).ok_or_else(|| {
        Usage(format!(
            "--queue: unknown queue {name:?}; use a worker (email, invoice, notification, \
             analytics) or its dead-letter queue (analytics.dead, ...)"
        ))
    })
}

/// Bad usage or configuration: exit code 2.
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    // Inside the runtime: the trace exporter, when there is one, is a task on it.
    let telemetry = match runtime
        .block_on(async { telemetry::init("shop-workers", config.log_format, &config.log_filter) })
    {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(run(cli, config));
    // The spans of the last messages are exported before the runtime (their exporter) stops.
    telemetry.shutdown();
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            if error.downcast_ref::<Usage>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn amqp_url(config: &Config) -> anyhow::Result<String> {
    config
        .amqp_url
        .as_ref()
        .map(|url| url.expose_secret().to_owned())
        .ok_or_else(|| {
            Usage(
                "AMQP_URL: must be set for shop-workers (amqp://user:password@host:5672/vhost); \
                 without RabbitMQ the workers run inside shop-api"
                    .to_owned(),
            )
            .into()
        })
}

async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::DeadLetters(command)) => dead_letters_command(command, &config).await,
        None => consume(cli, config).await,
    }
}

/// The workers to run: `--only`'s (each once, in [`WorkerKind`] order), or all of them.
fn selection(only: &[WorkerKind]) -> Vec<WorkerKind> {
    if only.is_empty() {
        return WorkerKind::ALL.to_vec();
    }
    let mut selected = only.to_vec();
    selected.sort();
    selected.dedup();
    selected
}

async fn consume(cli: Cli, config: Config) -> anyhow::Result<()> {
    let workers = selection(&cli.only);
    let amqp_url = amqp_url(&config)?;
    // The command line wins over the configuration.
    let concurrency = cli
        .concurrency
        .unwrap_or(config.workers.process.concurrency);
    let metrics_addr = cli
        .metrics_addr
        .unwrap_or(config.workers.process.metrics_addr);
    let mut signals = Signals::install().context("cannot listen for shutdown signals")?;
    // The handlers, and so their settings (folders that must be writable, SMTP, bucket), come
    // before anything waits: a worker that cannot run stops now with exit code 2, whether or not
    // the database is up yet, instead of crash-looping or retrying every message.
    let store = adapters::connect_lazy(
        &config.database_url,
        config.db_max_connections,
        "shop-workers",
    )
    .map_err(|error| Usage(format!("DATABASE_URL: {error}")))?;
    let db = WorkerData::new(store);
    let deps = Deps {
        data: db.clone(),
        settings: config.workers.clone(),
    };
    let handlers = handlers_for(&workers, &deps).map_err(|error| Usage(error.to_string()))?;

    // Probes answer from the start: /healthz while the database is still being reached,
    // /readyz once everything is connected.
    let health = Arc::new(http::Health::new(&workers));
    let metrics = Arc::new(Metrics::new());
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let (address, server) = http::bind(
        metrics_addr,
        Arc::clone(&health),
        Arc::clone(&metrics),
        async move {
            let _ = http_stopped.await;
        },
    )
    .await
    .with_context(|| {
        format!("cannot listen on {metrics_addr} (--metrics-addr, SHOP_WORKERS_METRICS_ADDR)")
    })?;
    let server = tokio::spawn(server);
    println!(
        "workers: {}",
        workers
            .iter()
            .map(|kind| kind.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("metrics listening on {address}");
    let reached = tokio::select! {
        reached = wait_for_database(&db, &config) => reached,
        () = signals.received() => {
            let _ = stop_http.send(());
            let _ = server.await;
            return Ok(());
        }
    };
    if let Err(error) = reached {
        let _ = stop_http.send(());
        let _ = server.await;
        return Err(error.into());
    }
    println!("database: {}", config.database_url.redacted());
    let runtime = Runtime::new(handlers, db, Settings::new(amqp_url, concurrency))
        .reporting_to(metrics, health);
    runtime
        .run(async move {
            signals.received().await;
            tracing::info!("shutting down: finishing messages in flight");
        })
        .await;
    let _ = stop_http.send(());
    let _ = server.await;
    println!("stopped");
    Ok(())
}

/// Waits until the database answers, trying again with backoff while it is unreachable (a
/// PostgreSQL server may come up after the workers). An SQLite file that cannot be opened will
/// not open later (a read-only working directory under the default `sqlite://shop.db`): that is
/// a configuration error.
async fn wait_for_database(db: &WorkerData, config: &Config) -> Result<(), Usage> {
    let mut attempt = 0;
    loop {
        let Err(error) = db.ping().await else {
            return Ok(());
        };
        if config.database_url.is_sqlite() {
            let default = if config.database_is_default {
                " (the default, as DATABASE_URL is not set)"
            } else {
                ""
            };
            return Err(Usage(format!(
                "DATABASE_URL: cannot open {}{default}: {error}; point it at the shop's \
                 PostgreSQL database or at a file on a writable volume",
                config.database_url.redacted()
            )));
        }
        let delay = backoff(Duration::from_millis(500), attempt, MAX_RECONNECT_DELAY);
        attempt += 1;
        tracing::warn!(
            database = %config.database_url.redacted(),
            %error,
            "cannot reach the database (DATABASE_URL); trying again"
        );
        tokio::time::sleep(delay).await;
    }
}

async fn dead_letters_command(command: DeadLetters, config: &Config) -> anyhow::Result<()> {
    let amqp_url = amqp_url(config)?;
    let connection = rabbitmq::connect(&amqp_url).await?;
    let channel = connection.create_channel().await?;
    rabbitmq::declare_topology(&channel).await?;
    match command {
        DeadLetters::List { queue, limit } => {
            let queues = match queue {
                Some(name) => vec![queue_name(&name)?],
                None => WorkerKind::ALL
                    .into_iter()
                    .map(WorkerKind::dead_letter_queue)
                    .collect(),
            };
            for queue in queues {
                let total = dead_letters::depth(&channel, &queue).await?;
                // A channel of its own per queue: closing it returns the peeked messages.
                let peeking = connection.create_channel().await?;
                let letters = dead_letters::peek(&peeking, &queue, limit.min(total)).await?;
                peeking.close(200, "peeked".into()).await?;
                print!("{}", dead_letters::render(&queue, total, &letters));
            }
        }
        DeadLetters::Replay { queue, limit } => {
            let dead = queue_name(&queue)?;
            let kind = WorkerKind::parse(dead.trim_end_matches(".dead"))
                .context("a dead-letter queue names its worker")?;
            let replayed = dead_letters::replay(&channel, kind, limit).await?;
            println!(
                "replayed {} message(s) from {dead} to {}",
                replayed.messages,
                kind.queue()
            );
        }
    }
    let _ = channel.close(200, "done".into()).await;
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}

/// SIGTERM (Kubernetes) and SIGINT (Ctrl-C), installed before anything is announced.
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn received(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}
