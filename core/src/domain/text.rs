//! Bounded, trimmed text and the error every value-object constructor returns.

use std::fmt;

/// Why a raw value was refused. The message is meant for the person who typed the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl InvalidValue {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Trimmed text whose length (in characters) lies in `MIN..=MAX` and holds no control characters
/// (line breaks are allowed where `MULTILINE` is set).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Text<const MIN: usize, const MAX: usize, const MULTILINE: bool = false>(String);

impl<const MIN: usize, const MAX: usize, const MULTILINE: bool> Text<MIN, MAX, MULTILINE> {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let trimmed = raw.trim();
        let length = trimmed.chars().count();
        if length < MIN {
            return Err(if MIN == 1 {
                InvalidValue::new("must not be empty")
            } else {
                InvalidValue::new(format!("must be at least {MIN} characters"))
            });
        }
        if length > MAX {
            return Err(InvalidValue::new(format!(
                "must be at most {MAX} characters"
            )));
        }
        let allowed = |c: char| !c.is_control() || (MULTILINE && matches!(c, '\n' | '\r' | '\t'));
        if !trimmed.chars().all(allowed) {
            return Err(InvalidValue::new("must not contain control characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MIN: usize, const MAX: usize, const MULTILINE: bool> fmt::Debug
    for Text<MIN, MAX, MULTILINE>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<const MIN: usize, const MAX: usize, const MULTILINE: bool> fmt::Display
    for Text<MIN, MAX, MULTILINE>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MIN: usize, const MAX: usize, const MULTILINE: bool> AsRef<str>
    for Text<MIN, MAX, MULTILINE>
{
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Name = Text<1, 5>;
    type Notes = Text<0, 10, true>;

    #[test]
    fn trims_and_keeps_inner_text() {
        assert_eq!(
            Name::parse("  ab c ").map(|t| t.to_string()),
            Ok("ab c".to_owned())
        );
    }

    #[test]
    fn refuses_empty_blank_and_too_long() {
        assert_eq!(
            Name::parse("   ").expect_err("refused").0,
            "must not be empty"
        );
        assert_eq!(
            Name::parse("abcdef").expect_err("refused").0,
            "must be at most 5 characters"
        );
        assert_eq!(
            Text::<3, 5>::parse("ab").expect_err("refused").0,
            "must be at least 3 characters"
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(Name::parse("ééééé").is_ok());
    }

    #[test]
    fn refuses_control_characters_unless_multiline() {
        assert!(Name::parse("a\u{0}b").is_err());
        assert!(Name::parse("a\nb").is_err());
        assert!(Notes::parse("a\nb").is_ok());
        assert!(Notes::parse("a\u{7}b").is_err());
        assert!(Notes::parse("").is_ok());
    }
}
