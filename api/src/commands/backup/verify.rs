//! `backup verify ID`, and `backup create --verify`: restore a stored backup into a scratch
//! database (Postgres: `shop_verify_*` on the server DATABASE_URL names, dropped afterwards;
//! SQLite: a scratch file beside the backups) and compare its row counts with the manifest.
//! Scratch databases and files a killed verification left are removed by a later run
//! ([`leftovers`](super::leftovers)).

use std::{collections::BTreeMap, time::Instant};

use anyhow::{Context as _, anyhow};
use shop_core::config::{Config, DatabaseUrl};
use sqlx::{Connection as _, Executor as _};

use super::{
    manifest::{Manifest, check_integrity, compare_counts},
    postgres::pg_connect,
    restore_into,
    target::Target,
    usage,
};
use crate::{cli::VerifyBackupArgs, output::say};

/// Longest verification message put in a report: the report must stay one line well under the
/// 4096 bytes Kubernetes keeps of a termination message, or the operator would read no report.
const REPORT_MESSAGE_LIMIT: usize = 1000;

pub(super) async fn verify(config: &Config, args: VerifyBackupArgs) -> anyhow::Result<()> {
    let target = Target::resolve(config, &args.target)?;
    // Held until the run ends: a SQLite verification writes its scratch file in the target.
    let _run = super::leftovers::begin_run(&target);
    let manifest = target.find(&args.id).await?;
    verify_stored(config, &target, &manifest).await
}

/// Checks the stored backup `manifest` describes: its SHA-256, then a restore into a scratch
/// database whose row counts must match the manifest. Says what it did on success.
pub(super) async fn verify_stored(
    config: &Config,
    target: &Target,
    manifest: &Manifest,
) -> anyhow::Result<()> {
    say(format!("backup {}: checking its SHA-256", manifest.id));
    let data = target.fetch(manifest).await?;
    let started = Instant::now();
    let checked = async {
        check_integrity(&data, manifest)?;
        let counts = restore_into_scratch(config, target, manifest, &data)
            .await
            .with_context(|| format!("backup {}: verification failed", manifest.id))?;
        compare_counts(manifest, &counts)?;
        anyhow::Ok(counts)
    }
    .await;
    if target.remote.is_some() {
        // A downloaded copy: the stored backup is in the bucket.
        let _ = std::fs::remove_file(&data);
    }
    let counts = checked?;
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

async fn restore_into_scratch(
    config: &Config,
    target: &Target,
    manifest: &Manifest,
    data: &std::path::Path,
) -> anyhow::Result<BTreeMap<String, i64>> {
    if manifest.backend == "sqlite" {
        let scratch = target.path(&format!(".verify-{}.sqlite", uuid::Uuid::new_v4().simple()));
        let url = DatabaseUrl::parse(&format!("sqlite://{}", scratch.display()))
            .map_err(|e| anyhow!(e))?;
        say(format!(
            "backup {}: restoring into a scratch file",
            manifest.id
        ));
        let counts = restore_into(config, data, &url, false).await;
        let _ = std::fs::remove_file(&scratch);
        return counts;
    }
    if config.database_url.is_sqlite() {
        return Err(usage(format!(
            "backup {}: verifying a Postgres backup needs DATABASE_URL to name a Postgres \
             server, where a scratch database is created",
            manifest.id
        )));
    }
    let server = config.database_url.expose().to_owned();
    let mut admin = pg_connect(&server).await?;
    super::leftovers::drop_dead_scratch_databases(&mut admin, chrono::Utc::now()).await;
    let name = super::leftovers::scratch_name(chrono::Utc::now());
    admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .with_context(|| {
            format!(
                "cannot create the scratch database {name} (the database user needs the \
                 CREATEDB privilege)"
            )
        })?;
    say(format!(
        "backup {}: restoring into the scratch database {name}",
        manifest.id
    ));
    let url = config.database_url.with_database(&name);
    let counts = restore_into(config, data, &url, false).await;
    let dropped = admin
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await;
    if let Err(error) = dropped {
        tracing::warn!(database = %name, %error, "cannot drop the scratch database");
    }
    let _ = admin.close().await;
    counts
}

/// The outcome of `create --verify`, as its report carries it.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Verification {
    /// `Verified` or `Failed`.
    pub outcome: &'static str,
    /// Why it failed (the error chain, shortened to fit a termination message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Verifies a backup `create` has just stored. A failure is reported, not returned: the backup
/// is stored and stays (a Job that failed here would be retried and store another copy).
pub(super) async fn verify_created(
    config: &Config,
    target: &Target,
    manifest: &Manifest,
) -> Verification {
    match verify_stored(config, target, manifest).await {
        Ok(()) => {
            tracing::info!(id = %manifest.id, "backup verified");
            Verification {
                outcome: "Verified",
                message: None,
            }
        }
        Err(error) => {
            let message = format!("{error:#}");
            tracing::error!(id = %manifest.id, error = %message, "backup verification failed");
            say(format!(
                "backup {}: VERIFICATION FAILED (the backup is kept): {message}",
                manifest.id
            ));
            Verification {
                outcome: "Failed",
                message: Some(shorten(&one_line(&message), REPORT_MESSAGE_LIMIT)),
            }
        }
    }
}

/// `text` with control characters (pg_restore's multi-line output) as spaces: JSON escapes each
/// to six bytes, which could push the report past the termination message's size.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` cut to at most `limit` bytes at a character boundary, marked with `…` when cut.
fn shorten(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::{one_line, shorten};

    #[test]
    fn one_line_turns_control_characters_into_spaces() {
        assert_eq!(
            one_line("pg_restore: error\n\tinvalid\u{1b}"),
            "pg_restore: error  invalid "
        );
    }

    #[test]
    fn shorten_keeps_short_text_and_cuts_long_text_on_a_character_boundary() {
        assert_eq!(shorten("pg_restore failed", 100), "pg_restore failed");
        let long = "é".repeat(600);
        let cut = shorten(&long, 1000);
        assert!(cut.len() <= 1000, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert!(cut.starts_with("éé"));
    }
}
