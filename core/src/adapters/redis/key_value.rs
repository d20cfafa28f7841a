//! A [`KeyValueStore`] on Redis. The connection manager reconnects on its own after Redis
//! restarts; calls made while it is down fail with a [`KvError`] instead of hanging.
//!
//! `rediss://` connects over TLS (rustls), verifying the server's certificate and host name
//! against the public webpki roots, as managed Redis services need; or, with
//! `SHOP_REDIS_CA_FILE`, against that CA only (a private CA, as in-cluster Redis uses).

use std::{path::Path, time::Duration};

use async_trait::async_trait;
use redis::{AsyncCommands, aio::ConnectionManager};

use crate::ports::{KeyValueStore, KvError};

#[derive(Clone)]
pub struct RedisKeyValue {
    connection: ConnectionManager,
    /// Prepended to every key, so several shops (or test runs) can share one Redis.
    prefix: String,
}

impl std::fmt::Debug for RedisKeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKeyValue")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn failure(error: redis::RedisError) -> KvError {
    KvError(Box::new(error))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The setting that names a CA to trust for `rediss://`.
pub const CA_FILE_SETTING: &str = "SHOP_REDIS_CA_FILE";

fn message(text: String) -> KvError {
    KvError(text.into())
}

/// A client for `url`; for `rediss://`, with the TLS trust described in the module's
/// documentation.
fn client(url: &str, ca_file: Option<&Path>) -> Result<redis::Client, KvError> {
    let tls = url.starts_with("rediss://");
    if tls {
        // rustls needs its cryptography chosen once per process; ring, as everywhere in the shop.
        // An error means one is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let Some(ca_file) = ca_file else {
        return redis::Client::open(url).map_err(failure);
    };
    if !tls {
        return Err(message(format!(
            "{CA_FILE_SETTING} is set, but REDIS_URL is not a rediss:// (TLS) URL"
        )));
    }
    let pem = std::fs::read(ca_file).map_err(|error| {
        message(format!(
            "{CA_FILE_SETTING}: cannot read {}: {error}",
            ca_file.display()
        ))
    })?;
    redis::Client::build_with_tls(
        url,
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        },
    )
    .map_err(|error| {
        message(format!(
            "{CA_FILE_SETTING}: {} holds no usable PEM certificate: {error}",
            ca_file.display()
        ))
    })
}

/// Whether rustls refused the server's certificate (rustls says so only in the message).
fn is_about_certificate(error: &redis::RedisError) -> bool {
    let text = format!("{error}");
    ["certificate", "UnknownIssuer", "NotValidForName"]
        .iter()
        .any(|word| text.contains(word))
}

/// A failed first connection, with what to do about a certificate that is not trusted.
fn connect_failure(error: redis::RedisError, tls: bool, ca_file: Option<&Path>) -> KvError {
    if !(tls && is_about_certificate(&error)) {
        return failure(error);
    }
    let text = format!("{error}");
    let hint = match ca_file {
        Some(file) => format!(
            "check that {CA_FILE_SETTING} ({}) is the CA that signed it and that the certificate \
             names the host of REDIS_URL",
            file.display()
        ),
        None => format!(
            "set {CA_FILE_SETTING} to the PEM file of the CA that signed it (it is not one of \
             the public roots)"
        ),
    };
    message(format!(
        "the Redis server's TLS certificate is not trusted ({text}); {hint}"
    ))
}

impl RedisKeyValue {
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, KvError> {
        Self::connect_with_ca(url, prefix, None).await
    }

    /// Connects to `url`; a `rediss://` URL trusts only the CA in `ca_file` when it is given.
    pub async fn connect_with_ca(
        url: &str,
        prefix: impl Into<String>,
        ca_file: Option<&Path>,
    ) -> Result<Self, KvError> {
        let client = client(url, ca_file)?;
        let tls = url.starts_with("rediss://");
        if tls {
            // A certificate that is not trusted stays so: say it at once rather than after the
            // connection manager's retries (other failures are left to those).
            let probe = tokio::time::timeout(
                Duration::from_secs(5),
                client.get_multiplexed_async_connection(),
            )
            .await;
            if let Ok(Err(error)) = probe
                && is_about_certificate(&error)
            {
                return Err(connect_failure(error, tls, ca_file));
            }
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|error| connect_failure(error, url.starts_with("rediss://"), ca_file))?;
        Ok(Self {
            connection,
            prefix: prefix.into(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl KeyValueStore for RedisKeyValue {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.connection
            .clone()
            .get(self.key(key))
            .await
            .map_err(failure)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        self.connection
            .clone()
            .pset_ex(self.key(key), value, millis(ttl))
            .await
            .map_err(failure)
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        let stored: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(failure)?;
        Ok(stored.is_some())
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let removed: u64 = self
            .connection
            .clone()
            .del(self.key(key))
            .await
            .map_err(failure)?;
        Ok(removed > 0)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.connection
            .clone()
            .get_del(self.key(key))
            .await
            .map_err(failure)
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<(u64, Duration), KvError> {
        // INCR, then set the expiry only if the counter has none yet (first hit of the window),
        // then read what is left of it: one atomic round trip.
        let (count, remaining_ms): (u64, i64) = redis::pipe()
            .atomic()
            .incr(self.key(key), 1_u64)
            .cmd("PEXPIRE")
            .arg(self.key(key))
            .arg(millis(window))
            .arg("NX")
            .ignore()
            .pttl(self.key(key))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(failure)?;
        let remaining = u64::try_from(remaining_ms).map_or(window, Duration::from_millis);
        Ok((count, remaining))
    }

    async fn ping(&self) -> Result<(), KvError> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.connection.clone())
            .await
            .map(drop)
            .map_err(failure)
    }
}
