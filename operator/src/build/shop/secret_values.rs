//! Keys of generated Secrets: a value already in the cluster is kept byte for byte, only missing
//! keys are generated. Rotating a password by accident would lock the shop out of its own data.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

/// The data of a Secret being built from what exists.
pub(super) struct SecretValues<'a> {
    existing: Option<&'a BTreeMap<String, ByteString>>,
    new_secret: &'a dyn Fn() -> String,
    data: BTreeMap<String, ByteString>,
}

impl<'a> SecretValues<'a> {
    pub(super) fn new(existing: Option<&'a Secret>, new_secret: &'a dyn Fn() -> String) -> Self {
        Self {
            existing: existing.and_then(|secret| secret.data.as_ref()),
            new_secret,
            data: BTreeMap::new(),
        }
    }

    /// The existing value of `key`, unless it is absent or empty (an empty credential is never
    /// what anyone meant).
    fn existing(&self, key: &str) -> Option<Vec<u8>> {
        self.existing
            .and_then(|data| data.get(key))
            .filter(|value| !value.0.is_empty())
            .map(|value| value.0.clone())
    }

    /// Keeps `key` if it exists, otherwise generates it; returns the value.
    pub(super) fn generated(&mut self, key: &str) -> Vec<u8> {
        let value = self
            .existing(key)
            .unwrap_or_else(|| (self.new_secret)().into_bytes());
        self.set(key, value)
    }

    /// Keeps `key` if it exists, otherwise sets `default`; returns the value.
    pub(super) fn kept_or(&mut self, key: &str, default: &str) -> Vec<u8> {
        let value = self
            .existing(key)
            .unwrap_or_else(|| default.as_bytes().to_vec());
        self.set(key, value)
    }

    /// Sets `key` to a value derived from the others (always rebuilt).
    pub(super) fn set(&mut self, key: &str, value: Vec<u8>) -> Vec<u8> {
        self.data.insert(key.to_owned(), ByteString(value.clone()));
        value
    }

    pub(super) fn into_data(self) -> BTreeMap<String, ByteString> {
        self.data
    }
}

/// Percent-encodes the userinfo part of a URL: everything but RFC 3986's unreserved characters.
/// Generated credentials are alphanumeric and pass through unchanged; one a user edited in may not.
pub(super) fn encode_userinfo(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for &byte in raw {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_keeps_unreserved_characters_and_escapes_the_rest() {
        assert_eq!(encode_userinfo(b"Ab9-._~"), "Ab9-._~");
        assert_eq!(encode_userinfo(b"p@ss:w/rd%"), "p%40ss%3Aw%2Frd%25");
        assert_eq!(encode_userinfo("é".as_bytes()), "%C3%A9");
    }
}
