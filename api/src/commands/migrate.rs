//! `shop-api migrate`: brings the schema up to date and reports which migrations it applied.
//! Meant for a Kubernetes Job or an init container that runs before the API replicas start.

use anyhow::Context as _;
use shop_core::{
    adapters::{postgres::PgStore, sqlite::SqliteStore},
    config::Config,
};

use super::describe_database;
use crate::output::say;

/// sqlx records applied migrations here; reading it is how we can tell what this run did.
const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version";

pub async fn run(config: Config) -> anyhow::Result<()> {
    let url = &config.database_url;
    let max = config.db_max_connections;
    let context = "the database is not usable";
    let (before, after) = if url.is_sqlite() {
        let store = SqliteStore::connect(url, max).await.context(context)?;
        let before = applied(store.pool()).await;
        store.migrate().await.context(context)?;
        (before, applied(store.pool()).await)
    } else {
        let store = PgStore::connect(url, max).await.context(context)?;
        let before = applied(store.pool()).await;
        store.migrate().await.context(context)?;
        (before, applied(store.pool()).await)
    };
    say(format!("database: {}", describe_database(url)));
    let new: Vec<String> = after
        .iter()
        .filter(|version| !before.contains(version))
        .map(i64::to_string)
        .collect();
    let current = after
        .last()
        .map_or_else(|| "none".to_owned(), i64::to_string);
    if new.is_empty() {
        say(format!(
            "migrations: none to apply; schema at version {current}"
        ));
    } else {
        say(format!(
            "migrations: applied {} ({}); schema at version {current}",
            new.len(),
            new.join(", ")
        ));
    }
    Ok(())
}

/// The versions applied so far. A schema that was never migrated has no `_sqlx_migrations`
/// table: nothing applied yet.
async fn applied<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Vec<i64>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    sqlx::query_scalar::<_, i64>(APPLIED)
        .fetch_all(pool)
        .await
        .unwrap_or_default()
}
