//! `shop-api serve`: migrate, seed an empty embedded shop, then serve HTTP and gRPC until told to
//! stop. Everything is wired by [`Application::build`]; this adds the signals and the lines that
//! announce the servers.

use anyhow::Context as _;
use shop_core::config::Config;

use crate::{app::Application, output::say, server::ShutdownSignals};

pub async fn run(config: Config) -> anyhow::Result<()> {
    // Signals are caught before the address is announced: whoever reads that line may send
    // SIGTERM at once, and it must end in a graceful shutdown, not the default kill.
    let mut signals = ShutdownSignals::install().context("cannot listen for shutdown signals")?;
    // Starting waits on the database, Redis and the broker; a signal meanwhile stops at once.
    let application = tokio::select! {
        built = Application::build(config) => built?,
        () = signals.received() => {
            say("stopped before serving");
            return Ok(());
        }
    };
    // The HTTP line comes last: whoever waits for it may use both servers from then on.
    say(format!("grpc listening on {}", application.grpc_addr()));
    say(format!("listening on http://{}", application.http_addr()));
    application
        .run_until_stopped(async move { signals.received().await })
        .await?;
    say("stopped");
    Ok(())
}
