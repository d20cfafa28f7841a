//! `shop-operator`: reconciles `Shop`, `Worker` and `Backup` custom resources.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use shop_operator::cli::{Cli, Command, RunArgs};
use shop_operator::http::{self, Health};
use shop_operator::leader::{self, Election};
use shop_operator::metrics::Metrics;
use shop_operator::{controller, telemetry};
use tokio::sync::watch;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse_args();
    match cli.command {
        None => run(cli.run).await,
        Some(Command::Run(args)) => run(args).await,
        Some(Command::Render { files, namespace }) => {
            shop_operator::render::main(&files, &namespace)
        }
        Some(Command::Crd { out_dir }) => match print_crds(out_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("shop-operator: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run(args: RunArgs) -> ExitCode {
    if let Err(error) = telemetry::init(args.log_format, &args.log_filter) {
        eprintln!("shop-operator: {error:#}");
        return ExitCode::FAILURE;
    }
    match operate(args).await {
        Ok(()) => {
            tracing::info!("shop-operator stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Startup checks, then the controllers while this replica leads, until a signal or lost Lease.
async fn operate(args: RunArgs) -> anyhow::Result<()> {
    // rustls cannot choose on its own when a build enables both of its providers (test builds
    // do, through dev-dependencies), and the platform uses ring everywhere. An error only means
    // a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = kube::Client::try_default().await.context(
        "cannot configure a Kubernetes client: set KUBECONFIG (or create ~/.kube/config), \
         or run in a pod with a service account",
    )?;
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::default());
    let stop = stop_on_signal(health.clone());

    // The HTTP server comes up first so that liveness holds while the startup checks run, and
    // goes down last so that it answers while the controllers wind down.
    let listener = http::bind(args.metrics_addr).await?;
    let serving = listener.local_addr().unwrap_or(args.metrics_addr);
    let (http_stop, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(
        listener,
        http::router(health.clone(), metrics.clone()),
        async move {
            let _ = http_stopped.await;
        },
    ));
    tracing::info!(addr = %serving, "serving /metrics, /healthz and /readyz");

    controller::check_crds(client.clone()).await?;
    health.set_crds_installed();

    let identity = leader::identity();
    let lease_namespace = args.lease_namespace();
    let mut election = Election::start(
        client.clone(),
        &args.lease_name,
        &lease_namespace,
        &identity,
    )
    .await?;
    tracing::info!(
        identity,
        lease = format!("{lease_namespace}/{}", args.lease_name),
        "waiting to become the leader"
    );

    let outcome = tokio::select! {
        acquired = election.acquired() => match acquired {
            Ok(()) => lead(&args, client, &metrics, &health, &mut election, stop).await,
            Err(error) => Err(error),
        },
        () = stopped(stop.clone()) => Ok(()),
    };
    if outcome.is_ok() {
        election.release().await;
    }
    outcome?;

    let _ = http_stop.send(());
    server.await.context("the HTTP server task failed")?
}

/// Runs the controllers until shutdown (Ok) or until the Lease is lost (Err: the pod restarts).
async fn lead(
    args: &RunArgs,
    client: kube::Client,
    metrics: &Arc<Metrics>,
    health: &Health,
    election: &mut Election,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let namespaces = args.watched_namespaces();
    tracing::info!(
        namespaces = if namespaces.is_empty() {
            "*".to_owned()
        } else {
            namespaces.join(",")
        },
        "became the leader: starting the controllers"
    );
    metrics.set_leader(true);
    health.set_leading(true);
    let controllers = controller::run(client, namespaces, metrics.clone(), stop.clone());
    health.set_controllers_running(true);
    let outcome = tokio::select! {
        () = controllers => if *stop.borrow() {
            Ok(())
        } else {
            Err(anyhow!("the controllers stopped unexpectedly"))
        },
        // Dropping the controllers aborts their reconciles: another replica now leads.
        reason = election.lost() => Err(anyhow!(
            "no longer the leader ({reason}): exiting so that this pod restarts as a standby"
        )),
    };
    metrics.set_leader(false);
    health.set_controllers_running(false);
    health.set_leading(false);
    outcome
}

/// Turns true on the first SIGTERM or SIGINT; a second one exits at once.
fn stop_on_signal(health: Arc<Health>) -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(async move {
        signal().await;
        tracing::info!(
            "shutting down: finishing the reconciles in flight (signal again to exit now)"
        );
        health.set_shutting_down();
        let _ = sender.send(true);
        signal().await;
        tracing::warn!("second signal: exiting without waiting");
        std::process::exit(130);
    });
    receiver
}

async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the operator");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

fn print_crds(out_dir: Option<PathBuf>) -> anyhow::Result<()> {
    match out_dir {
        None => {
            // Not `print!`: a closed pipe (`shop-operator crd | head`) is an error, not a panic.
            let yaml = shop_operator::crd::all_as_yaml()?;
            std::io::stdout()
                .lock()
                .write_all(yaml.as_bytes())
                .context("cannot write to stdout")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for (file, yaml) in shop_operator::crd::files()? {
                let path = dir.join(file);
                std::fs::write(&path, yaml)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
    }
    Ok(())
}
