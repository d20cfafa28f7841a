//! Payment providers ([`PaymentProvider`]): the keyless [`sandbox`] of the embedded default,
//! Midtrans Snap and Stripe Checkout. Which one a shop uses is a setting
//! (`SHOP_PAYMENT_PROVIDER`), read once into [`PaymentSettings`].

pub mod amounts;
mod http;
pub mod midtrans;
pub mod sandbox;
mod signature;
pub mod stripe;

use std::{sync::Arc, time::Duration};

use crate::{
    config::{ConfigError, PaymentSettings},
    ports::{PaymentProvider, ProviderKind},
};

/// How long one call to a provider may take, connection included: a webhook or a checkout waits
/// for it, so it is kept well below the request timeout.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The provider the settings choose. Fails (naming the variable) when its keys are missing, which
/// [`Config`](crate::config::Config) already refuses; never falls back to the sandbox, whose
/// page would let anyone mark orders paid.
pub fn provider_from_settings(
    settings: &PaymentSettings,
) -> Result<Arc<dyn PaymentProvider>, ConfigError> {
    let missing = |name: &str| ConfigError {
        origin: name.to_owned(),
        message: "must be set for this SHOP_PAYMENT_PROVIDER".to_owned(),
    };
    let built = |origin: &str| {
        let origin = origin.to_owned();
        move |error: crate::ports::ProviderError| ConfigError {
            origin,
            message: error.to_string(),
        }
    };
    Ok(match settings.provider {
        ProviderKind::Sandbox => Arc::new(sandbox::SandboxProvider::from_settings(settings)),
        ProviderKind::Midtrans => {
            let keys = settings
                .midtrans
                .as_ref()
                .ok_or_else(|| missing("SHOP_MIDTRANS_SERVER_KEY"))?;
            Arc::new(
                midtrans::MidtransProvider::new(midtrans::MidtransOptions {
                    server_key: keys.server_key.clone(),
                    snap_url: keys.snap_url.clone(),
                    api_url: keys.api_url.clone(),
                    timeout: HTTP_TIMEOUT,
                })
                .map_err(built("SHOP_MIDTRANS_SERVER_KEY"))?,
            )
        }
        ProviderKind::Stripe => {
            let keys = settings
                .stripe
                .as_ref()
                .ok_or_else(|| missing("SHOP_STRIPE_SECRET_KEY"))?;
            Arc::new(
                stripe::StripeProvider::new(stripe::StripeOptions {
                    secret_key: keys.secret_key.clone(),
                    webhook_secret: keys.webhook_secret.clone(),
                    api_url: keys.api_url.clone(),
                    timeout: HTTP_TIMEOUT,
                })
                .map_err(built("SHOP_STRIPE_SECRET_KEY"))?,
            )
        }
    })
}
