//! Postal addresses kept in a user's address book, and the snapshot an order keeps of one.

use chrono::{DateTime, Utc};

use super::{AddressId, InvalidValue, PersonName, Text, UserId};

/// ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct CountryCode(String);

impl CountryCode {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code))
        } else {
            Err(InvalidValue::new(
                "must be a two-letter ISO 3166-1 country code such as DE",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub type AddressLine = Text<1, 200>;
pub type OptionalLine = Text<0, 200>;
pub type City = Text<1, 100>;
pub type Region = Text<0, 100>;
pub type PostalCode = Text<1, 20>;
pub type Phone = Text<0, 30>;

/// The parts of an address a user edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressFields {
    pub recipient: PersonName,
    pub line1: AddressLine,
    pub line2: OptionalLine,
    pub city: City,
    pub region: Region,
    pub postal_code: PostalCode,
    pub country: CountryCode,
    pub phone: Phone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub id: AddressId,
    pub user_id: UserId,
    pub fields: AddressFields,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
}

/// An address as it was when an order was placed; later edits to the address book don't change it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AddressSnapshot {
    pub recipient: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
    pub phone: String,
}

impl From<&AddressFields> for AddressSnapshot {
    fn from(fields: &AddressFields) -> Self {
        Self {
            recipient: fields.recipient.to_string(),
            line1: fields.line1.to_string(),
            line2: fields.line2.to_string(),
            city: fields.city.to_string(),
            region: fields.region.to_string(),
            postal_code: fields.postal_code.to_string(),
            country: fields.country.as_str().to_owned(),
            phone: fields.phone.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_two_letters() {
        assert_eq!(
            CountryCode::parse(" de ").map(|c| c.as_str().to_owned()),
            Ok("DE".into())
        );
        for raw in ["", "D", "DEU", "1A", "d-"] {
            assert!(CountryCode::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn postal_codes_and_lines_are_bounded() {
        assert!(PostalCode::parse("").is_err());
        assert!(PostalCode::parse(&"9".repeat(21)).is_err());
        assert!(AddressLine::parse("  ").is_err());
        assert!(OptionalLine::parse("").is_ok());
    }
}
