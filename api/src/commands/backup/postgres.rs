// ---------------------------------------------------------------------------------------------
// Postgres connection details for pg_dump and pg_restore

use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, Read},
    path::{Path, PathBuf},
    process::{Command as Process, Stdio},
    str::FromStr as _,
};

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use shop_core::config::{Config, DatabaseUrl};
use sqlx::{Connection as _, Executor as _, PgConnection, postgres::PgConnectOptions};

use super::{
    archive::{commit, compress_into},
    manifest::{MANIFEST_FORMAT, Manifest, SCHEMA_VERSION},
    target::{Target, hidden_temporary},
};

/// The URL without its password (so it does not show in the process list) and the password,
/// which the tools get through `PGPASSWORD`.
pub(super) fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let (authority_end, _) = rest
        .char_indices()
        .find(|(_, c)| matches!(c, '/' | '?'))
        .unwrap_or((rest.len(), '/'));
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_owned(), None);
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_owned(), None);
    };
    (
        format!("{scheme}://{user}@{host}{tail}"),
        Some(percent_decode(password)),
    )
}

pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = bytes.get(i + 1..i + 3)
            && let Ok(hex) = std::str::from_utf8(hex)
            && let Ok(value) = u8::from_str_radix(hex, 16)
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn pg_tool(program: &str, url: &str) -> Process {
    let (url, password) = split_password(url);
    let mut command = Process::new(program);
    command.arg(format!("--dbname={url}")).arg("--no-password");
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    command
}

