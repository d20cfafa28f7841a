//! Names of every object the operator creates, in one place so that builders, reconcilers and
//! tests agree. Custom resource names are at most 40 characters, and Shop and Worker names
//! DNS-1035 labels (CEL rules), so every derived name stays within its kind's limits: 63
//! characters for Services (DNS-1035 labels too) and Jobs (their pods' `job-name` label), 52 for
//! CronJobs (which append an 11-character suffix for their Jobs) and StatefulSets (whose pods'
//! `controller-revision-hash` label appends up to 11).

use sha2::{Digest, Sha256};

/// The three backends a Shop can have managed for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// Redis.
    Redis,
    /// RabbitMQ.
    RabbitMq,
}

impl Backend {
    /// Every backend, in the order they are reconciled.
    pub const ALL: [Self; 3] = [Self::Postgres, Self::Redis, Self::RabbitMq];

    /// Short name used in object names and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Redis => "redis",
            Self::RabbitMq => "rabbitmq",
        }
    }

    /// `app.kubernetes.io/component` of the backend's pods.
    pub fn component(self) -> &'static str {
        match self {
            Self::Postgres => "database",
            Self::Redis => "cache",
            Self::RabbitMq => "queue",
        }
    }

    /// The Shop condition that reports this backend.
    pub fn condition(self) -> &'static str {
        match self {
            Self::Postgres => "DatabaseReady",
            Self::Redis => "CacheReady",
            Self::RabbitMq => "QueueReady",
        }
    }

    /// The environment variable the shop's binaries read the URL from.
    pub fn url_env(self) -> &'static str {
        match self {
            Self::Postgres => "DATABASE_URL",
            Self::Redis => "REDIS_URL",
            Self::RabbitMq => "AMQP_URL",
        }
    }

    /// The port the server listens on.
    pub fn port(self) -> i32 {
        match self {
            Self::Postgres => 5432,
            Self::Redis => 6379,
            Self::RabbitMq => 5672,
        }
    }
}

/// Secret of credentials the operator generates once for a Shop (key [`JWT_SECRET_KEY`]).
pub fn credentials_secret(shop: &str) -> String {
    format!("{shop}-credentials")
}

/// Key of the generated JWT signing secret in [`credentials_secret`].
pub const JWT_SECRET_KEY: &str = "jwt-secret";

/// Key of a backend's connection URL in [`backend`]'s Secret (and the default for external ones).
pub const URL_KEY: &str = "url";

/// StatefulSet, headless Service, credentials Secret and NetworkPolicy of a managed backend.
pub fn backend(shop: &str, backend: Backend) -> String {
    format!("{shop}-{}", backend.as_str())
}

/// ConfigMap of the shop's non-secret settings.
pub fn config_map(shop: &str) -> String {
    format!("{shop}-config")
}

/// Deployment, Service, PodDisruptionBudget, HPA, Ingress and ServiceMonitor of the API.
pub fn api(shop: &str) -> String {
    format!("{shop}-api")
}

/// The Shop's PrometheusRule.
pub fn alerts(shop: &str) -> String {
    format!("{shop}-alerts")
}

/// The migration Job of one version. The version is hashed rather than spelled out: tags may hold
/// characters and lengths a Job name cannot; the version itself is in the Job's labels.
pub fn migration_job(shop: &str, version: &str) -> String {
    format!("{shop}-migrate-{}", short_hash(version))
}

/// Deployment, metrics Service, HPA and ServiceMonitor of a Worker.
pub fn worker(worker: &str) -> String {
    format!("{worker}-worker")
}

/// CronJob of a scheduled Backup.
pub fn backup_cron_job(backup: &str) -> String {
    format!("{backup}-backup")
}

/// Job of an unscheduled Backup; a new generation (an edited spec) runs a new Job.
pub fn backup_job(backup: &str, generation: i64) -> String {
    format!("{backup}-backup-g{generation}")
}

/// PersistentVolumeClaim the operator creates for a Backup that asks for a size.
pub fn backup_claim(backup: &str) -> String {
    format!("{backup}-backups")
}

/// First 8 hex digits of SHA-256: short, stable, and collision-free enough for versions of one shop.
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest
        .iter()
        .take(4)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `^[a-z]([-a-z0-9]*[a-z0-9])?$`, at most 63 characters: what a Service name must be.
    fn is_dns_1035_label(name: &str) -> bool {
        let bytes = name.as_bytes();
        (1..=63).contains(&bytes.len())
            && bytes[0].is_ascii_lowercase()
            && bytes[bytes.len() - 1] != b'-'
            && bytes
                .iter()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-')
    }

    #[test]
    fn derived_names_of_the_longest_custom_resource_names_fit_their_kinds() {
        // The longest names the CRDs accept, and the shortest (one letter).
        for name in ["a".repeat(40), "a".to_owned()] {
            let services = [
                api(&name),
                backend(&name, Backend::Postgres),
                backend(&name, Backend::Redis),
                backend(&name, Backend::RabbitMq),
                worker(&name),
            ];
            for service in services {
                assert!(is_dns_1035_label(&service), "Service {service}");
            }
            // Job names become the `job-name` label of their pods: 63 at most. Generations
            // beyond i32::MAX (two billion edits of one Backup) are not a concern.
            for job in [
                migration_job(&name, &"v".repeat(128)),
                backup_job(&name, i64::from(i32::MAX)),
            ] {
                assert!(job.len() <= 63, "Job {job} is {} characters", job.len());
            }
            let cron_job = backup_cron_job(&name);
            assert!(cron_job.len() <= 52, "CronJob {cron_job}");
            for backend_name in Backend::ALL.map(|kind| backend(&name, kind)) {
                assert!(backend_name.len() <= 52, "StatefulSet {backend_name}");
            }
            for other in [
                credentials_secret(&name),
                config_map(&name),
                backup_claim(&name),
            ] {
                assert!(other.len() <= 63, "{other}");
            }
        }
    }

    #[test]
    fn the_service_name_check_refuses_what_the_api_server_refuses() {
        for bad in [
            "2shop-api",
            "shop.v2-api",
            "Shop-api",
            "shop-",
            "",
            &"a".repeat(64),
        ] {
            assert!(!is_dns_1035_label(bad), "{bad}");
        }
    }

    #[test]
    fn each_version_gets_its_own_migration_job() {
        assert_ne!(
            migration_job("shop", "1.0.0"),
            migration_job("shop", "1.0.1")
        );
        assert_eq!(
            migration_job("shop", "1.0.0"),
            migration_job("shop", "1.0.0")
        );
    }
}
