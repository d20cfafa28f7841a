//! A [`KeyValueStore`] on Redis. The connection manager reconnects on its own after Redis
//! restarts; calls made while it is down fail with a [`KvError`] instead of hanging.

use std::time::Duration;

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

impl RedisKeyValue {
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, KvError> {
        let client = redis::Client::open(url).map_err(failure)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let connection = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(failure)?;
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