pub(super) fn tool_version(program: &str) -> anyhow::Result<String> {
    let output = Process::new(program)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {program} (is the PostgreSQL client installed?)"))?;
    if !output.status.success() {
        bail!("{program} --version failed: {}", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

pub(super) async fn pg_connect(url: &str) -> anyhow::Result<PgConnection> {
    let redacted = shop_core::config::redact_url(url);
    let options = PgConnectOptions::from_str(url)
        .with_context(|| format!("{redacted} is not a Postgres URL"))?
        .application_name("shop-backup");
    PgConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot connect to {redacted}"))
}

/// Rows per base table of the public schema (on the connection's current snapshot).
pub(super) async fn pg_row_counts(
    conn: &mut PgConnection,
) -> anyhow::Result<BTreeMap<String, i64>> {
    super::row_counts::<sqlx::Postgres>(
        conn,
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
        "public.",
    )
    .await
}

pub(super) async fn pg_public_tables(conn: &mut PgConnection) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(conn)
    .await
    .context("cannot list tables")
}

pub(super) async fn create_postgres(
    config: &Config,
    target: &Target,
    id: &str,
    created_at: DateTime<Utc>,
) -> anyhow::Result<Manifest> {
    let url = config.database_url.expose().to_owned();
    let pg_dump_version = tool_version(&config.pg_dump)?;
    let mut conn = pg_connect(&url).await?;
    // One snapshot for everything: the counts in the manifest describe exactly what pg_dump
    // dumps, whatever writes happen meanwhile.
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await
        .context("cannot start a snapshot")?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut conn)
        .await
        .context("cannot export a snapshot")?;
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut conn)
        .await
        .context("cannot read the database name")?;
    let schema_version: Option<i64> = sqlx::query_scalar(SCHEMA_VERSION)
        .fetch_one(&mut conn)
        .await
        .ok()
        .flatten();
    let row_counts = pg_row_counts(&mut conn).await?;
    let server_version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut conn)
        .await
        .unwrap_or_default();

    let file = format!("{id}.dump.zst");
    let path = target.path(&file);
    let mut dump = pg_tool(&config.pg_dump, &url);
    dump.args(["--format=custom", "--compress=0"])
        .arg(format!("--snapshot={snapshot}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = config.pg_dump.clone();
    let (size_bytes, sha256) = tokio::task::spawn_blocking(move || run_dump(dump, &program, &path))
        .await
        .context("the dump task failed")??;
    conn.execute("COMMIT")
        .await
        .context("cannot end the snapshot")?;
    let _ = conn.close().await;

    let mut tools = BTreeMap::new();
    tools.insert("pg_dump".to_owned(), pg_dump_version);
    tools.insert("postgres".to_owned(), server_version);
    tools.insert("shop-api".to_owned(), env!("CARGO_PKG_VERSION").to_owned());
    Ok(Manifest {
        format: MANIFEST_FORMAT,
        id: id.to_owned(),
        created_at,
        backend: "postgres".to_owned(),
        database,
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

/// Runs pg_dump and streams its output through zstd into `path`; a failure of pg_dump (even
/// after part of the dump was written) removes the partial file.
pub(super) fn run_dump(
    mut dump: Process,
    program: &str,
    path: &Path,
) -> anyhow::Result<(u64, String)> {
    let mut child = dump
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let mut stdout = child.stdout.take().context("pg_dump's output")?;
    let stderr = StandardError::collect(&mut child);
    let temporary = hidden_temporary(path);
    let stored = compress_into(&temporary, &mut stdout);
    drop(stdout);
    let status = child
        .wait()
        .with_context(|| format!("{program} did not finish"))?;
    let errors = stderr.text();
    if !status.success() {
        let _ = std::fs::remove_file(&temporary);
        bail!(
            "{program} failed ({status}): {}",
            errors.trim().lines().last().unwrap_or("no message")
        );
    }
    let summary = stored.context("cannot store the dump")?;
    commit(&temporary, path)?;
    Ok(summary)
}

/// Restores a Postgres backup into `to` and returns the row counts of the restored database.
pub(super) async fn restore_into(
    config: &Config,
    data: PathBuf,
    to: &DatabaseUrl,
    force: bool,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let url = to.expose().to_owned();
    let mut conn = pg_connect(&url).await?;
    let existing = pg_public_tables(&mut conn).await?;
    if existing > 0 && !force {
        bail!(
            "{} is not empty ({existing} tables in schema public); restore into a new database \
             or pass --force",
            to.redacted()
        );
    }
    let mut command = pg_tool(&config.pg_restore, &url);
    command.args(["--no-owner", "--exit-on-error"]);
    if force {
        command.args(["--clean", "--if-exists"]);
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let program = config.pg_restore.clone();
    tokio::task::spawn_blocking(move || run_restore(command, &program, &data))
        .await
        .context("the restore task failed")??;
    let counts = pg_row_counts(&mut conn).await;
    let _ = conn.close().await;
    counts
}

/// Decompresses `data` into pg_restore's standard input.
pub(super) fn run_restore(mut command: Process, program: &str, data: &Path) -> anyhow::Result<()> {
    let input = File::open(data).with_context(|| format!("cannot open {}", data.display()))?;
    let mut decoder = zstd::Decoder::new(input)?;
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {program} (is the PostgreSQL client installed?)"))?;
    let mut stdin = child.stdin.take().context("pg_restore's input")?;
    let stderr = StandardError::collect(&mut child);
    let fed = io::copy(&mut decoder, &mut stdin);
    drop(stdin);
    let status = child
        .wait()
        .with_context(|| format!("{program} did not finish"))?;
    let errors = stderr.text();
    if !status.success() {
        bail!(
            "{program} failed ({status}): {}",
            errors.trim().lines().last().unwrap_or("no message")
        );
    }
    fed.context("cannot decompress the backup")?;
    Ok(())
}

/// A child's standard error, read on a thread of its own so that a chatty pg_dump or pg_restore
/// never blocks on a full pipe while we feed or drain its other end.
struct StandardError(Option<std::thread::JoinHandle<String>>);

impl StandardError {
    fn collect(child: &mut std::process::Child) -> Self {
        Self(child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        }))
    }

    /// Everything it wrote, once the child has exited.
    fn text(self) -> String {
        self.0
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url_for_the_environment() {
        assert_eq!(
            split_password("postgres://shop:p%40ss@db:5432/shop?sslmode=require"),
            (
                "postgres://shop@db:5432/shop?sslmode=require".to_owned(),
                Some("p@ss".to_owned())
            )
        );
        assert_eq!(
            split_password("postgres://shop@db/shop"),
            ("postgres://shop@db/shop".to_owned(), None)
        );
    }
}
