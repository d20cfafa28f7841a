//! The catalog: categories (a tree) and products.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{CategoryId, InvalidValue, Money, ProductId, Text};

/// Stock keeping unit: upper-case letters, digits, `-`, `_` and `.`; unique across the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let sku = raw.trim().to_ascii_uppercase();
        if sku.is_empty() || sku.len() > 64 {
            return Err(InvalidValue::new("must be 1 to 64 characters"));
        }
        if !sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(InvalidValue::new(
                "may contain only letters, digits, '-', '_' and '.'",
            ));
        }
        Ok(Self(sku))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// URL-safe name: lower-case ASCII letters and digits in groups joined by single hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub const MAX_LENGTH: usize = 120;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let slug = raw.trim();
        let well_formed = !slug.is_empty()
            && slug.split('-').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
        if !well_formed {
            return Err(InvalidValue::new(
                "must be lower-case letters and digits joined by single hyphens, like blue-mug-2",
            ));
        }
        if slug.len() > Self::MAX_LENGTH {
            return Err(InvalidValue::new("must be at most 120 characters"));
        }
        Ok(Self(slug.to_owned()))
    }

    /// Derives a slug from a display name: "Blue Mug (Large)" → "blue-mug-large".
    pub fn from_name(name: &str) -> Result<Self, InvalidValue> {
        let mut slug = String::with_capacity(name.len());
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        let slug = truncate_at_hyphen(slug, Self::MAX_LENGTH);
        Self::parse(slug).map_err(|_| {
            InvalidValue::new("cannot be derived from this name; give a slug explicitly")
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn truncate_at_hyphen(slug: &str, max: usize) -> &str {
    if slug.len() <= max {
        return slug;
    }
    let cut = &slug[..max];
    cut.rfind('-').map_or(cut, |at| &cut[..at])
}

pub type CategoryName = Text<1, 100>;
pub type ProductName = Text<1, 200>;
pub type Description = Text<0, 10_000, true>;

/// Units on hand: never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Stock(i64);

impl Stock {
    pub const MAX: i64 = 1_000_000_000;

    pub fn new(units: i64) -> Result<Self, InvalidValue> {
        if units < 0 {
            return Err(InvalidValue::new("must not be negative"));
        }
        if units > Self::MAX {
            return Err(InvalidValue::new("must be at most 1000000000"));
        }
        Ok(Self(units))
    }

    pub const fn units(self) -> i64 {
        self.0
    }

    /// Stock after adding `delta` (negative to remove), refused if it would go below zero.
    pub fn adjusted(self, delta: i64) -> Result<Self, InvalidValue> {
        let units = self
            .0
            .checked_add(delta)
            .ok_or_else(|| InvalidValue::new("is too large"))?;
        if units < 0 {
            return Err(InvalidValue::new(format!(
                "cannot remove {} units: only {} in stock",
                delta.unsigned_abs(),
                self.0
            )));
        }
        Self::new(units)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: CategoryId,
    pub name: CategoryName,
    pub slug: Slug,
    pub parent_id: Option<CategoryId>,
    pub description: Description,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Whether making `parent` the parent of `category` would close a loop in the tree, given every
/// category's current parent.
pub fn creates_cycle(
    parents: &HashMap<CategoryId, Option<CategoryId>>,
    category: CategoryId,
    parent: CategoryId,
) -> bool {
    let mut current = Some(parent);
    // The walk is bounded by the number of categories, so a loop already in storage cannot hang it.
    for _ in 0..=parents.len() {
        match current {
            None => return false,
            Some(id) if id == category => return true,
            Some(id) => current = parents.get(&id).copied().flatten(),
        }
    }
    true
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: ProductId,
    pub sku: Sku,
    pub name: ProductName,
    pub slug: Slug,
    pub description: Description,
    pub price: Money,
    pub stock: Stock,
    pub active: bool,
    pub category_id: Option<CategoryId>,
    /// For shipping by weight; 0 when not given.
    pub weight_grams: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_normalised_and_restricted() {
        assert_eq!(
            Sku::parse(" mug-01 ").map(|s| s.as_str().to_owned()),
            Ok("MUG-01".into())
        );
        for raw in ["", "has space", "semi;colon", &"A".repeat(65)] {
            assert!(Sku::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn slugs_are_well_formed() {
        assert!(Slug::parse("blue-mug-2").is_ok());
        for raw in ["", "Blue", "blue--mug", "-blue", "blue-", "blue mug", "blü"] {
            assert!(Slug::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn slugs_derive_from_names() {
        let derive = |name: &str| Slug::from_name(name).map(|s| s.as_str().to_owned());
        assert_eq!(derive("Blue Mug (Large)"), Ok("blue-mug-large".into()));
        assert_eq!(derive("  --Tea & Coffee--  "), Ok("tea-coffee".into()));
        assert!(derive("日本").is_err());
        let long = derive(&"word ".repeat(50)).expect("derivable");
        assert!(long.len() <= Slug::MAX_LENGTH && !long.ends_with('-'));
    }

    #[test]
    fn stock_never_goes_negative() {
        let stock = Stock::new(3).expect("valid");
        assert_eq!(stock.adjusted(-3).map(Stock::units), Ok(0));
        assert!(stock.adjusted(-4).is_err());
        assert!(stock.adjusted(i64::MAX).is_err());
        assert!(Stock::new(-1).is_err());
    }

    #[test]
    fn detects_category_cycles() {
        let (a, b, c) = (CategoryId::new(), CategoryId::new(), CategoryId::new());
        let parents = HashMap::from([(a, None), (b, Some(a)), (c, Some(b))]);
        assert!(creates_cycle(&parents, a, c), "a under its grandchild");
        assert!(creates_cycle(&parents, a, a), "a under itself");
        assert!(!creates_cycle(&parents, c, a), "moving c up is fine");
    }
}
