//! The StatefulSet running a managed backend: one replica, one data volume, hardened pod.

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, ExecAction,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, SecretKeySelector, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use std::collections::BTreeMap;

use super::backend_secret::{COOKIE_KEY, DATABASE_KEY, PASSWORD_KEY, USERNAME_KEY};
use super::{backend_labels, backend_port_name, backend_selector, child_meta, match_labels};
use crate::build::{restricted_container_security, restricted_pod_security};
use crate::crd::{ManagedBackend, Shop};
use crate::names::{self, Backend};

/// Name of the data volume claim template (claims are `data-<statefulset>-0`).
const DATA_VOLUME: &str = "data";
/// Where PostgreSQL keeps its data: a subdirectory of the mount, which may hold `lost+found`.
const PGDATA: &str = "/var/lib/postgresql/data/pgdata";

/// The pinned upstream image run when `managed.image` is absent.
pub fn default_image(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres:17.2-alpine",
        Backend::Redis => "redis:7.4.2-alpine",
        Backend::RabbitMq => "rabbitmq:4.0.5-management-alpine",
    }
}

/// User and group the upstream Alpine image's server runs as: PostgreSQL's `postgres` is 70:70,
/// Redis' `redis` 999:1000, RabbitMQ's `rabbitmq` 100:101. Running as them (never root) keeps the
/// images' entrypoints from trying to `chown` and drop privileges.
fn image_user(backend: Backend) -> (i64, i64) {
    match backend {
        Backend::Postgres => (70, 70),
        Backend::Redis => (999, 1000),
        Backend::RabbitMq => (100, 101),
    }
}

/// Where the data volume is mounted.
fn data_path(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "/var/lib/postgresql/data",
        Backend::Redis => "/data",
        Backend::RabbitMq => "/var/lib/rabbitmq",
    }
}

/// Writable scratch directories the server needs besides its data (the root filesystem is
/// read-only): PostgreSQL's socket directory, RabbitMQ's log directory, and `/tmp` for all.
fn scratch_paths(backend: Backend) -> &'static [(&'static str, &'static str)] {
    match backend {
        Backend::Postgres => &[("tmp", "/tmp"), ("run", "/var/run/postgresql")],
        Backend::Redis => &[("tmp", "/tmp")],
        Backend::RabbitMq => &[("tmp", "/tmp"), ("log", "/var/log/rabbitmq")],
    }
}

/// One replica of the backend's server with its data on a volume from a claim template.
pub fn backend_stateful_set(
    shop: &Shop,
    backend: Backend,
    managed: &ManagedBackend,
) -> StatefulSet {
    let shop_name = shop.name_any();
    let name = names::backend(&shop_name, backend);
    let (uid, gid) = image_user(backend);
    let scratch = scratch_paths(backend);

    let mut volume_mounts = vec![VolumeMount {
        name: DATA_VOLUME.to_owned(),
        mount_path: data_path(backend).to_owned(),
        ..VolumeMount::default()
    }];
    volume_mounts.extend(scratch.iter().map(|(volume, path)| VolumeMount {
        name: (*volume).to_owned(),
        mount_path: (*path).to_owned(),
        ..VolumeMount::default()
    }));
    let volumes = scratch
        .iter()
        .map(|(volume, _)| Volume {
            name: (*volume).to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        })
        .collect();

    let container = Container {
        name: backend.as_str().to_owned(),
        image: Some(
            managed
                .image
                .clone()
                .unwrap_or_else(|| default_image(backend).to_owned()),
        ),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        args: args(backend),
        ports: Some(vec![ContainerPort {
            name: Some(backend_port_name(backend).to_owned()),
            container_port: backend.port(),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        env: Some(env(backend, &name)),
        resources: managed.resources.clone(),
        readiness_probe: Some(readiness_probe(backend)),
        liveness_probe: Some(liveness_probe(backend)),
        startup_probe: Some(startup_probe(backend)),
        security_context: Some(restricted_container_security()),
        volume_mounts: Some(volume_mounts),
        ..Container::default()
    };

    let labels = backend_labels(shop, backend);
    StatefulSet {
        metadata: child_meta(shop, name.clone(), labels.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(name),
            selector: match_labels(backend_selector(shop, backend)),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(
                        if managed.delete_volume_with_shop {
                            "Delete"
                        } else {
                            "Retain"
                        }
                        .to_owned(),
                    ),
                    when_scaled: Some("Retain".to_owned()),
                },
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    security_context: Some(PodSecurityContext {
                        run_as_group: Some(gid),
                        fs_group: Some(gid),
                        // Re-own the volume only when it is not already ours: fast restarts.
                        fs_group_change_policy: Some("OnRootMismatch".to_owned()),
                        ..restricted_pod_security(uid)
                    }),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    termination_grace_period_seconds: Some(match backend {
                        Backend::Redis => 30,
                        Backend::Postgres | Backend::RabbitMq => 60,
                    }),
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                // Name only: a StatefulSet's claim templates are immutable, so anything more
                // (labels that a later version changes) would make every upgrade fail.
                metadata: ObjectMeta {
                    name: Some(DATA_VOLUME.to_owned()),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_owned(),
                            managed.storage.size.clone(),
                        )])),
                        limits: None,
                    }),
                    storage_class_name: managed.storage.storage_class_name.clone(),
                    ..PersistentVolumeClaimSpec::default()
                }),
                ..PersistentVolumeClaim::default()
            }]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// Arguments to the image's entrypoint; only Redis needs any: a password and an append-only file
