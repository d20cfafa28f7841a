//! The `t=<unix>,v1=<hex>` signature header of Stripe's webhooks, which the sandbox copies:
//! HMAC-SHA256 of `"{t}.{raw body}"`, any of several `v1` values may match (keys being rolled),
//! and the timestamp bounds replays. Each provider decides what a missing part is called.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// A parsed header; nothing is checked yet.
#[derive(Debug)]
pub struct TimestampedSignature<'a> {
    /// The `t` element as sent: its digits are what was signed, not a re-formatted number.
    pub timestamp: Option<&'a str>,
    /// Every `v1` element; other schemes (Stripe's test `v0`) are ignored.
    pub v1: Vec<&'a str>,
}

impl<'a> TimestampedSignature<'a> {
    pub fn parse(header: &'a str) -> Self {
        let mut timestamp = None;
        let mut v1 = Vec::new();
        for element in header.split(',') {
            match element.trim().split_once('=') {
                Some(("t", value)) => timestamp = Some(value),
                Some(("v1", value)) => v1.push(value),
                _ => {}
            }
        }
        Self { timestamp, v1 }
    }

    /// Whether one of the `v1` values is the HMAC of `"{t}.{body}"` under `key`, compared in
    /// constant time (`Mac::verify_slice`). False without a timestamp.
    pub fn matches(&self, key: &[u8], body: &[u8]) -> bool {
        let (Some(timestamp), Ok(mut mac)) = (self.timestamp, Hmac::<Sha256>::new_from_slice(key))
        else {
            return false;
        };
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        self.v1.iter().any(|signature| {
            hex::decode(signature).is_ok_and(|bytes| mac.clone().verify_slice(&bytes).is_ok())
        })
    }

    /// Whether the timestamp is a time within `tolerance_seconds` of `now`, either way.
    pub fn is_fresh(&self, now: DateTime<Utc>, tolerance_seconds: i64) -> bool {
        self.timestamp
            .and_then(|raw| raw.parse::<i64>().ok())
            .and_then(|signed_at| now.timestamp().checked_sub(signed_at))
            .is_some_and(|age| age.unsigned_abs() <= tolerance_seconds.unsigned_abs())
    }
}
