//! `shop-api backup create|list|prune|restore|verify`.
//!
//! A backup is two files in the target (a directory, or an S3 bucket and prefix): `ID.dump.zst` (Postgres: `pg_dump -Fc`,
//! compressed with zstd on the fly) or `ID.sqlite.zst` (SQLite: a `VACUUM INTO` copy), and the
//! manifest `ID.json`. Both are written under a hidden temporary name and renamed into place,
//! data first and manifest last, so a backup exists (and is listed) only once it is complete.
//! On Postgres the row counts come from the same snapshot that `pg_dump` dumps. What a run that
//! died leaves behind is removed by the next one ([`leftovers`]).

mod archive;
mod leftovers;
mod manifest;
mod postgres;
mod retention;
mod sqlite;
mod target;
mod verify;

use std::{collections::BTreeMap, path::Path, time::Instant};

use anyhow::Context as _;
use chrono::Utc;
use shop_core::config::{Config, DatabaseUrl};

use self::{
    manifest::{check_integrity, compare_counts, new_id},
    postgres::create_postgres,
    retention::{Policy, prune},
    sqlite::create_sqlite,
    target::Target,
    verify::{Verification, verify, verify_created},
};
use super::describe_database;
use crate::{
    UsageError,
    cli::{BackupCommand, CreateBackupArgs, ListBackupsArgs, RestoreBackupArgs},
    output::say,
};

pub async fn run(config: Config, command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Create(args) => create(&config, args).await,
        BackupCommand::List(args) => list(&config, &args).await,
        BackupCommand::Prune(args) => {
            let target = Target::resolve(&config, &args.target)?;
            let policy = Policy::from_args(&args.retention)?;
            prune(&target, &policy, Utc::now()).await
        }
        BackupCommand::Restore(args) => restore(&config, args).await,
        BackupCommand::Verify(args) => verify(&config, args).await,
    }
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

// ---------------------------------------------------------------------------------------------
// create

async fn create(config: &Config, args: CreateBackupArgs) -> anyhow::Result<()> {
    let target = Target::resolve(config, &args.target)?;
    let policy = if args.prune {
        Some(Policy::from_args(&args.retention)?)
    } else {
        if args.retention.keep_last.is_some() || args.retention.max_age.is_some() {
            return Err(usage(
                "--keep-last and --max-age apply to `backup prune` or `backup create --prune`",
            ));
        }
        None
    };
    target.prepare()?;
    // Held until the run ends, so that no other run takes its files for a dead run's.
    let _run = leftovers::begin_run(&target);
    let started = Instant::now();
    let created_at = Utc::now();
    let id = new_id(created_at);
    say(format!(
        "backup {id}: {} to {}",
        describe_database(&config.database_url),
        target.url
    ));
    tracing::info!(%id, target = %target.url, "backup started");
    let result = if config.database_url.is_sqlite() {
        create_sqlite(config, &target, &id, created_at).await
    } else {
        create_postgres(config, &target, &id, created_at).await
    };
    let mut manifest = match result {
        Ok(manifest) => manifest,
        Err(error) => {
            tracing::error!(%id, error = %format!("{error:#}"), "backup failed");
            return Err(error.context(format!("backup {id} failed")));
        }
    };
    manifest.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let json = serde_json::to_vec_pretty(&manifest).context("cannot encode the manifest")?;
    target
        .publish_data(&manifest.file)
        .await
        .with_context(|| format!("backup {id} failed"))?;
    target.put_manifest(&id, json).await?;
    tracing::info!(
        %id,
        size_bytes = manifest.size_bytes,
        tables = manifest.row_counts.len(),
        rows = manifest.total_rows(),
        "backup complete"
    );
    say(format!(
        "backup {id}: complete: {} tables, {} rows, {} stored as {} in {:.1} s (sha256 {})",
        manifest.row_counts.len(),
        manifest.total_rows(),
        human_size(manifest.size_bytes),
        manifest.file,
        started.elapsed().as_secs_f64(),
        manifest.sha256
    ));
    // Verified after it is stored, from the stored copy: what a restore would read.
    let verification = if args.verify {
        Some(verify_created(config, &target, &manifest).await)
    } else {
        None
    };
    if let Some(path) = &args.report_file {
        write_report(path, &target, &manifest, verification);
    }
    if let Some(policy) = policy {
        prune(&target, &policy, Utc::now()).await?;
    }
    Ok(())
}

/// The one-line JSON report of a finished backup (`--report-file`), which the operator reads from
/// the pod's termination message. Camel case, like the Kubernetes objects it ends up in.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    id: &'a str,
    /// Full URL of the stored data file: `s3://bucket/prefix/ID.dump.zst` or `file:///dir/ID...`.
    location: String,
    size_bytes: u64,
    created_at: chrono::DateTime<Utc>,
    /// Only with `--verify`: readers of older reports find no such field.
    #[serde(skip_serializing_if = "Option::is_none")]
    verification: Option<Verification>,
}

