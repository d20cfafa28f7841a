//! What the Midtrans and Stripe adapters share about calling out over HTTP.

use std::time::Duration;

use crate::ports::ProviderError;

/// An HTTP client whose every call, connection included, ends within `timeout`.
pub fn client(provider: &'static str, timeout: Duration) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|error| ProviderError::Unavailable {
            provider,
            message: format!("cannot build the HTTP client: {error}"),
        })
}

/// A transport failure without the request URL's details repeated.
pub fn transport_message(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else {
        format!("the call failed: {error}")
    }
}
