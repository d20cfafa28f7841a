//! `shop-api backup create|list|prune|restore|verify`.
//!
//! A backup is two files in the target (a directory, or an S3 bucket and prefix): `ID.dump.zst` (Postgres: `pg_dump -Fc`,
//! compressed with zstd on the fly) or `ID.sqlite.zst` (SQLite: a `VACUUM INTO` copy), and the
//! manifest `ID.json`. Both are written under a hidden temporary name and renamed into place,
//! data first and manifest last, so a backup exists (and is listed) only once it is complete.
//! On Postgres the row counts come from the same snapshot that `pg_dump` dumps.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, BufReader, Read, Write},
    path::{Path, PathBuf},
    process::{Command as Process, Stdio},
    str::FromStr as _,
    time::{Duration, Instant},
};

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use object_store::{
    ObjectStore as _, WriteMultipart,
    aws::{AmazonS3, AmazonS3Builder},
    path::Path as ObjectPath,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use shop_core::config::{Config, DatabaseUrl, validate_backup_target};
use sqlx::{
    Connection as _, Executor as _, PgConnection, SqliteConnection, postgres::PgConnectOptions,
    sqlite::SqliteConnectOptions,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::describe_database;
use crate::{
    UsageError,
    cli::{
        BackupCommand, CreateBackupArgs, ListBackupsArgs, RestoreBackupArgs, RetentionArgs,
        TargetArg, VerifyBackupArgs,
    },
    output::say,
};

const DEFAULT_TARGET: &str = "file://backups";
const MANIFEST_FORMAT: u32 = 1;
const ZSTD_LEVEL: i32 = 3;

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
// Manifest and target

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// `postgres` or `sqlite`.
    pub backend: String,
    pub database: String,
    /// The latest applied sqlx migration.
    pub schema_version: Option<i64>,
    /// The data file's name, beside the manifest.
    pub file: String,
    pub compression: String,
    pub size_bytes: u64,
    pub sha256: String,
    /// `pg_dump --version`, the SQLite library version, and this program's version.
    pub tools: BTreeMap<String, String>,
    pub row_counts: BTreeMap<String, i64>,
    pub duration_ms: u64,
}

impl Manifest {
    fn total_rows(&self) -> i64 {
        self.row_counts.values().sum()
    }
}

/// A storage target: a directory (`file://`) or an S3 bucket and prefix (`s3://`). Files are
/// produced and consumed in `dir`: the target directory itself, or for S3 a private local
/// staging directory from which they are uploaded and into which they are downloaded.
#[derive(Debug)]
struct Target {
    dir: PathBuf,
    url: String,
    remote: Option<Remote>,
}

#[derive(Debug)]
struct Remote {
    store: AmazonS3,
    prefix: ObjectPath,
}

/// Upload part size; parts are sent two at a time.
const PART_SIZE: usize = 8 * 1024 * 1024;

impl Drop for Target {
    fn drop(&mut self) {
        if self.remote.is_some() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Target {
    fn resolve(config: &Config, arg: &TargetArg) -> anyhow::Result<Self> {
        let raw = match &arg.target {
            Some(raw) => {
                validate_backup_target(raw).map_err(|e| usage(format!("--target: {e}")))?
            }
            None => config
                .backup_target
                .clone()
                .unwrap_or_else(|| DEFAULT_TARGET.to_owned()),
        };
        if let Some(location) = raw.strip_prefix("s3://") {
            let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(endpoint) = &config.backup_s3_endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            let store = builder
                .build()
                .map_err(|e| usage(format!("backup target {raw}: {e}")))?;
            let prefix = ObjectPath::parse(prefix.trim_matches('/'))
                .map_err(|e| usage(format!("backup target {raw}: {e}")))?;
            let dir =
                std::env::temp_dir().join(format!("shop-backup-{}", uuid::Uuid::new_v4().simple()));
            return Ok(Self {
                dir,
                url: raw.clone(),
                remote: Some(Remote { store, prefix }),
            });
        }
        let path = raw.strip_prefix("file://").unwrap_or(&raw);
        Ok(Self {
            dir: PathBuf::from(path),
            url: raw.clone(),
            remote: None,
        })
    }

    /// The local working directory, created if need be.
    fn prepare(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create the directory {}", self.dir.display()))
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn manifest_path(&self, id: &str) -> PathBuf {
        self.path(&format!("{id}.json"))
    }

    fn key(remote: &Remote, name: &str) -> ObjectPath {
        remote.prefix.child(name)
    }

    /// Makes the finished data file `name` (in `dir`) part of the target: for S3, a multipart
    /// upload, which becomes visible only when complete.
    async fn publish_data(&self, name: &str) -> anyhow::Result<()> {
        let Some(remote) = &self.remote else {
            return Ok(());
        };
        let local = self.path(name);
        let key = Self::key(remote, name);
        let result = async {
            let upload = remote.store.put_multipart(&key).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let mut file = tokio::fs::File::open(&local).await?;
            let mut buffer = vec![0; 1024 * 1024];
            loop {
                let read = file.read(&mut buffer).await?;
                if read == 0 {
                    break;
                }
                writer.wait_for_capacity(2).await?;
                writer.write(&buffer[..read]);
            }
            writer.finish().await?;
            anyhow::Ok(())
        }
        .await
        .with_context(|| format!("cannot upload {name} to {}", self.url));
        let _ = std::fs::remove_file(&local);
        result
    }

    /// Writes the manifest, the last step of a backup.
    async fn put_manifest(&self, id: &str, json: Vec<u8>) -> anyhow::Result<()> {
        match &self.remote {
            None => write_atomically(&self.manifest_path(id), &json),
            Some(remote) => remote
                .store
                .put(&Self::key(remote, &format!("{id}.json")), json.into())
                .await
                .map(|_| ())
                .with_context(|| format!("cannot upload the manifest of {id} to {}", self.url)),
        }
    }

    /// Complete backups (those with a readable manifest and their data file), newest first.
    async fn list(&self) -> anyhow::Result<Vec<Manifest>> {
        let mut manifests = match &self.remote {
            None => self.list_dir()?,
            Some(remote) => self.list_remote(remote).await?,
        };
        manifests.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(manifests)
    }

    async fn list_remote(&self, remote: &Remote) -> anyhow::Result<Vec<Manifest>> {
        let objects: Vec<_> = remote
            .store
            .list(Some(&remote.prefix))
            .try_collect()
            .await
            .with_context(|| format!("cannot list {}", self.url))?;
        let names: std::collections::HashSet<String> = objects
            .iter()
            .filter(|object| {
                object
                    .location
                    .prefix_match(&remote.prefix)
                    .is_some_and(|mut rest| rest.next().is_some() && rest.next().is_none())
            })
            .filter_map(|object| object.location.filename().map(str::to_owned))
            .collect();
        let mut manifests = Vec::new();
        for name in names
            .iter()
            .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        {
            let read = async {
                let bytes = remote
                    .store
                    .get(&Self::key(remote, name))
                    .await?
                    .bytes()
                    .await?;
                anyhow::Ok(serde_json::from_slice::<Manifest>(&bytes)?)
            }
            .await;
            match read {
                Ok(manifest) if names.contains(&manifest.file) => manifests.push(manifest),
                Ok(manifest) => {
                    tracing::warn!(id = %manifest.id, "backup manifest without its data file; ignored");
                }
                Err(error) => {
                    tracing::warn!(file = %name, error = %format!("{error:#}"), "unreadable backup manifest; ignored");
                }
            }
        }
        Ok(manifests)
    }

    fn list_dir(&self) -> anyhow::Result<Vec<Manifest>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", self.dir.display()));
            }
        };
        let mut manifests = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot read {}", self.dir.display()))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            match read_manifest(&entry.path()) {
                Ok(manifest) if self.path(&manifest.file).is_file() => manifests.push(manifest),
                Ok(manifest) => {
                    tracing::warn!(id = %manifest.id, "backup manifest without its data file; ignored");
                }
                Err(error) => {
                    tracing::warn!(file = name, error = %format!("{error:#}"), "unreadable backup manifest; ignored");
                }
            }
        }
        Ok(manifests)
    }

    async fn find(&self, id: &str) -> anyhow::Result<Manifest> {
        if id.is_empty() || id.starts_with('.') || id.contains(['/', '\\']) {
            return Err(usage(format!("{id:?} is not a backup id")));
        }
        self.list()
            .await?
            .into_iter()
            .find(|manifest| manifest.id == id)
            .ok_or_else(|| anyhow!("backup {id}: not found in {}", self.url))
    }

    /// The backup's data file as a local file: for S3, downloaded into the staging directory.
    async fn fetch(&self, manifest: &Manifest) -> anyhow::Result<PathBuf> {
        let Some(remote) = &self.remote else {
            return Ok(self.path(&manifest.file));
        };
        self.prepare()?;
        let local = self.path(&manifest.file);
        async {
            let mut stream = remote
                .store
                .get(&Self::key(remote, &manifest.file))
                .await?
                .into_stream();
            let mut file = tokio::fs::File::create(&local).await?;
            while let Some(chunk) = stream.try_next().await? {
                file.write_all(&chunk).await?;
            }
            file.flush().await?;
            anyhow::Ok(())
        }
        .await
        .with_context(|| format!("backup {}: cannot download {}", manifest.id, manifest.file))?;
        Ok(local)
    }

    /// Deletes the manifest first: from that moment the backup is no longer listed.
    async fn delete(&self, manifest: &Manifest) -> anyhow::Result<()> {
        if let Some(remote) = &self.remote {
            for name in [format!("{}.json", manifest.id), manifest.file.clone()] {
                remote
                    .store
                    .delete(&Self::key(remote, &name))
                    .await
                    .with_context(|| format!("backup {}: cannot delete {name}", manifest.id))?;
            }
            return Ok(());
        }
        std::fs::remove_file(self.manifest_path(&manifest.id))
            .with_context(|| format!("backup {}: cannot delete its manifest", manifest.id))?;
        match std::fs::remove_file(self.path(&manifest.file)) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error).with_context(|| {
                format!("backup {}: cannot delete {}", manifest.id, manifest.file)
            }),
        }
    }
}

fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a manifest", path.display()))
}

/// Writes `bytes` to a hidden temporary file and renames it to `path`, with fsyncs so that a
/// crash leaves either the old state or the whole new file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let temporary = hidden_temporary(path);
    let result = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        sync_dir(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

fn hidden_temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("backup");
    path.with_file_name(format!(".{name}.partial"))
}

fn sync_dir(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Streams `source` through zstd into `temporary` (removed again on failure). Returns the
/// stored size and SHA-256.
fn compress_into(temporary: &Path, source: &mut dyn Read) -> anyhow::Result<(u64, String)> {
    let result = (|| -> anyhow::Result<(u64, String)> {
        let file = File::create(temporary)
            .with_context(|| format!("cannot create {}", temporary.display()))?;
        let hashing = Hashing {
            inner: io::BufWriter::new(file),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let mut encoder = zstd::Encoder::new(hashing, ZSTD_LEVEL)?;
        io::copy(source, &mut encoder)?;
        let mut hashing = encoder.finish()?;
        hashing.inner.flush()?;
        let file = hashing
            .inner
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        Ok((hashing.bytes, format!("{:x}", hashing.hasher.finalize())))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temporary);
    }
    result
}

/// Renames a finished temporary file into place, durably.
fn commit(temporary: &Path, path: &Path) -> anyhow::Result<()> {
    std::fs::rename(temporary, path)
        .and_then(|()| sync_dir(path))
        .with_context(|| format!("cannot write {}", path.display()))
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// The stored file must be exactly what the backup wrote.
fn check_integrity(data: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let found = sha256_of(data).with_context(|| format!("backup {}", manifest.id))?;
    if found != manifest.sha256 {
        bail!(
            "backup {}: checksum mismatch (expected {}, found {found})",
            manifest.id,
            manifest.sha256
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Postgres connection details for pg_dump and pg_restore

/// The URL without its password (so it does not show in the process list) and the password,
/// which the tools get through `PGPASSWORD`.
fn split_password(url: &str) -> (String, Option<String>) {
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

fn percent_decode(text: &str) -> String {
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

fn pg_tool(program: &str, url: &str) -> Process {
    let (url, password) = split_password(url);
    let mut command = Process::new(program);
    command.arg(format!("--dbname={url}")).arg("--no-password");
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    command
}

fn tool_version(program: &str) -> anyhow::Result<String> {
    let output = Process::new(program)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {program} (is the PostgreSQL client installed?)"))?;
    if !output.status.success() {
        bail!("{program} --version failed: {}", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

async fn pg_connect(url: &str) -> anyhow::Result<PgConnection> {
    let redacted = shop_core::config::redact_url(url);
    let options = PgConnectOptions::from_str(url)
        .with_context(|| format!("{redacted} is not a Postgres URL"))?
        .application_name("shop-backup");
    PgConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot connect to {redacted}"))
}

/// Rows per base table of the public schema (on the connection's current snapshot).
async fn pg_row_counts(conn: &mut PgConnection) -> anyhow::Result<BTreeMap<String, i64>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .context("cannot list tables")?;
    let mut counts = BTreeMap::new();
    for table in tables {
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM public.\"{}\"",
            table.replace('"', "\"\"")
        ))
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("cannot count the rows of {table}"))?;
        counts.insert(table, count);
    }
    Ok(counts)
}

async fn pg_public_tables(conn: &mut PgConnection) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(conn)
    .await
    .context("cannot list tables")
}

const SCHEMA_VERSION: &str = "SELECT max(version) FROM _sqlx_migrations WHERE success";

// ---------------------------------------------------------------------------------------------
// create

fn new_id(now: DateTime<Utc>) -> String {
    format!(
        "{}-{:04x}",
        now.format("%Y%m%dT%H%M%SZ"),
        rand::random::<u16>()
    )
}

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
    if let Some(policy) = policy {
        prune(&target, &policy, Utc::now()).await?;
    }
    Ok(())
}

async fn create_postgres(
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
fn run_dump(mut dump: Process, program: &str, path: &Path) -> anyhow::Result<(u64, String)> {
    let mut child = dump
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let mut stdout = child.stdout.take().context("pg_dump's output")?;
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    });
    let temporary = hidden_temporary(path);
    let stored = compress_into(&temporary, &mut stdout);
    drop(stdout);
    let status = child
        .wait()
        .with_context(|| format!("{program} did not finish"))?;
    let errors = stderr
        .and_then(|thread| thread.join().ok())
        .unwrap_or_default();
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

fn sqlite_path(url: &DatabaseUrl) -> anyhow::Result<PathBuf> {
    url.sqlite_file()
        .map(PathBuf::from)
        .ok_or_else(|| usage("an in-memory SQLite database cannot be backed up or restored"))
}

async fn sqlite_open(path: &Path, create: bool) -> anyhow::Result<SqliteConnection> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(create);
    SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot open the SQLite database {}", path.display()))
}

async fn sqlite_row_counts(conn: &mut SqliteConnection) -> anyhow::Result<BTreeMap<String, i64>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .context("cannot list tables")?;
    let mut counts = BTreeMap::new();
    for table in tables {
        let count: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM \"{}\"",
            table.replace('"', "\"\"")
        ))
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("cannot count the rows of {table}"))?;
        counts.insert(table, count);
    }
    Ok(counts)
}

