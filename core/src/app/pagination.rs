//! Keyset pagination: a page of results and an opaque cursor that says where the next page starts.
//!
//! Cursors are base64url-encoded JSON of the last row's sort key. They are not secret (they hold
//! only what the client already saw) but they are validated: a cursor that does not decode, or
//! was made for another listing, is a validation error, never a server error.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};

use super::{AppError, AppResult};

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass back as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only tells that more exist.
    pub(crate) fn from_rows<K: Serialize>(
        mut rows: Vec<T>,
        limit: u32,
        key_of: impl Fn(&T) -> K,
    ) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if has_more {
            rows.last().map(|last| encode(&key_of(last)))
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// The page size asked for, defaulted and bounded.
pub(crate) fn page_size(requested: Option<u32>) -> AppResult<u32> {
    match requested {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(size @ 1..=MAX_PAGE_SIZE) => Ok(size),
        Some(_) => Err(AppError::validation("limit", "must be between 1 and 100")),
    }
}

pub(crate) fn encode<K: Serialize>(key: &K) -> String {
    // Serializing plain data (ids, numbers, strings) into JSON cannot fail.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

pub(crate) fn decode<K: DeserializeOwned>(cursor: Option<&str>) -> AppResult<Option<K>> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let invalid = || AppError::validation("cursor", "is not a cursor this listing returned");
    if cursor.len() > 1_024 {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_extra_row_means_another_page() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(
            decode::<i32>(page.next_cursor.as_deref()).ok().flatten(),
            Some(2)
        );
        assert_eq!(Page::from_rows(vec![1, 2], 2, |n| *n).next_cursor, None);
    }

    #[test]
    fn garbage_cursors_are_validation_errors() {
        for cursor in ["", "!!!", "bm90LWpzb24", &"A".repeat(2_000)] {
            let result = decode::<(i64, String)>(Some(cursor));
            assert!(matches!(result, Err(AppError::Validation(_))), "{cursor:?}");
        }
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(None).ok(), Some(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(Some(100)).ok(), Some(100));
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(101)).is_err());
    }
}
