//! An in-process [`KeyValueStore`] with expiry.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use async_trait::async_trait;

use crate::ports::{KeyValueStore, KvError};

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    expires_at: Instant,
}

/// Expired entries are dropped when touched and swept every so many writes, so memory stays
/// bounded by what is live.
#[derive(Debug, Default)]
pub struct MemoryKeyValue {
    entries: Mutex<HashMap<String, Entry>>,
}

const SWEEP_EVERY: usize = 1_024;

impl MemoryKeyValue {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave a half-written map (every operation is a
        // single insert or remove), so a poisoned lock is still safe to use.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn live<'a>(
        entries: &'a mut HashMap<String, Entry>,
        key: &str,
        now: Instant,
    ) -> Option<&'a mut Entry> {
        if entries
            .get(key)
            .is_some_and(|entry| entry.expires_at <= now)
        {
            entries.remove(key);
        }
        entries.get_mut(key)
    }

    fn insert(
        entries: &mut HashMap<String, Entry>,
        key: &str,
        value: Vec<u8>,
        expires_at: Instant,
    ) {
        if entries.len() % SWEEP_EVERY == SWEEP_EVERY - 1 {
            let now = Instant::now();
            entries.retain(|_, entry| entry.expires_at > now);
        }
        entries.insert(key.to_owned(), Entry { value, expires_at });
    }
}

#[async_trait]
impl KeyValueStore for MemoryKeyValue {
    fn backend(&self) -> &'static str {
        "in-process"
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let mut entries = self.entries();
        Ok(Self::live(&mut entries, key, Instant::now()).map(|entry| entry.value.clone()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), KvError> {
        Self::insert(
            &mut self.entries(),
            key,
            value.to_vec(),
            Instant::now() + ttl,
        );
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool, KvError> {
        let mut entries = self.entries();
        let now = Instant::now();
        if Self::live(&mut entries, key, now).is_some() {
            return Ok(false);
        }
        Self::insert(&mut entries, key, value.to_vec(), now + ttl);
        Ok(true)
    }

    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let mut entries = self.entries();
        let existed = Self::live(&mut entries, key, Instant::now()).is_some();
        entries.remove(key);
        Ok(existed)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let mut entries = self.entries();
        let live = Self::live(&mut entries, key, Instant::now()).is_some();
        Ok(if live {
            entries.remove(key).map(|entry| entry.value)
        } else {
            None
        })
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<(u64, Duration), KvError> {
        let mut entries = self.entries();
        let now = Instant::now();
        if let Some(entry) = Self::live(&mut entries, key, now) {
            let count = parse_count(&entry.value).saturating_add(1);
            entry.value = count.to_string().into_bytes();
            return Ok((count, entry.expires_at.saturating_duration_since(now)));
        }
        Self::insert(&mut entries, key, b"1".to_vec(), now + window);
        Ok((1, window))
    }

    async fn ping(&self) -> Result<(), KvError> {
        Ok(())
    }
}

fn parse_count(value: &[u8]) -> u64 {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}