/// Writes the report. A failure is only a warning: the backup itself is complete and stored, and
/// failing the command would make a Job retry it and store a second copy.
fn write_report(
    path: &Path,
    target: &Target,
    manifest: &manifest::Manifest,
    verification: Option<Verification>,
) {
    let location = if target.remote.is_some() {
        format!("{}/{}", target.url.trim_end_matches('/'), manifest.file)
    } else {
        let file = target.path(&manifest.file);
        let file = std::path::absolute(&file).unwrap_or(file);
        format!("file://{}", file.display())
    };
    let report = Report {
        id: &manifest.id,
        location,
        size_bytes: manifest.size_bytes,
        created_at: manifest.created_at,
        verification,
    };
    let written = serde_json::to_string(&report)
        .map_err(anyhow::Error::from)
        .and_then(|line| Ok(std::fs::write(path, line + "\n")?));
    if let Err(error) = written {
        tracing::warn!(
            id = %manifest.id,
            path = %path.display(),
            error = %format!("{error:#}"),
            "cannot write the backup report"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// list

async fn list(config: &Config, args: &ListBackupsArgs) -> anyhow::Result<()> {
    let target = Target::resolve(config, &args.target)?;
    let manifests = target.list().await?;
    if args.json {
        say(serde_json::to_string_pretty(&manifests).context("cannot encode the list")?);
        return Ok(());
    }
    if manifests.is_empty() {
        say(format!("no backups in {}", target.url));
        return Ok(());
    }
    say(format!(
        "{:<24}  {:<20}  {:<8}  {:<24}  {:>10}  {:>6}  {:>9}",
        "ID", "CREATED (UTC)", "BACKEND", "DATABASE", "SIZE", "TABLES", "ROWS"
    ));
    for m in &manifests {
        say(format!(
            "{:<24}  {:<20}  {:<8}  {:<24}  {:>10}  {:>6}  {:>9}",
            m.id,
            m.created_at.format("%Y-%m-%d %H:%M:%S"),
            m.backend,
            m.database,
            human_size(m.size_bytes),
            m.row_counts.len(),
            m.total_rows()
        ));
    }
    say(format!("{} backups in {}", manifests.len(), target.url));
    Ok(())
}

fn human_size(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // Display only.
    let value = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", value / 1024.0)
    } else if bytes < 1024 * 1024 * 1024 {
        format!("{:.1} MiB", value / (1024.0 * 1024.0))
    } else {
        format!("{:.1} GiB", value / (1024.0 * 1024.0 * 1024.0))
    }
}

// ---------------------------------------------------------------------------------------------
// restore (verify.rs restores into a scratch database)

async fn restore(config: &Config, args: RestoreBackupArgs) -> anyhow::Result<()> {
    let target = Target::resolve(config, &args.target)?;
    let manifest = target.find(&args.id).await?;
    let to = DatabaseUrl::parse(&args.to).map_err(|e| usage(format!("--to: {e}")))?;
    let backend = if to.is_sqlite() { "sqlite" } else { "postgres" };
    if backend != manifest.backend {
        return Err(usage(format!(
            "backup {}: a {} backup cannot be restored into {backend}",
            manifest.id, manifest.backend
        )));
    }
    say(format!("backup {}: checking its SHA-256", manifest.id));
    let data = target.fetch(&manifest).await?;
    check_integrity(&data, &manifest)?;
    say(format!(
        "backup {}: restoring into {}",
        manifest.id,
        describe_database(&to)
    ));
    let started = Instant::now();
    let counts = restore_into(config, &data, &to, args.force)
        .await
        .with_context(|| format!("backup {}: restore failed", manifest.id))?;
    compare_counts(&manifest, &counts)?;
    tracing::info!(id = %manifest.id, "backup restored");
    say(format!(
        "backup {}: restored {} tables, {} rows in {:.1} s; row counts match the manifest",
        manifest.id,
        counts.len(),
        counts.values().sum::<i64>(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Restores and returns the row counts of the restored database.
async fn restore_into(
    config: &Config,
    data: &Path,
    to: &DatabaseUrl,
    force: bool,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let data = data.to_owned();
    if to.is_sqlite() {
        return sqlite::restore_into(data, to, force).await;
    }
    postgres::restore_into(config, data, to, force).await
}

/// The number of rows of every table `list` names (a query returning table names), each table
/// qualified with `schema` (`public.` on PostgreSQL): what a backup records and a restore checks.
async fn row_counts<DB: sqlx::Database>(
    conn: &mut DB::Connection,
    list: &str,
    schema: &str,
) -> anyhow::Result<BTreeMap<String, i64>>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    String: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    i64: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let tables: Vec<String> = sqlx::query_scalar(list)
        .fetch_all(&mut *conn)
        .await
        .context("cannot list tables")?;
    let mut counts = BTreeMap::new();
    for table in tables {
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {schema}\"{}\"",
            table.replace('"', "\"\"")
        ))
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("cannot count the rows of {table}"))?;
        counts.insert(table, count);
    }
    Ok(counts)
}
