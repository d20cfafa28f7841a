//! Payment settings: which provider takes the money, its keys (secrets, never printed), its base
//! URLs (overridable, so tests point them at local fakes), how long an order may wait for its
//! payment, and the shop's public URL for the pages providers send customers to.

use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::{
    ConfigError,
    source::{SettingDefault, Source},
};
use crate::ports::ProviderKind;

/// What `SHOP_PAYMENT_SANDBOX_SECRET` is derived from the JWT secret with, when unset.
const SANDBOX_SECRET_LABEL: &[u8] = b"shop payment sandbox signing key v1";

/// Every payment setting.
#[derive(Clone)]
pub struct PaymentSettings {
    pub provider: ProviderKind,
    /// False when the shop runs on a database of its own (`DATABASE_URL` set) and no provider
    /// was chosen: the sandbox would let customers mark their own orders paid, so it is only
    /// the default on the embedded default. Without a provider the shop runs, but takes no
    /// money online (staff still record offline payments).
    pub enabled: bool,
    /// How long an order may stay `pending_payment` (`SHOP_PAYMENT_TIMEOUT`); payment sessions
    /// expire at the same time, as far as the provider allows.
    pub timeout: Duration,
    /// Where customers reach the shop, without a trailing `/` (`SHOP_PUBLIC_URL`).
    pub public_url: String,
    /// The key of the sandbox's `Sandbox-Signature`.
    pub sandbox_secret: SecretString,
    /// Present when the Midtrans server key is set (required with `provider = midtrans`).
    pub midtrans: Option<MidtransSettings>,
    /// Present when the Stripe keys are set (required with `provider = stripe`).
    pub stripe: Option<StripeSettings>,
}

impl std::fmt::Debug for PaymentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentSettings")
            .field("provider", &self.provider)
            .field("enabled", &self.enabled)
            .field("timeout", &self.timeout)
            .field("public_url", &self.public_url)
            .field("midtrans", &self.midtrans)
            .field("stripe", &self.stripe)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MidtransEnvironment {
    Sandbox,
    Production,
}

impl MidtransEnvironment {
    /// Snap (payment creation) and Core API (status, refunds) base URLs.
    pub const fn base_urls(self) -> (&'static str, &'static str) {
        match self {
            Self::Sandbox => (
                "https://app.sandbox.midtrans.com/snap/v1",
                "https://api.sandbox.midtrans.com/v2",
            ),
            Self::Production => (
                "https://app.midtrans.com/snap/v1",
                "https://api.midtrans.com/v2",
            ),
        }
    }
}

#[derive(Clone)]
pub struct MidtransSettings {
    pub server_key: SecretString,
    pub environment: MidtransEnvironment,
    /// `…/snap/v1`, without a trailing `/`.
    pub snap_url: String,
    /// `…/v2`, without a trailing `/`.
    pub api_url: String,
}

impl std::fmt::Debug for MidtransSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MidtransSettings")
            .field("environment", &self.environment)
            .field("snap_url", &self.snap_url)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct StripeSettings {
    pub secret_key: SecretString,
    /// The endpoint secret (`whsec_…`) webhooks are signed with.
    pub webhook_secret: SecretString,
    /// Without a trailing `/`.
    pub api_url: String,
}

impl std::fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSettings")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl Default for PaymentSettings {
    /// The embedded default: the sandbox, signed with a key of this process only.
    fn default() -> Self {
        Self {
            provider: ProviderKind::Sandbox,
            enabled: true,
            timeout: Duration::from_secs(24 * 60 * 60),
            public_url: "http://localhost:8080".to_owned(),
            sandbox_secret: random_secret(),
            midtrans: None,
            stripe: None,
        }
    }
}