async fn create_sqlite(
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
// prune

/// A backup is kept when it is among the `keep_last` newest, or younger than `max_age`; the
/// newest is always kept. With only one rule given, that rule alone decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub keep_last: Option<usize>,
    pub max_age: Option<Duration>,
}

impl Policy {
    fn from_args(args: &RetentionArgs) -> anyhow::Result<Self> {
        if args.keep_last.is_none() && args.max_age.is_none() {
            return Err(usage("pruning needs --keep-last N, --max-age AGE or both"));
        }
        Ok(Self {
            keep_last: args.keep_last,
            max_age: args.max_age,
        })
    }

    /// Which of `newest_first` to delete at `now`.
    pub fn to_delete<'a>(
        &self,
        newest_first: &'a [Manifest],
        now: DateTime<Utc>,
    ) -> Vec<&'a Manifest> {
        newest_first
            .iter()
            .enumerate()
            .filter(|(index, manifest)| {
                if *index == 0 {
                    return false;
                }
                let kept_by_count = self.keep_last.is_some_and(|keep| *index < keep);
                let kept_by_age = self.max_age.is_some_and(|age| {
                    chrono::Duration::from_std(age)
                        .ok()
                        .and_then(|age| now.checked_sub_signed(age))
                        .is_none_or(|cutoff| manifest.created_at >= cutoff)
                });
                !(kept_by_count || kept_by_age)
            })
            .map(|(_, manifest)| manifest)
            .collect()
    }
}

