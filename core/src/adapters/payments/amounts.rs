//! Exact conversions between our amounts (minor units with the ISO 4217 exponent of the
//! currency, see `domain::money`) and what a provider's API counts in. Nothing here rounds: an
//! amount a provider cannot express exactly is refused, because a rounded payment is a wrong
//! payment.

use crate::domain::{Currency, Money};

/// `amount` counted with `from` decimals, counted with `to` decimals; `None` when it does not
/// convert exactly (a fraction would be lost) or overflows.
pub fn rescale(amount: i64, from: u32, to: u32) -> Option<i64> {
    if to >= from {
        amount.checked_mul(10i64.checked_pow(to - from)?)
    } else {
        let divisor = 10i64.checked_pow(from - to)?;
        (amount % divisor == 0).then_some(amount / divisor)
    }
}

/// Reads a decimal amount as a provider spells it (`"24145.00"`, `"24145"`) into `currency`'s
/// minor units, exactly: more fractional digits than the currency has are accepted only when
/// they are zeros. No sign, no exponent, no separators.
pub fn parse_decimal(raw: &str, currency: Currency) -> Option<Money> {
    let (units, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if units.is_empty() || !all_digits(units) || !all_digits(fraction) {
        return None;
    }
    let exponent = currency.exponent() as usize;
    let (kept, dropped) = fraction.split_at(fraction.len().min(exponent));
    if dropped.bytes().any(|b| b != b'0') {
        return None;
    }
    let padded = format!("{units}{kept:0<exponent$}");
    padded
        .parse::<i64>()
        .ok()
        .map(|minor| Money::new(minor, currency))
}

/// Midtrans counts whole rupiah (`gross_amount`, `price`: "Total transaction amount in IDR.
/// Note: Do not add decimal." — Snap API reference, Transaction Details Object). Our IDR has the
/// ISO exponent 2, so 24 145 rupiah are 2 414 500 here; a sen fraction is refused.
pub fn to_rupiah(amount: Money) -> Option<i64> {
    (amount.currency().code() == "IDR")
        .then(|| rescale(amount.amount_minor(), amount.currency().exponent(), 0))
        .flatten()
}

/// Stripe's zero-decimal currencies (docs.stripe.com/currencies#zero-decimal): `unit_amount`
/// is the whole amount (¥500 is `500`).
const STRIPE_ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

/// Stripe's three-decimal currencies (docs.stripe.com/currencies#three-decimal): amounts are in
/// thousandths but must end in 0.
const STRIPE_THREE_DECIMAL: &[&str] = &["BHD", "JOD", "KWD", "OMR", "TND"];

/// Currencies Stripe charges as two-decimal but only in whole units (amount divisible by 100):
/// ISK ("Currency ISK has become effectively zero-decimal and charged amounts must be evenly
/// divisible by 100", docs.stripe.com/currencies#special-cases). ISO gives ISK exponent 0, so
/// our amounts always convert.
const STRIPE_WHOLE_UNITS_ONLY: &[&str] = &["ISK"];

/// Stripe's presentment currencies (docs.stripe.com/currencies#presentment-currencies), as the
/// page lists them; an ISO currency not here (IRR, KPW, CUP, SYP…) is refused before any call.
const STRIPE_PRESENTMENT: &[&str] = &[
    "USD", "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD",
    "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL",
    "HTG", "HUF", "IDR", "ILS", "INR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF",
    "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
    "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "STD", "SZL",
    "THB", "TJS", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "UYU", "UZS", "VND",
    "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW",
];

/// How many decimals Stripe's API counts `currency` in, or `None` when Stripe cannot take it.
pub fn stripe_exponent(currency: Currency) -> Option<u32> {
    let code = currency.code();
    if !STRIPE_PRESENTMENT.contains(&code) {
        None
    } else if STRIPE_ZERO_DECIMAL.contains(&code) {
        Some(0)
    } else if STRIPE_THREE_DECIMAL.contains(&code) {
        Some(3)
    } else {
        Some(2)
    }
}

/// Our amount as Stripe's integer `amount`/`unit_amount`, exactly, honouring Stripe's rules:
/// three-decimal amounts end in 0, whole-unit-only currencies are multiples of 100. `None`
/// when Stripe cannot take the currency or the amount.
pub fn to_stripe(amount: Money) -> Option<i64> {
    let currency = amount.currency();
    let stripe = rescale(
        amount.amount_minor(),
        currency.exponent(),
        stripe_exponent(currency)?,
    )?;
    let code = currency.code();
    let step = if STRIPE_THREE_DECIMAL.contains(&code) {
        10
    } else if STRIPE_WHOLE_UNITS_ONLY.contains(&code) {
        100
    } else {
        1
    };
    (stripe % step == 0).then_some(stripe)
}

/// A Stripe amount with its (lower-case) currency back in our minor units, exactly.
pub fn from_stripe(amount: i64, currency: &str) -> Option<Money> {
    let currency = Currency::parse(&currency.to_ascii_uppercase()).ok()?;
    let minor = rescale(amount, stripe_exponent(currency)?, currency.exponent())?;
    Some(Money::new(minor, currency))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(minor: i64, code: &str) -> Money {
        Money::new(minor, Currency::parse(code).expect("a currency"))
    }

    #[test]
    fn rupiah_are_whole_and_never_rounded() {
        assert_eq!(to_rupiah(money(2_414_500, "IDR")), Some(24_145));
        assert_eq!(to_rupiah(money(2_414_550, "IDR")), None, "50 sen dropped");
        assert_eq!(to_rupiah(money(100, "USD")), None, "not IDR");
        assert_eq!(
            parse_decimal("24145.00", Currency::parse("IDR").expect("IDR")),
            Some(money(2_414_500, "IDR"))
        );
        assert_eq!(
            parse_decimal("24145", Currency::parse("IDR").expect("IDR")),
            Some(money(2_414_500, "IDR"))
        );
    }

    #[test]
    fn decimals_are_read_exactly_or_refused() {
        let usd = Currency::parse("USD").expect("USD");
        assert_eq!(parse_decimal("12.3", usd), Some(money(1_230, "USD")));
        assert_eq!(parse_decimal("12.300", usd), Some(money(1_230, "USD")));
        assert_eq!(parse_decimal("12.301", usd), None);
        for bad in ["", ".5", "-1.00", "1e3", "1,000.00", "12.3.4", " 1"] {
            assert_eq!(parse_decimal(bad, usd), None, "{bad:?} was read");
        }
        assert_eq!(parse_decimal("99999999999999999999", usd), None, "overflow");
    }

    #[test]
    fn stripe_two_decimal_currencies_pass_through() {
        assert_eq!(to_stripe(money(1_999, "USD")), Some(1_999));
        assert_eq!(from_stripe(1_999, "usd"), Some(money(1_999, "USD")));
        assert_eq!(to_stripe(money(2_414_500, "IDR")), Some(2_414_500));
    }

    #[test]
    fn stripe_zero_decimal_currencies_are_whole_amounts() {
        assert_eq!(to_stripe(money(500, "JPY")), Some(500));
        assert_eq!(from_stripe(500, "jpy"), Some(money(500, "JPY")));
        // MGA has two ISO decimals but Stripe counts whole ariary.
        assert_eq!(to_stripe(money(12_300, "MGA")), Some(123));
        assert_eq!(to_stripe(money(12_345, "MGA")), None);
        assert_eq!(from_stripe(123, "mga"), Some(money(12_300, "MGA")));
    }

    #[test]
    fn stripe_three_decimal_amounts_end_in_zero() {
        assert_eq!(to_stripe(money(1_230, "KWD")), Some(1_230));
        assert_eq!(to_stripe(money(1_235, "KWD")), None);
        assert_eq!(from_stripe(1_230, "kwd"), Some(money(1_230, "KWD")));
    }

    #[test]
    fn stripe_counts_isk_in_hundredths_of_whole_kronur() {
        assert_eq!(to_stripe(money(5, "ISK")), Some(500));
        assert_eq!(from_stripe(500, "isk"), Some(money(5, "ISK")));
        assert_eq!(from_stripe(550, "isk"), None);
    }

    #[test]
    fn stripe_refuses_currencies_it_cannot_present() {
        let irr = Currency::parse("IRR").expect("IRR");
        assert_eq!(stripe_exponent(irr), None);
        assert_eq!(to_stripe(money(100, "IRR")), None);
        assert_eq!(from_stripe(100, "zzz"), None);
    }
}
