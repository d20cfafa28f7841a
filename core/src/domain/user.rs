//! Users: customers and administrators.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{InvalidValue, Text, UserId};

/// A syntactically valid e-mail address, lower-cased so that uniqueness ignores case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX_LENGTH: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let candidate = raw.trim().to_lowercase();
        if candidate.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        if candidate.len() > Self::MAX_LENGTH {
            return Err(InvalidValue::new("must be at most 254 characters"));
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            &candidate,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .map_err(|_| InvalidValue::new("must be an e-mail address such as ada@example.com"))?;
        // A bare host such as `ada@localhost` is legal per RFC 5322 but never an address a
        // shop can mail, and accepting it invites typos.
        if !parsed.domain().contains('.') {
            return Err(InvalidValue::new(
                "must be an e-mail address such as ada@example.com",
            ));
        }
        Ok(Self(candidate))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's display name.
pub type PersonName = Text<1, 100>;

/// A plain-text password on its way to being hashed or verified; never printed.
#[derive(Debug, Clone)]
pub struct Password(SecretString);

impl Password {
    pub const MIN_LENGTH: usize = 8;
    pub const MAX_LENGTH: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let length = raw.chars().count();
        if length < Self::MIN_LENGTH {
            return Err(InvalidValue::new("must be at least 8 characters"));
        }
        if length > Self::MAX_LENGTH {
            return Err(InvalidValue::new("must be at most 128 characters"));
        }
        if raw.trim().is_empty() {
            return Err(InvalidValue::new("must not be blank"));
        }
        Ok(Self(SecretString::from(raw.to_owned())))
    }

    /// For hashing and verification only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// An argon2id hash in PHC string format, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string that was produced by the hasher or read back from storage.
    pub fn from_phc(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw.trim() {
            "customer" => Ok(Self::Customer),
            "admin" => Ok(Self::Admin),
            _ => Err(InvalidValue::new("must be one of: customer, admin")),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub full_name: PersonName,
    pub role: Role,
    pub password_hash: PasswordHash,
    pub disabled: bool,
    /// When the account proved it receives mail at `email` (a verification token, or created by
    /// staff); `None` until then, and again after the address changes.
    pub email_verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ada.Lovelace@Example.COM ").map(|e| e.to_string()),
            Ok("ada.lovelace@example.com".to_owned())
        );
    }

    #[test]
    fn refuses_malformed_emails() {
        let too_long = format!("{}@example.com", "a".repeat(250));
        for raw in [
            "",
            "  ",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
            "Ada <ada@example.com>",
            too_long.as_str(),
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn passwords_have_bounded_length_and_never_print() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("        ").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        let password = Password::parse("correct horse").expect("valid");
        assert!(!format!("{password:?}").contains("correct horse"));
        assert!(!format!("{:?}", PasswordHash::from_phc("$argon2id$x".into())).contains("argon"));
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        assert_eq!(Role::parse("admin"), Ok(Role::Admin));
        assert_eq!(Role::parse("customer"), Ok(Role::Customer));
        assert!(Role::parse("root").is_err());
        assert!(Role::parse("Admin").is_err());
    }
}
