//! `shop-api serve`: migrate, seed an empty embedded shop, then serve HTTP until told to stop.

use std::time::Duration;

use anyhow::Context as _;
use shop_core::{app::Shop, config::Config};
use tokio::net::TcpListener;

use super::{describe_database, open_shop};
use crate::{
    output::say,
    seed,
    server::{self, AppState, ShutdownSignals},
};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let shop = open_shop(&config).await?;
    say(format!(
        "database: {}",
        describe_database(&config.database_url)
    ));
    // Redis and RabbitMQ adapters are not wired in yet; say so instead of implying otherwise.
    say("cache: in-process");
    say("events: in-process");

    // Signals are caught before the address is announced: whoever reads that line may send
    // SIGTERM at once, and it must end in a graceful shutdown, not the default kill.
    let signals = ShutdownSignals::install().context("cannot listen for shutdown signals")?;
    let listener = TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {} (SHOP_HTTP_ADDR)", config.http_addr))?;
    let address = listener
        .local_addr()
        .context("cannot read the address the server listens on")?;
    // Seeding comes after binding: a busy port must fail the start before a demo admin
    // password is printed (and so used up) for a server that never ran.
    if config.demo_seed {
        seed_empty_shop(&shop).await?;
    }
    say(format!("listening on http://{address}"));

    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    server::serve(listener, server::router(AppState { shop }), signals, grace).await?;
    say("stopped");
    Ok(())
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