impl PaymentSettings {
    /// `own_database`: `DATABASE_URL` is set (see [`Self::enabled`]).
    pub(crate) fn read(source: &Source, own_database: bool) -> Result<Self, ConfigError> {
        let chosen = source.get(
            "SHOP_PAYMENT_PROVIDER",
            SettingDefault::Described(
                "`sandbox` on the embedded default; none (no online payments) with `DATABASE_URL`",
            ),
        );
        let enabled = chosen.is_some() || !own_database;
        let (raw, origin) =
            chosen.unwrap_or_else(|| ("sandbox".to_owned(), "SHOP_PAYMENT_PROVIDER".to_owned()));
        let provider = ProviderKind::parse(&raw).ok_or_else(|| ConfigError {
            origin,
            message: format!("invalid value {raw:?}: must be sandbox, midtrans or stripe"),
        })?;
        let (raw, origin) = source.string("SHOP_PAYMENT_TIMEOUT", "24h");
        let timeout = parse_duration(&raw)
            .filter(|timeout| (MIN_TIMEOUT..=MAX_TIMEOUT).contains(timeout))
            .ok_or_else(|| ConfigError {
                origin,
                message: format!(
                    "invalid value {raw:?}: must be a duration like 30m, 24h or 2d, \
                     between 5m and 30d"
                ),
            })?;
        let public_url = http_url(source, "SHOP_PUBLIC_URL", "http://localhost:8080")?;
        let sandbox_secret = match source.secret(
            "SHOP_PAYMENT_SANDBOX_SECRET",
            SettingDefault::Described("derived from `SHOP_JWT_SECRET` (else random per process)"),
            32,
        )? {
            Some(secret) => secret,
            // Replicas share the JWT secret, so they derive the same key and accept each
            // other's sandbox notifications; it is read (and checked) with the other settings.
            None => match source.secret("SHOP_JWT_SECRET", SettingDefault::Unset, 32)? {
                Some(jwt) => derive_secret(&jwt),
                None => random_secret(),
            },
        };
        let midtrans = read_midtrans(source, provider)?;
        let stripe = read_stripe(source, provider)?;
        Ok(Self {
            provider,
            enabled,
            timeout,
            public_url,
            sandbox_secret,
            midtrans,
            stripe,
        })
    }
}

const MIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);
const MAX_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 60 * 60);

fn read_midtrans(
    source: &Source,
    provider: ProviderKind,
) -> Result<Option<MidtransSettings>, ConfigError> {
    let server_key = source
        .get(
            "SHOP_MIDTRANS_SERVER_KEY",
            SettingDefault::Described("required with `midtrans`"),
        )
        .map(|(key, _)| SecretString::from(key.trim().to_owned()));
    let (raw, origin) = source.string("SHOP_MIDTRANS_ENVIRONMENT", "sandbox");
    let environment = match raw.trim() {
        "sandbox" => MidtransEnvironment::Sandbox,
        "production" => MidtransEnvironment::Production,
        _ => {
            return Err(ConfigError {
                origin,
                message: format!("invalid value {raw:?}: must be sandbox or production"),
            });
        }
    };
    let (snap_default, api_default) = environment.base_urls();
    let snap_url = optional_http_url(
        source,
        "SHOP_MIDTRANS_SNAP_URL",
        "by `SHOP_MIDTRANS_ENVIRONMENT`",
    )?
    .unwrap_or_else(|| snap_default.to_owned());
    let api_url = optional_http_url(
        source,
        "SHOP_MIDTRANS_API_URL",
        "by `SHOP_MIDTRANS_ENVIRONMENT`",
    )?
    .unwrap_or_else(|| api_default.to_owned());
    match server_key {
        Some(server_key) => Ok(Some(MidtransSettings {
            server_key,
            environment,
            snap_url,
            api_url,
        })),
        None if provider == ProviderKind::Midtrans => Err(required("SHOP_MIDTRANS_SERVER_KEY")),
        None => Ok(None),
    }
}