async fn prune(target: &Target, policy: &Policy, now: DateTime<Utc>) -> anyhow::Result<()> {
    let manifests = target.list().await?;
    let doomed = policy.to_delete(&manifests, now);
    for manifest in &doomed {
        target.delete(manifest).await?;
        tracing::info!(id = %manifest.id, "backup pruned");
        say(format!(
            "pruned {} (created {})",
            manifest.id,
            manifest.created_at.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    say(format!(
        "prune: deleted {}, kept {} in {}",
        doomed.len(),
        manifests.len() - doomed.len(),
        target.url
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// restore and verify

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
            let input =
                File::open(&data).with_context(|| format!("cannot open {}", data.display()))?;
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
        return counts;
    }

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
fn run_restore(mut command: Process, program: &str, data: &Path) -> anyhow::Result<()> {
    let input = File::open(data).with_context(|| format!("cannot open {}", data.display()))?;
    let mut decoder = zstd::Decoder::new(input)?;
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {program} (is the PostgreSQL client installed?)"))?;
    let mut stdin = child.stdin.take().context("pg_restore's input")?;
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    });
    let fed = io::copy(&mut decoder, &mut stdin);
    drop(stdin);
    let status = child
        .wait()
        .with_context(|| format!("{program} did not finish"))?;
    let errors = stderr
        .and_then(|thread| thread.join().ok())
        .unwrap_or_default();
    if !status.success() {
        bail!(
            "{program} failed ({status}): {}",
            errors.trim().lines().last().unwrap_or("no message")
        );
    }
    fed.context("cannot decompress the backup")?;
    Ok(())
}

fn compare_counts(manifest: &Manifest, found: &BTreeMap<String, i64>) -> anyhow::Result<()> {
    if *found == manifest.row_counts {
        return Ok(());
    }
    let mut differences = Vec::new();
    for (table, expected) in &manifest.row_counts {
        match found.get(table) {
            Some(count) if count == expected => {}
            Some(count) => differences.push(format!("{table}: expected {expected}, found {count}")),
            None => differences.push(format!("{table}: missing")),
        }
    }
    for table in found
        .keys()
        .filter(|t| !manifest.row_counts.contains_key(*t))
    {
        differences.push(format!("{table}: not in the backup"));
    }
    Err(anyhow!(
        "backup {}: row counts differ from the manifest ({})",
        manifest.id,
        differences.join(", ")
    ))
}

async fn verify(config: &Config, args: VerifyBackupArgs) -> anyhow::Result<()> {
    let target = Target::resolve(config, &args.target)?;
    let manifest = target.find(&args.id).await?;
    say(format!("backup {}: checking its SHA-256", manifest.id));
    let data = target.fetch(&manifest).await?;
    check_integrity(&data, &manifest)?;
    let started = Instant::now();
    let counts = if manifest.backend == "sqlite" {
        let scratch = target.path(&format!(".verify-{}.sqlite", uuid::Uuid::new_v4().simple()));
        let url = DatabaseUrl::parse(&format!("sqlite://{}", scratch.display()))
            .map_err(|e| anyhow!(e))?;
        say(format!(
            "backup {}: restoring into a scratch file",
            manifest.id
        ));
        let counts = restore_into(config, &data, &url, false).await;
        let _ = std::fs::remove_file(&scratch);
        counts
    } else {
        if config.database_url.is_sqlite() {
            return Err(usage(format!(
                "backup {}: verifying a Postgres backup needs DATABASE_URL to name a Postgres \
                 server, where a scratch database is created",
                manifest.id
            )));
        }
        let server = config.database_url.expose().to_owned();
        let name = format!("shop_verify_{}", uuid::Uuid::new_v4().simple());
        let mut admin = pg_connect(&server).await?;
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .with_context(|| format!("cannot create the scratch database {name}"))?;
        say(format!(
            "backup {}: restoring into the scratch database {name}",
            manifest.id
        ));
        let url = DatabaseUrl::parse(&with_database(&server, &name)).map_err(|e| anyhow!(e))?;
        let counts = restore_into(config, &data, &url, false).await;
        let dropped = admin
            .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
            .await;
        if let Err(error) = dropped {
            tracing::warn!(database = %name, %error, "cannot drop the scratch database");
        }
        let _ = admin.close().await;
        counts
    }
    .with_context(|| format!("backup {}: verification failed", manifest.id))?;
    compare_counts(&manifest, &counts)?;
    say(format!(
        "backup {}: verified: checksum ok, restored {} tables, {} rows in {:.1} s; row counts \
         match the manifest",
        manifest.id,
        counts.len(),
        counts.values().sum::<i64>(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// `url` with its database replaced by `database`, keeping any query string.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let host = rest.split_once('/').map_or(rest, |(host, _)| host);
    match query {
        Some(query) => format!("{scheme}://{host}/{database}?{query}"),
        None => format!("{scheme}://{host}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(id: &str, created_at: DateTime<Utc>) -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT,
            id: id.to_owned(),
            created_at,
            backend: "postgres".to_owned(),
            database: "shop".to_owned(),
            schema_version: None,
            file: format!("{id}.dump.zst"),
            compression: "zstd".to_owned(),
            size_bytes: 0,
            sha256: String::new(),
            tools: BTreeMap::new(),
            row_counts: BTreeMap::new(),
            duration_ms: 0,
        }
    }

    #[test]
    fn retention_keeps_the_newest_and_what_either_rule_keeps() {
        let now = Utc::now();
        let days = [0, 1, 2, 5, 10, 40, 90];
        let all: Vec<Manifest> = days
            .iter()
            .map(|d| manifest(&format!("b{d}"), now - chrono::Duration::days(*d)))
            .collect();
        let ids = |policy: Policy| -> Vec<String> {
            policy
                .to_delete(&all, now)
                .iter()
                .map(|m| m.id.clone())
                .collect()
        };
        let week = Some(Duration::from_secs(7 * 86_400));
        assert_eq!(
            ids(Policy {
                keep_last: Some(3),
                max_age: None
            }),
            ["b5", "b10", "b40", "b90"]
        );
        assert_eq!(
            ids(Policy {
                keep_last: None,
                max_age: week
            }),
            ["b10", "b40", "b90"]
        );
        assert_eq!(
            ids(Policy {
                keep_last: Some(5),
                max_age: week
            }),
            ["b40", "b90"]
        );
        // Neither rule keeps the newest, which stays regardless.
        assert_eq!(
            ids(Policy {
                keep_last: Some(0),
                max_age: Some(Duration::from_secs(1))
            }),
            ["b1", "b2", "b5", "b10", "b40", "b90"]
        );
    }

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
        assert_eq!(
            with_database("postgres://u@h:5432/shop?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
    }
}
