//! `shop-api serve`: migrate, seed an empty embedded shop, then serve HTTP and gRPC until told to
//! stop.

use std::time::Duration;

use anyhow::Context as _;
use std::sync::Arc;

use secrecy::ExposeSecret as _;
use shop_core::{
    adapters::redis::RedisKeyValue,
    app::{AuthSettings, Shop},
    config::{Config, redact_url},
};
use tokio::{net::TcpListener, sync::watch};

use super::{describe_database, open_shop};
use crate::{
    grpc::{self, GrpcSettings},
    output::say,
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
    // RabbitMQ is not wired in yet; say so instead of implying otherwise.
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
    let state = AppState::new(shop, Limits::from_config(&config));
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
    say("stopped");
    Ok(())
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
