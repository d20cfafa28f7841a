//! What a backup or verification that died (killed, out of memory, node lost) leaves behind, and
//! how the next run removes it without touching what a run still alive is writing.
//!
//! - **Files in a `file://` target** (`.NAME.partial` data and manifests being written,
//!   `.ID.sqlite.copy` SQLite copies, `.verify-*` SQLite scratch files): every `create` and
//!   `verify` holds a shared lock ([`flock`](std::fs::File::lock_shared)) on [`LOCK_FILE`] in the
//!   target for as long as it runs. A run first tries to take that lock exclusively: if it gets
//!   it, no other run is alive (the kernel drops the locks of a process that dies, however it
//!   dies), so every leftover is dead and removed; if it does not, another run is in progress and
//!   nothing is removed this time. The lock is the proof of life, so there is no guess by age,
//!   and a leftover is removed by the very next run once no other is running.
//!   S3 targets stage their files in a private directory per run, so they share nothing to
//!   clean (unfinished multipart uploads are S3's to expire, with a lifecycle rule).
//! - **`shop_verify_*` scratch databases**: their name carries the second they were created.
//!   A verification holds a connection to its scratch database from the moment after it is
//!   created until it is dropped, and `DROP DATABASE` (without `FORCE`) fails while anyone is
//!   connected: so one older than [`SCRATCH_GRACE`] (which covers the instant between `CREATE`
//!   and the first connection) that can be dropped is one nobody uses any more. One in use, or
//!   owned by another user, is left alone.

use std::{
    fs::{File, OpenOptions, TryLockError},
    path::Path,
    time::Duration,
};

use chrono::{DateTime, Utc};
use sqlx::{Executor as _, PgConnection};

use super::target::Target;
use crate::output::say;

/// Held shared by each run in a `file://` target directory; hidden, so never listed.
pub(super) const LOCK_FILE: &str = ".shop-backup.lock";

/// The prefix of every scratch database a verification creates.
pub(super) const SCRATCH_PREFIX: &str = "shop_verify_";

/// How old a scratch database must be before a run may drop it: far more than the time between
/// its `CREATE DATABASE` and the verification's first connection to it.
pub(super) const SCRATCH_GRACE: Duration = Duration::from_secs(10 * 60);

/// The lock a run holds on its target directory until it is dropped.
#[derive(Debug)]
pub(super) struct RunLock {
    _file: File,
}

/// Starts a run in `target`: removes what dead runs left (when no other run is alive) and holds
/// the shared lock that tells later runs this one is alive. `None` for S3 targets, and when the
/// lock file cannot be made (a read-only directory: nothing can be written there anyway, by
/// this run or a dead one), in which case nothing is removed.
pub(super) fn begin_run(target: &Target) -> Option<RunLock> {
    if target.remote.is_some() || !target.dir.is_dir() {
        return None;
    }
    let path = target.path(LOCK_FILE);
    let file = match OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
    {
        Ok(file) => file,
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot open the run lock; leftovers of stopped runs are kept");
            return None;
        }
    };
    match file.try_lock() {
        Ok(()) => {
            remove_leftovers(&target.dir);
            let _ = file.unlock();
        }
        Err(TryLockError::WouldBlock) => {
            tracing::info!(dir = %target.dir.display(), "another backup run is in progress; its files are left alone");
        }
        Err(TryLockError::Error(error)) => {
            tracing::warn!(path = %path.display(), %error, "cannot lock; leftovers of stopped runs are kept");
        }
    }
    // Waits only while another run is removing leftovers (it holds the lock exclusively).
    match file.lock_shared() {
        Ok(()) => Some(RunLock { _file: file }),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot hold the run lock");
            None
        }
    }
}

/// Whether `name` is a file only a run in progress writes (hidden, never a finished backup).
fn is_leftover(name: &str) -> bool {
    name.starts_with('.')
        && name != LOCK_FILE
        && (name.ends_with(".partial")
            || name.contains(".sqlite.copy")
            || name.starts_with(".verify-"))
}

