use std::{collections::BTreeMap, path::Path};

use anyhow::{Context as _, anyhow, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::archive::sha256_of;

// ---------------------------------------------------------------------------------------------
// Manifest and target

pub(super) const MANIFEST_FORMAT: u32 = 1;
pub(super) const SCHEMA_VERSION: &str = "SELECT max(version) FROM _sqlx_migrations WHERE success";

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
    pub(super) fn total_rows(&self) -> i64 {
        self.row_counts.values().sum()
    }
}

pub(super) fn new_id(now: DateTime<Utc>) -> String {
    format!(
        "{}-{:04x}",
        now.format("%Y%m%dT%H%M%SZ"),
        rand::random::<u16>()
    )
}

pub(super) fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a manifest", path.display()))
}

/// The stored file must be exactly what the backup wrote.
pub(super) fn check_integrity(data: &Path, manifest: &Manifest) -> anyhow::Result<()> {
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

pub(super) fn compare_counts(
    manifest: &Manifest,
    found: &BTreeMap<String, i64>,
) -> anyhow::Result<()> {
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