fn read_stripe(
    source: &Source,
    provider: ProviderKind,
) -> Result<Option<StripeSettings>, ConfigError> {
    let secret = |name| {
        source
            .get(name, SettingDefault::Described("required with `stripe`"))
            .map(|(key, _)| SecretString::from(key.trim().to_owned()))
    };
    let secret_key = secret("SHOP_STRIPE_SECRET_KEY");
    let webhook_secret = secret("SHOP_STRIPE_WEBHOOK_SECRET");
    let api_url = http_url(source, "SHOP_STRIPE_API_URL", "https://api.stripe.com")?;
    match (secret_key, webhook_secret) {
        (Some(secret_key), Some(webhook_secret)) => Ok(Some(StripeSettings {
            secret_key,
            webhook_secret,
            api_url,
        })),
        (None, _) if provider == ProviderKind::Stripe => Err(required("SHOP_STRIPE_SECRET_KEY")),
        (_, None) if provider == ProviderKind::Stripe => {
            Err(required("SHOP_STRIPE_WEBHOOK_SECRET"))
        }
        _ => Ok(None),
    }
}

fn required(name: &str) -> ConfigError {
    ConfigError {
        origin: name.to_owned(),
        message: "must be set for this SHOP_PAYMENT_PROVIDER".to_owned(),
    }
}

fn http_url(
    source: &Source,
    name: &'static str,
    default: &'static str,
) -> Result<String, ConfigError> {
    let (raw, origin) = source.string(name, default);
    check_http_url(&raw, origin)
}

fn optional_http_url(
    source: &Source,
    name: &'static str,
    default: &'static str,
) -> Result<Option<String>, ConfigError> {
    source
        .get(name, SettingDefault::Described(default))
        .map(|(raw, origin)| check_http_url(&raw, origin))
        .transpose()
}

fn check_http_url(raw: &str, origin: String) -> Result<String, ConfigError> {
    let url = raw.trim().trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match host {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(url.to_owned()),
        _ => Err(ConfigError {
            origin,
            message: format!("invalid value {raw:?}: must be an http:// or https:// URL"),
        }),
    }
}

/// `90s`, `30m`, `24h`, `2d` (a bare number is seconds).
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number.parse().ok()?;
    let seconds_per_unit = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => return None,
    };
    number
        .checked_mul(seconds_per_unit)
        .map(Duration::from_secs)
}

