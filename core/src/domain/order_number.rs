//! Order numbers people can read aloud, type into a search box and print on paper:
//! `SO-2026-000123`. The UUID stays the order's id; this is a second, shorter key.
//!
//! The sequential part is unique per shop (one shop = one database) and never restarts; the year
//! is the UTC year the order was placed in, which makes a number easy to place in time without
//! needing a counter per year (a per-year counter would be a row every checkout locks).

use std::fmt;

use chrono::{DateTime, Datelike, Utc};

use super::InvalidValue;

/// The readable number of an order: `SO-{year}-{seq:06}`. More than 999,999 orders simply make
/// the number longer; nothing is ever cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderNumber {
    year: i32,
    seq: i64,
}

const PREFIX: &str = "SO-";

impl OrderNumber {
    /// What [`crate::domain::checkout::build_order`] puts in an order that is not stored yet: the
    /// store issues the real number when it writes the order.
    pub const UNASSIGNED: Self = Self { year: 0, seq: 0 };

    /// The number of the order stored with sequence value `seq` and placed at `placed_at`.
    pub fn new(seq: i64, placed_at: DateTime<Utc>) -> Self {
        Self {
            year: placed_at.year(),
            seq,
        }
    }

    /// The sequential part, as stored in `orders.number`.
    pub const fn seq(self) -> i64 {
        self.seq
    }

    pub const fn year(self) -> i32 {
        self.year
    }

    /// Parses `SO-2026-000123` (any case, surrounding blanks ignored; the sequential part, at
    /// most 18 digits, may be written with or without its leading zeros).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let invalid = || InvalidValue::new("must be an order number such as SO-2026-000123");
        let raw = raw.trim();
        let rest = raw
            .get(..PREFIX.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(PREFIX))
            .and_then(|_| raw.get(PREFIX.len()..))
            .ok_or_else(invalid)?;
        let (year, seq) = rest.split_once('-').ok_or_else(invalid)?;
        let digits = |part: &str, max: usize| {
            !part.is_empty() && part.len() <= max && part.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(year, 4) || year.len() != 4 || !digits(seq, 18) {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let seq: i64 = seq.parse().map_err(|_| invalid())?;
        if seq < 1 {
            return Err(invalid());
        }
        Ok(Self { year, seq })
    }
}

impl fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{:04}-{:06}", self.year, self.seq)
    }
}

impl serde::Serialize for OrderNumber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for OrderNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(year: i32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, 12, 31, 23, 59, 59)
            .single()
            .expect("date")
    }

    #[test]
    fn prints_prefix_year_and_six_digits_at_least() {
        assert_eq!(
            OrderNumber::new(123, at(2026)).to_string(),
            "SO-2026-000123"
        );
        assert_eq!(OrderNumber::new(1, at(2027)).to_string(), "SO-2027-000001");
        assert_eq!(
            OrderNumber::new(12_345_678, at(2026)).to_string(),
            "SO-2026-12345678",
            "never truncated"
        );
    }

    #[test]
    fn parses_what_it_prints_and_lenient_spellings() {
        let number = OrderNumber::new(123, at(2026));
        assert_eq!(OrderNumber::parse("SO-2026-000123"), Ok(number));
        assert_eq!(OrderNumber::parse("  so-2026-123 "), Ok(number));
        assert_eq!(number.seq(), 123);
        assert_eq!(number.year(), 2026);
    }

    #[test]
    fn refuses_anything_else() {
        for raw in [
            "",
            "SO-",
            "SO-2026",
            "SO-2026-",
            "SO-26-000123",
            "SO-2026-000000",
            "SO-2026-0000000000000000123",
            "SO-2026--1",
            "SO-2026-+12",
            "XX-2026-000123",
            "SO-2026-0001234567890123456789",
            "SO-２０２６-000123",
            "019347f2-7a1c-7d2e-9a4b-1c2d3e4f5a6b",
        ] {
            assert!(OrderNumber::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn travels_as_its_text() {
        let number = OrderNumber::new(42, at(2026));
        let json = serde_json::to_string(&number).expect("json");
        assert_eq!(json, "\"SO-2026-000042\"");
        assert_eq!(
            serde_json::from_str::<OrderNumber>(&json).expect("back"),
            number
        );
        assert!(serde_json::from_str::<OrderNumber>("\"nope\"").is_err());
    }
}
