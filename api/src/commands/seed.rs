//! `shop-api seed --demo`: the demo catalog, once.

use shop_core::config::Config;

use super::open_shop;
use crate::{cli::SeedArgs, output::say, seed};

pub async fn run(config: Config, args: SeedArgs) -> anyhow::Result<()> {
    // `--demo` is required by the parser; the demo catalog is the only seed there is.
    let _ = args.demo;
    let shop = open_shop(&config).await?;
    say(format!(
        "database: {}",
        super::describe_database(&config.database_url)
    ));
    say(seed::demo_catalog(&shop).await?);
    Ok(())
}