fn derive_secret(jwt: &SecretString) -> SecretString {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(jwt.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(SANDBOX_SECRET_LABEL);
    SecretString::from(hex::encode(mac.finalize().into_bytes()))
}

fn random_secret() -> SecretString {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SecretString::from(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn payments(vars: &[(&str, &str)]) -> Result<PaymentSettings, ConfigError> {
        Config::from_vars(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
        .map(|config| config.payments)
    }

    #[test]
    fn defaults_to_the_sandbox_with_a_day_to_pay() {
        let settings = payments(&[]).expect("defaults are valid");
        assert_eq!(settings.provider, ProviderKind::Sandbox);
        assert_eq!(settings.timeout, Duration::from_secs(86_400));
        assert_eq!(settings.public_url, "http://localhost:8080");
        assert!(settings.midtrans.is_none() && settings.stripe.is_none());
        assert!(
            settings.enabled,
            "the embedded default takes sandbox payments"
        );
    }

    #[test]
    fn a_shop_on_its_own_database_takes_no_sandbox_payments_unless_it_says_so() {
        let postgres = ("DATABASE_URL", "postgres://shop@db/shop");
        let implicit = payments(&[postgres]).expect("valid");
        assert!(
            !implicit.enabled,
            "customers could mark their own orders paid"
        );
        let chosen = payments(&[postgres, ("SHOP_PAYMENT_PROVIDER", "sandbox")]).expect("valid");
        assert!(chosen.enabled && chosen.provider == ProviderKind::Sandbox);
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Some(Duration::from_secs(1_800)));
        assert_eq!(parse_duration(" 2d "), Some(Duration::from_secs(172_800)));
        for bad in ["", "h", "1.5h", "-1h", "1w", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        for (value, ok) in [("5m", true), ("4m", false), ("30d", true), ("31d", false)] {
            let result = payments(&[("SHOP_PAYMENT_TIMEOUT", value)]);
            assert_eq!(result.is_ok(), ok, "{value}: {result:?}");
        }
    }

    #[test]
    fn a_provider_without_its_keys_names_the_missing_variable() {
        let error = payments(&[("SHOP_PAYMENT_PROVIDER", "midtrans")]).expect_err("no key");
        assert_eq!(error.origin, "SHOP_MIDTRANS_SERVER_KEY");
        let error = payments(&[("SHOP_PAYMENT_PROVIDER", "stripe")]).expect_err("no key");
        assert_eq!(error.origin, "SHOP_STRIPE_SECRET_KEY");
        let error = payments(&[
            ("SHOP_PAYMENT_PROVIDER", "stripe"),
            ("SHOP_STRIPE_SECRET_KEY", "sk_test_123"),
        ])
        .expect_err("no webhook secret");
        assert_eq!(error.origin, "SHOP_STRIPE_WEBHOOK_SECRET");
        for (name, value) in [
            ("SHOP_PAYMENT_PROVIDER", "paypal"),
            ("SHOP_PAYMENT_TIMEOUT", "soon"),
            ("SHOP_PUBLIC_URL", "shop.example.com"),
            ("SHOP_MIDTRANS_ENVIRONMENT", "staging"),
            ("SHOP_STRIPE_API_URL", "ftp://stripe"),
            ("SHOP_PAYMENT_SANDBOX_SECRET", "short"),
        ] {
            assert_eq!(payments(&[(name, value)]).expect_err(name).origin, name);
        }
    }

    #[test]
    fn midtrans_urls_follow_the_environment_unless_overridden() {
        let key = ("SHOP_MIDTRANS_SERVER_KEY", "SB-Mid-server-secret");
        let provider = ("SHOP_PAYMENT_PROVIDER", "midtrans");
        let sandbox = payments(&[provider, key])
            .expect("valid")
            .midtrans
            .expect("configured");
        assert_eq!(sandbox.snap_url, "https://app.sandbox.midtrans.com/snap/v1");
        assert_eq!(sandbox.api_url, "https://api.sandbox.midtrans.com/v2");
        let production = payments(&[provider, key, ("SHOP_MIDTRANS_ENVIRONMENT", "production")])
            .expect("valid")
            .midtrans
            .expect("configured");
        assert_eq!(production.snap_url, "https://app.midtrans.com/snap/v1");
        assert_eq!(production.api_url, "https://api.midtrans.com/v2");
        let local = payments(&[
            provider,
            key,
            ("SHOP_MIDTRANS_SNAP_URL", "http://127.0.0.1:9999/snap/v1/"),
            ("SHOP_MIDTRANS_API_URL", "http://127.0.0.1:9999/v2"),
        ])
        .expect("valid")
        .midtrans
        .expect("configured");
        assert_eq!(local.snap_url, "http://127.0.0.1:9999/snap/v1");
        assert_eq!(local.api_url, "http://127.0.0.1:9999/v2");
    }

    #[test]
    fn replicas_derive_the_same_sandbox_key_and_keys_never_print() {
        let jwt = ("SHOP_JWT_SECRET", "0123456789abcdef0123456789abcdef-jwt");
        let one = payments(&[jwt]).expect("valid");
        let two = payments(&[jwt]).expect("valid");
        assert_eq!(
            one.sandbox_secret.expose_secret(),
            two.sandbox_secret.expose_secret()
        );
        assert_ne!(one.sandbox_secret.expose_secret(), jwt.1);
        let ephemeral = payments(&[]).expect("valid");
        assert_ne!(
            ephemeral.sandbox_secret.expose_secret(),
            payments(&[]).expect("valid").sandbox_secret.expose_secret()
        );
        let stripe = payments(&[
            ("SHOP_PAYMENT_PROVIDER", "stripe"),
            ("SHOP_STRIPE_SECRET_KEY", "sk_test_top_secret"),
            ("SHOP_STRIPE_WEBHOOK_SECRET", "whsec_top_secret"),
            ("SHOP_MIDTRANS_SERVER_KEY", "SB-Mid-server-top-secret"),
            (
                "SHOP_PAYMENT_SANDBOX_SECRET",
                "sandbox-top-secret-0123456789abcdef",
            ),
        ])
        .expect("valid");
        let printed = format!("{stripe:?}");
        assert!(
            !printed.contains("top_secret") && !printed.contains("top-secret"),
            "{printed}"
        );
    }
}
