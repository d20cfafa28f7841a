use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, BufReader},
    path::{Path, PathBuf},
};

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use shop_core::config::{Config, DatabaseUrl};
use sqlx::{Connection as _, Executor as _, SqliteConnection, sqlite::SqliteConnectOptions};

use super::{
    archive::{commit, compress_into},
    manifest::{MANIFEST_FORMAT, Manifest, SCHEMA_VERSION},
    target::{Target, hidden_temporary},
    usage,
};

pub(super) fn sqlite_path(url: &DatabaseUrl) -> anyhow::Result<PathBuf> {
    url.sqlite_file()
        .map(PathBuf::from)
        .ok_or_else(|| usage("an in-memory SQLite database cannot be backed up or restored"))
}

pub(super) async fn sqlite_open(path: &Path, create: bool) -> anyhow::Result<SqliteConnection> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create);
    SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot open the SQLite database {}", path.display()))
}

pub(super) async fn sqlite_row_counts(
    conn: &mut SqliteConnection,
) -> anyhow::Result<BTreeMap<String, i64>> {
    super::row_counts::<sqlx::Sqlite>(
        conn,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
        "",
    )
    .await
}

pub(super) async fn create_sqlite(
    config: &Config,
    target: &Target,
    id: &str,
    created_at: DateTime<Utc>,
) -> anyhow::Result<Manifest> {
    let source = sqlite_path(&config.database_url)?;
    if !source.is_file() {
        bail!("the SQLite database {} does not exist", source.display());
    }
    let mut conn = sqlite_open(&source, false).await?;
    let copy = target.path(&format!(".{id}.sqlite.copy"));
    let copy_text = copy
        .to_str()
        .context("the backup directory's path is not UTF-8")?;
    // VACUUM INTO writes a consistent, compact copy while others keep using the database.
    let copied = conn
        .execute(format!("VACUUM INTO '{}'", copy_text.replace('\'', "''")).as_str())
        .await
        .context("cannot copy the database (VACUUM INTO)");
    let sqlite_version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut conn)
        .await
        .unwrap_or_default();
    let _ = conn.close().await;
    let result = async {
        copied?;
        // The counts and version come from the copy itself: they describe what is stored.
        let mut copy_conn = sqlite_open(&copy, false).await?;
        let row_counts = sqlite_row_counts(&mut copy_conn).await?;
        let schema_version: Option<i64> = sqlx::query_scalar(SCHEMA_VERSION)
            .fetch_one(&mut copy_conn)
            .await
            .ok()
            .flatten();
        let _ = copy_conn.close().await;
        let file = format!("{id}.sqlite.zst");
        let path = target.path(&file);
        let copy_path = copy.clone();
        let (size_bytes, sha256) = tokio::task::spawn_blocking(move || {
            let mut input = BufReader::new(
                File::open(&copy_path)
                    .with_context(|| format!("cannot open {}", copy_path.display()))?,
            );
            let temporary = hidden_temporary(&path);
            let summary = compress_into(&temporary, &mut input)?;
            commit(&temporary, &path)?;
            anyhow::Ok(summary)
        })
        .await
        .context("the compression task failed")??;
        let mut tools = BTreeMap::new();
        tools.insert("sqlite".to_owned(), sqlite_version);
        tools.insert("shop-api".to_owned(), env!("CARGO_PKG_VERSION").to_owned());
        anyhow::Ok(Manifest {
            format: MANIFEST_FORMAT,
            id: id.to_owned(),
            created_at,
            backend: "sqlite".to_owned(),
            database: source
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("shop.db")
                .to_owned(),
            schema_version,
            file,
            compression: "zstd".to_owned(),
            size_bytes,
            sha256,
            tools,
            row_counts,
            duration_ms: 0,
        })
    }
    .await;
    let _ = std::fs::remove_file(&copy);
    result
}

/// Restores a SQLite backup into `to` and returns the row counts of the restored database.
pub(super) async fn restore_into(
    data: PathBuf,
    to: &DatabaseUrl,
    force: bool,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let path = sqlite_path(to)?;
    if path.exists() && !force {
        let mut conn = sqlite_open(&path, false).await?;
        let tables = sqlite_row_counts(&mut conn).await?;
        let _ = conn.close().await;
        if !tables.is_empty() {
            bail!(
                "{} is not empty ({} tables); restore into a new database or pass --force",
                path.display(),
                tables.len()
            );
        }
    }
    let destination = path.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let input = File::open(&data).with_context(|| format!("cannot open {}", data.display()))?;
        let mut decoder = zstd::Decoder::new(input)?;
        let temporary = hidden_temporary(&destination);
        let result = (|| -> anyhow::Result<()> {
            let mut output = File::create(&temporary)?;
            io::copy(&mut decoder, &mut output).context("cannot decompress the backup")?;
            output.sync_all()?;
            std::fs::rename(&temporary, &destination)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        result
    })
    .await
    .context("the restore task failed")??;
    // A stale journal of the replaced database must not be replayed onto the copy.
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
    let mut conn = sqlite_open(&path, false).await?;
    let counts = sqlite_row_counts(&mut conn).await;
    let _ = conn.close().await;
    counts
}
