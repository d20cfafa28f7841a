//! Push and SMS through webhooks: each stored notification is POSTed as JSON to every endpoint in
//! `SHOP_NOTIFY_WEBHOOK_URLS` (comma-separated http(s) URLs), with
//!
//! - `X-Shop-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with SHOP_NOTIFY_WEBHOOK_SECRET>`
//! - `X-Shop-Event-Id: <the event's id>` (receivers may deduplicate on it).
//!
//! A 2xx answer is a success, recorded in `webhook_deliveries` per (event, URL); anything else is
//! tried again in-process with backoff, [`ATTEMPTS`] times in all, then the handler answers
//! `Retry` and the queue redelivers the event later. A redelivered event POSTs only to the URLs
//! that have not succeeded yet.

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;
use shop_core::{
    app::WorkerData,
    config::{NotificationSettings, redact_url},
};

use super::{Notification, WEBHOOK_TIMEOUT, database};
use crate::handler::HandlerError;

/// Attempts per endpoint within one handling of an event.
pub const ATTEMPTS: u32 = 3;
/// The first in-process retry's delay, doubled for the next.
pub const RETRY_BASE: Duration = Duration::from_millis(200);

pub const URLS_VARIABLE: &str = "SHOP_NOTIFY_WEBHOOK_URLS";
pub const SECRET_VARIABLE: &str = "SHOP_NOTIFY_WEBHOOK_SECRET";

/// The webhook endpoints and how to call them.
#[derive(Clone)]
pub struct Webhooks {
    urls: Vec<reqwest::Url>,
    secret: SecretString,
    client: reqwest::Client,
    retry_base: Duration,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<String> = self
            .urls
            .iter()
            .map(|url| redact_url(url.as_str()))
            .collect();
        f.debug_struct("Webhooks")
            .field("urls", &urls)
            .field("retry_base", &self.retry_base)
            .finish_non_exhaustive()
    }
}

/// `sha256=<hex HMAC-SHA256 of body keyed with secret>`, the `X-Shop-Signature` header.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Webhooks {
    /// No endpoints: notifications stay in-app.
    pub fn none() -> Self {
        Self::new(Vec::new(), SecretString::from(String::new()))
    }

    pub fn new(urls: Vec<reqwest::Url>, secret: SecretString) -> Self {
        let client = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .user_agent(concat!("shop-workers/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            urls,
            secret,
            client,
            retry_base: RETRY_BASE,
        }
    }

    /// The first in-process retry's delay (tests make it short).
    #[must_use]
    pub fn retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    /// From the typed settings ([`URLS_VARIABLE`], and [`SECRET_VARIABLE`], required when there
    /// are URLs); the URLs are checked here.
    pub fn from_settings(settings: &NotificationSettings) -> anyhow::Result<Self> {
        let secret = settings
            .webhook_secret
            .as_ref()
            .map(|secret| secret.expose_secret().to_owned())
            .unwrap_or_default();
        Self::parse(&settings.webhook_urls.join(","), secret)
    }

    /// `urls` as in [`URLS_VARIABLE`]: comma-separated http(s) URLs, blanks ignored.
    pub fn parse(urls: &str, secret: String) -> anyhow::Result<Self> {
        let mut parsed = Vec::new();
        for raw in urls.split(',').map(str::trim).filter(|raw| !raw.is_empty()) {
            let url = reqwest::Url::parse(raw)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
            let Some(url) = url else {
                anyhow::bail!("{URLS_VARIABLE}: {} is not an http(s) URL", redact_url(raw));
            };
            parsed.push(url);
        }
        if !parsed.is_empty() && secret.is_empty() {
            anyhow::bail!("{SECRET_VARIABLE}: must be set when {URLS_VARIABLE} is");
        }
        Ok(Self::new(parsed, SecretString::from(secret)))
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// POSTs `notification` to every endpoint that has not received `event_id`'s yet; `Retry`
    /// when one still fails after [`ATTEMPTS`].
    pub async fn deliver(
        &self,
        data: &WorkerData,
        event_id: &str,
        notification: &Notification,
    ) -> Result<(), HandlerError> {
        if self.urls.is_empty() {
            return Ok(());
        }
        let done = data.delivered_webhooks(event_id).await.map_err(database)?;
        let body = serde_json::to_vec(notification).map_err(|error| {
            HandlerError::Reject(anyhow::Error::new(error).context("serialise the notification"))
        })?;
        let signature = signature(self.secret.expose_secret().as_bytes(), &body);
        let mut failed = Vec::new();
        for url in self
            .urls
            .iter()
            .filter(|url| !done.contains(&url.to_string()))
        {
            match self.post(url, event_id, &body, &signature).await {
                Ok(()) => data
                    .record_webhook_delivery(event_id, url.as_str(), chrono::Utc::now())
                    .await
                    .map_err(database)?,
                Err(error) => failed.push(format!("{}: {error}", redact_url(url.as_str()))),
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(HandlerError::Retry(anyhow::anyhow!(
                "webhook delivery failed: {}",
                failed.join("; ")
            )))
        }
    }

    /// One endpoint, up to [`ATTEMPTS`] times.
    async fn post(
        &self,
        url: &reqwest::Url,
        event_id: &str,
        body: &[u8],
        signature: &str,
    ) -> Result<(), String> {
        let mut attempt = 0_u32;
        loop {
            attempt += 1;
            let sent = self
                .client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("X-Shop-Signature", signature)
                .header("X-Shop-Event-Id", event_id)
                .body(body.to_vec())
                .send()
                .await;
            let error = match sent {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => format!("answered {}", response.status()),
                Err(error) => format!("{}", error.without_url()),
            };
            if attempt >= ATTEMPTS {
                return Err(format!("{error} ({attempt} attempts)"));
            }
            let delay = crate::runtime::backoff(
                self.retry_base,
                attempt - 1,
                crate::runtime::MAX_RETRY_DELAY,
            );
            tracing::debug!(url = %redact_url(url.as_str()), attempt, %error, "webhook failed; trying again");
            tokio::time::sleep(delay).await;
        }
    }
}
