//! Money in integer minor units of an ISO-4217 currency. No floats anywhere; every operation is
//! checked, so overflow and currency mixing are errors rather than wrong totals.

use std::fmt;

use super::InvalidValue;

/// An ISO-4217 currency that has minor units (so not XAU, XDR and the like).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let code = raw.trim();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(InvalidValue::new(
                "must be a three-letter ISO-4217 code such as USD",
            ));
        }
        match iso_currency::Currency::from_code(code) {
            Some(currency) if currency.exponent().is_some() => Ok(Self(currency)),
            Some(_) => Err(InvalidValue::new(format!(
                "{code} is not a currency for payments"
            ))),
            None => Err(InvalidValue::new(format!(
                "{code} is not an ISO-4217 currency"
            ))),
        }
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits after the decimal point: 2 for USD, 0 for JPY, 3 for KWD.
    pub fn exponent(self) -> u32 {
        self.0.exponent().map_or(0, u32::from)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine amounts in {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount is too large")]
    Overflow,
}

/// An amount in minor units (cents for USD) of one currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Money {
    amount_minor: i64,
    currency: Currency,
}

impl Money {
    /// Largest amount accepted from outside: keeps every total of up to 1000 lines of 1000 units
    /// far from `i64` overflow while allowing any realistic price.
    pub const MAX_PRICE_MINOR: i64 = 1_000_000_000_000;

    pub const fn new(amount_minor: i64, currency: Currency) -> Self {
        Self {
            amount_minor,
            currency,
        }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// A price: zero or more, at most [`Self::MAX_PRICE_MINOR`].
    pub fn price(amount_minor: i64, currency: Currency) -> Result<Self, InvalidValue> {
        if amount_minor < 0 {
            return Err(InvalidValue::new("must not be negative"));
        }
        if amount_minor > Self::MAX_PRICE_MINOR {
            return Err(InvalidValue::new("is too large"));
        }
        Ok(Self::new(amount_minor, currency))
    }

    pub const fn amount_minor(self) -> i64 {
        self.amount_minor
    }

    pub const fn currency(self) -> Currency {
        self.currency
    }

    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let sum = self
            .amount_minor
            .checked_add(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self::new(sum, self.currency))
    }

    pub fn checked_mul(self, factor: i64) -> Result<Self, MoneyError> {
        let product = self
            .amount_minor
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Self::new(product, self.currency))
    }

    /// This amount's share at `rate`, rounded half up to the minor unit.
    pub fn share(self, rate: TaxRate) -> Result<Self, MoneyError> {
        let scaled = i128::from(self.amount_minor) * i128::from(rate.basis_points());
        let rounded = (scaled + 5_000).div_euclid(10_000);
        let amount = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Self::new(amount, self.currency))
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `12.34 USD`, `1234 JPY`: the decimal form people read, computed without floats.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent();
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let magnitude = self.amount_minor.unsigned_abs();
        if exponent == 0 {
            return write!(f, "{sign}{magnitude} {}", self.currency);
        }
        let divisor = 10u64.pow(exponent);
        let (units, minor) = (magnitude / divisor, magnitude % divisor);
        let width = exponent as usize;
        write!(f, "{sign}{units}.{minor:0width$} {}", self.currency)
    }
}

/// A tax rate in basis points (1/100 of a percent): 0..=10000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaxRate(u16);

impl TaxRate {
    pub fn from_basis_points(basis_points: u32) -> Result<Self, InvalidValue> {
        u16::try_from(basis_points)
            .ok()
            .filter(|bp| *bp <= 10_000)
            .map(Self)
            .ok_or_else(|| InvalidValue::new("must be between 0 and 10000 basis points"))
    }

    pub const fn basis_points(self) -> u16 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").expect("USD is a currency")
    }

    #[test]
    fn parses_known_currencies_and_knows_their_exponents() {
        assert_eq!(Currency::parse("USD").map(Currency::exponent), Ok(2));
        assert_eq!(Currency::parse("JPY").map(Currency::exponent), Ok(0));
        assert_eq!(Currency::parse("KWD").map(Currency::exponent), Ok(3));
    }

    #[test]
    fn refuses_unknown_malformed_and_unit_less_currencies() {
        for raw in ["", "usd", "US", "USDD", "ZZZ", "XAU", "12$"] {
            assert!(Currency::parse(raw).is_err(), "{raw:?} was accepted");
        }
    }

    #[test]
    fn prices_are_never_negative_or_absurd() {
        assert!(Money::price(-1, usd()).is_err());
        assert!(Money::price(Money::MAX_PRICE_MINOR + 1, usd()).is_err());
        assert_eq!(Money::price(0, usd()).map(Money::amount_minor), Ok(0));
    }

    #[test]
    fn arithmetic_is_checked() {
        let big = Money::new(i64::MAX, usd());
        assert_eq!(
            big.checked_add(Money::new(1, usd())),
            Err(MoneyError::Overflow)
        );
        assert_eq!(big.checked_mul(2), Err(MoneyError::Overflow));
        let eur = Currency::parse("EUR").expect("EUR");
        assert_eq!(
            Money::new(1, usd()).checked_add(Money::new(1, eur)),
            Err(MoneyError::CurrencyMismatch(usd(), eur))
        );
        assert_eq!(
            Money::new(250, usd()).checked_mul(3),
            Ok(Money::new(750, usd()))
        );
    }

    #[test]
    fn tax_share_rounds_half_up() {
        let rate = TaxRate::from_basis_points(1_000).expect("10%");
        assert_eq!(
            Money::new(1_005, usd()).share(rate),
            Ok(Money::new(101, usd()))
        );
        assert_eq!(
            Money::new(1_004, usd()).share(rate),
            Ok(Money::new(100, usd()))
        );
        assert!(TaxRate::from_basis_points(10_001).is_err());
    }

    #[test]
    fn displays_decimal_amounts_without_floats() {
        assert_eq!(Money::new(123_456, usd()).to_string(), "1234.56 USD");
        assert_eq!(Money::new(5, usd()).to_string(), "0.05 USD");
        assert_eq!(Money::new(-5, usd()).to_string(), "-0.05 USD");
        let jpy = Currency::parse("JPY").expect("JPY");
        assert_eq!(Money::new(1_500, jpy).to_string(), "1500 JPY");
    }
}
