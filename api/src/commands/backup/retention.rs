use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{manifest::Manifest, target::Target, usage};
use crate::{cli::RetentionArgs, output::say};

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
    pub(super) fn from_args(args: &RetentionArgs) -> anyhow::Result<Self> {
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

pub(super) async fn prune(
    target: &Target,
    policy: &Policy,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::commands::backup::manifest::MANIFEST_FORMAT;

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
}