/// for durability. Through a shell so that the password is read from the environment (never in
/// the pod spec, and any characters in it survive), and so that no argument is a bare `yes`,
/// which YAML 1.1 tools (kubectl's parser among them) would read as a boolean.
fn args(backend: Backend) -> Option<Vec<String>> {
    match backend {
        Backend::Redis => Some(vec![
            "sh".to_owned(),
            "-c".to_owned(),
            r#"exec redis-server --requirepass "$REDIS_PASSWORD" --appendonly yes --dir /data"#
                .to_owned(),
        ]),
        Backend::Postgres | Backend::RabbitMq => None,
    }
}

/// An environment variable from a key of the backend's Secret.
fn from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// Credentials from the Secret (never as plain values), plus non-secret settings.
fn env(backend: Backend, secret: &str) -> Vec<EnvVar> {
    match backend {
        Backend::Postgres => vec![
            from_secret("POSTGRES_USER", secret, USERNAME_KEY),
            from_secret("POSTGRES_PASSWORD", secret, PASSWORD_KEY),
            from_secret("POSTGRES_DB", secret, DATABASE_KEY),
            EnvVar {
                name: "PGDATA".to_owned(),
                value: Some(PGDATA.to_owned()),
                ..EnvVar::default()
            },
        ],
        Backend::Redis => vec![
            from_secret("REDIS_PASSWORD", secret, PASSWORD_KEY),
            // redis-cli (the probes) authenticates with this without a password on its command line.
            from_secret("REDISCLI_AUTH", secret, PASSWORD_KEY),
        ],
        Backend::RabbitMq => vec![
            from_secret("RABBITMQ_DEFAULT_USER", secret, USERNAME_KEY),
            from_secret("RABBITMQ_DEFAULT_PASS", secret, PASSWORD_KEY),
            from_secret("RABBITMQ_ERLANG_COOKIE", secret, COOKIE_KEY),
        ],
    }
}

fn exec(command: &[&str]) -> Option<ExecAction> {
    Some(ExecAction {
        command: Some(command.iter().map(|part| (*part).to_owned()).collect()),
    })
}

/// PostgreSQL accepting connections over TCP (during initdb it listens on its socket only).
const PG_ISREADY: &[&str] = &[
    "sh",
    "-c",
    r#"exec pg_isready --quiet --host 127.0.0.1 --port 5432 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB""#,
];
/// Redis answering PING, authenticated with `REDISCLI_AUTH` (an error reply still exits 0).
const REDIS_PING: &[&str] = &[
    "sh",
    "-c",
    "redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG",
];

fn readiness_probe(backend: Backend) -> Probe {
    let command = match backend {
        Backend::Postgres => PG_ISREADY,
        Backend::Redis => REDIS_PING,
        Backend::RabbitMq => &["rabbitmq-diagnostics", "-q", "check_port_connectivity"],
    };
    Probe {
        exec: exec(command),
        period_seconds: Some(10),
        timeout_seconds: Some(backend_probe_timeout(backend)),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

fn liveness_probe(backend: Backend) -> Probe {
    let command = match backend {
        Backend::Postgres => PG_ISREADY,
        Backend::Redis => REDIS_PING,
        Backend::RabbitMq => &["rabbitmq-diagnostics", "-q", "ping"],
    };
    Probe {
        exec: exec(command),
        period_seconds: Some(if backend == Backend::RabbitMq { 30 } else { 10 }),
        timeout_seconds: Some(backend_probe_timeout(backend)),
        failure_threshold: Some(6),
        ..Probe::default()
    }
}

/// Up to five minutes for a first start (initdb, loading an append-only file, booting Erlang)
/// before the liveness probe may restart the server.
fn startup_probe(backend: Backend) -> Probe {
    let period = if backend == Backend::RabbitMq { 10 } else { 5 };
    Probe {
        period_seconds: Some(period),
        failure_threshold: Some(300 / period),
        ..liveness_probe(backend)
    }
}

/// RabbitMQ's CLI boots an Erlang VM per call: seconds, not milliseconds.
fn backend_probe_timeout(backend: Backend) -> i32 {
    match backend {
        Backend::RabbitMq => 20,
        Backend::Postgres | Backend::Redis => 5,
    }
}
