//! One module per command. Each opens what it needs from the [`Config`], does its work through
//! `shop_core::app`, and reports on stdout; failures come back as errors for [`crate::run`].

mod backup;
mod migrate;
mod seed;
mod serve;
mod user;

use std::path::Path;

use anyhow::Context as _;
use rand::{Rng as _, distributions::Alphanumeric, rngs::OsRng};
use shop_core::{
    adapters,
    app::{Shop, ShopSettings},
    config::{Config, DatabaseUrl},
};

use crate::cli::{Command, UserCommand};

pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve::run(config).await,
        Command::Migrate => migrate::run(config).await,
        Command::User(UserCommand::Create(args)) => user::create(config, args).await,
        Command::Seed(args) => seed::run(config, args).await,
        Command::Backup(command) => backup::run(config, command).await,
    }
}

/// Connects, brings the schema up to date and builds the shop. Every command migrates first, so
/// `user create` or `seed` on a fresh database just works; migrating is idempotent and, on
/// Postgres, serialised by an advisory lock, so replicas starting together are safe.
pub(crate) async fn open_shop(config: &Config) -> anyhow::Result<Shop> {
    let store = adapters::connect_and_migrate(&config.database_url, config.db_max_connections)
        .await
        .context("the database is not usable")?;
    Ok(Shop::new(
        store,
        ShopSettings {
            tax_rate: config.tax_rate,
        },
    ))
}

/// `sqlite /abs/path/shop.db` or `postgres postgres://host:5432/db` (never credentials).
pub fn describe_database(url: &DatabaseUrl) -> String {
    if !url.is_sqlite() {
        return format!("postgres {}", url.redacted());
    }
    let Some(location) = url.sqlite_file() else {
        return "sqlite in-memory".to_owned();
    };
    // The absolute path answers "where did my data go?" whatever the working directory was.
    let path = std::path::absolute(Path::new(location)).unwrap_or_else(|_| location.into());
    format!("sqlite {}", path.display())
}

/// A password for an account nobody chose one for: 24 alphanumeric characters from the
/// operating system's generator (about 143 bits), easy to copy from a terminal.
pub fn generate_password() -> String {
    OsRng
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_are_described_without_secrets() {
        let pg = DatabaseUrl::parse("postgres://shop:hunter2@db:5432/shop").expect("valid");
        assert_eq!(describe_database(&pg), "postgres postgres://db:5432/shop");
        let memory = DatabaseUrl::parse("sqlite::memory:").expect("valid");
        assert_eq!(describe_database(&memory), "sqlite in-memory");
        let file = DatabaseUrl::parse("sqlite:///var/lib/shop/shop.db?mode=rwc").expect("valid");
        assert_eq!(describe_database(&file), "sqlite /var/lib/shop/shop.db");
        let relative = DatabaseUrl::parse("sqlite://shop.db").expect("valid");
        assert!(describe_database(&relative).ends_with("/shop.db"));
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let (a, b) = (generate_password(), generate_password());
        assert!(a.len() >= 20 && a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