/// Removes every leftover in `dir`; called only while no other run is alive.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|kind| kind.is_file());
        if !is_file || !is_leftover(&name) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed.push(name),
            Err(error) => {
                tracing::warn!(file = %name, %error, "cannot remove a stopped run's file")
            }
        }
    }
    if !removed.is_empty() {
        removed.sort();
        tracing::info!(files = ?removed, "removed files of stopped backup runs");
        say(format!(
            "backup: removed {} file(s) a stopped run left: {}",
            removed.len(),
            removed.join(", ")
        ));
    }
}

/// A new scratch database's name: the prefix, the second it is created, and a random part.
pub(super) fn scratch_name(now: DateTime<Utc>) -> String {
    format!(
        "{SCRATCH_PREFIX}{}_{}",
        now.timestamp(),
        uuid::Uuid::new_v4().simple()
    )
}

/// When the scratch database `name` was created: `Some(None)` for a name without its time
/// (made before names carried it: old enough by now), `None` for a name that is not a scratch
/// database's at all.
fn scratch_created(name: &str) -> Option<Option<DateTime<Utc>>> {
    let rest = name.strip_prefix(SCRATCH_PREFIX)?;
    let is_hex = |text: &str| text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit());
    match rest.split_once('_') {
        Some((seconds, random)) if is_hex(random) && !seconds.is_empty() => {
            let seconds: i64 = seconds.parse().ok()?;
            Some(Some(DateTime::from_timestamp(seconds, 0)?))
        }
        None if is_hex(rest) => Some(None),
        _ => None,
    }
}

/// Drops the scratch databases on the server `admin` is connected to that dead verifications
/// left (see the module's documentation). Never fails: what cannot be dropped stays.
pub(super) async fn drop_dead_scratch_databases(admin: &mut PgConnection, now: DateTime<Utc>) {
    let names: Vec<String> = match sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
    )
    .bind(SCRATCH_PREFIX)
    .fetch_all(&mut *admin)
    .await
    {
        Ok(names) => names,
        Err(error) => {
            tracing::warn!(%error, "cannot list scratch databases");
            return;
        }
    };
    let grace = chrono::TimeDelta::from_std(SCRATCH_GRACE).unwrap_or(chrono::TimeDelta::MAX);
    let mut dropped = Vec::new();
    for name in names {
        // Only names of our own making reach the statement (they are quoted too).
        let Some(created) = scratch_created(&name) else {
            continue;
        };
        if created.is_some_and(|created| now - created < grace) {
            continue;
        }
        // Without FORCE: refused while a verification is connected to it.
        match admin
            .execute(format!("DROP DATABASE \"{name}\"").as_str())
            .await
        {
            Ok(_) => dropped.push(name),
            Err(error) => {
                tracing::info!(database = %name, %error, "a scratch database is kept (in use or not ours)");
            }
        }
    }
    if !dropped.is_empty() {
        tracing::info!(databases = ?dropped, "dropped scratch databases of stopped verifications");
        say(format!(
            "backup: dropped {} scratch database(s) a stopped verification left: {}",
            dropped.len(),
            dropped.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_of_runs_in_progress_are_leftovers() {
        for name in [
            ".20261204T101500Z-ab12.dump.zst.partial",
            ".20261204T101500Z-ab12.json.partial",
            ".20261204T101500Z-ab12.sqlite.copy",
            ".verify-0123.sqlite",
            ".verify-0123.sqlite-wal",
        ] {
            assert!(is_leftover(name), "{name}");
        }
        for name in [
            LOCK_FILE,
            "20261204T101500Z-ab12.dump.zst",
            "20261204T101500Z-ab12.json",
            "notes.partial",
            ".gitkeep",
        ] {
            assert!(!is_leftover(name), "{name}");
        }
    }

    #[test]
    fn scratch_names_carry_their_creation_second() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
        let name = scratch_name(now);
        assert_eq!(scratch_created(&name), Some(Some(now)));
        assert_eq!(
            scratch_created("shop_verify_0123456789abcdef0123456789abcdef"),
            Some(None),
            "a name from before"
        );
        for other in [
            "shop",
            "shop_verify_",
            "shop_verify_x_0123456789abcdef0123456789abcdef",
            "shop_verify_1800000000_short",
            "shop_verify_1\"; DROP TABLE x; --_0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(scratch_created(other), None, "{other}");
        }
    }
}
