//! The keyless provider of the embedded default: shop-api serves the payment page itself
//! (`/pay/{token}`), and its Pay and Decline buttons post a notification signed like Stripe's
//! (`Sandbox-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">`) to the shop's own
//! webhook, so the whole money path runs with no keys and no network.

use async_trait::async_trait;
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::signature::TimestampedSignature;
use crate::{
    config::PaymentSettings,
    domain::{Currency, Money, OrderId},
    ports::{
        NotificationError, PaymentOutcome, PaymentProvider, PaymentRequest, PaymentSession,
        ProviderError, ProviderEvent, ProviderKind, RawNotification, RefundReceipt, RefundRequest,
    },
};

/// The header the signature travels in.
pub const SIGNATURE_HEADER: &str = "Sandbox-Signature";
/// How far a notification's timestamp may be from its arrival, as Stripe allows.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

const SUCCEEDED: &str = "payment.succeeded";
const FAILED: &str = "payment.failed";

pub struct SandboxProvider {
    secret: SecretString,
    public_url: String,
}

impl std::fmt::Debug for SandboxProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxProvider")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// What the pay page's button says about a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxNotice {
    pub order_id: OrderId,
    /// The session's token (its reference).
    pub token: String,
    pub amount: Money,
    /// Pay (`true`) or Decline.
    pub paid: bool,
}

/// The notification's body.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Body {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    order_id: String,
    token: String,
    amount_minor: i64,
    currency: String,
    created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure_reason: Option<String>,
}

impl SandboxProvider {
    pub fn new(secret: SecretString, public_url: impl Into<String>) -> Self {
        Self {
            secret,
            public_url: public_url.into(),
        }
    }

    pub fn from_settings(settings: &PaymentSettings) -> Self {
        Self::new(settings.sandbox_secret.clone(), settings.public_url.clone())
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(self.secret.expose_secret().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    /// The hex HMAC-SHA256 of `"{timestamp}.{body}"`.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The headers and body the pay page posts to the webhook, signed at `at`.
    pub fn signed_notification(
        &self,
        notice: &SandboxNotice,
        at: DateTime<Utc>,
    ) -> (Vec<(String, String)>, Vec<u8>) {
        let body = Body {
            id: format!("evt_sbx_{}", uuid::Uuid::new_v4().simple()),
            kind: if notice.paid { SUCCEEDED } else { FAILED }.to_owned(),
            order_id: notice.order_id.to_string(),
            token: notice.token.clone(),
            amount_minor: notice.amount.amount_minor(),
            currency: notice.amount.currency().code().to_owned(),
            created: at.timestamp(),
            failure_reason: (!notice.paid).then(|| "declined on the sandbox page".to_owned()),
        };
        // Serialising a struct of strings and integers cannot fail.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let timestamp = at.timestamp();
        let headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (
                SIGNATURE_HEADER.to_ascii_lowercase(),
                format!("t={timestamp},v1={}", self.sign(timestamp, &body)),
            ),
        ];
        (headers, body)
    }

    /// Checks `Sandbox-Signature` against the body, in constant time, and its timestamp against
    /// `now`. Any `v1` value may match (as with Stripe, so keys can be rolled).
    pub fn verify_signature(
        &self,
        header: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), NotificationError> {
        let header = header
            .map(str::trim)
            .filter(|header| !header.is_empty())
            .ok_or(NotificationError::MissingSignature)?;
        let signature = TimestampedSignature::parse(header);
        if !signature.matches(self.secret.expose_secret().as_bytes(), body) {
            return Err(NotificationError::BadSignature);
        }
        if !signature.is_fresh(now, TOLERANCE_SECONDS) {
            return Err(NotificationError::Stale);
        }
        Ok(())
    }
}

fn malformed(what: impl Into<String>) -> NotificationError {
    NotificationError::Malformed(what.into())
}

fn parse_event(body: &[u8]) -> Result<ProviderEvent, NotificationError> {
    let body: Body = serde_json::from_slice(body)
        .map_err(|error| malformed(format!("not a notification: {error}")))?;
    let order_id =
        OrderId::parse(&body.order_id).map_err(|_| malformed("order_id is not an id"))?;
    let currency = Currency::parse(&body.currency)
        .map_err(|error| malformed(format!("currency {}", error.0)))?;
    let amount = Money::price(body.amount_minor, currency)
        .map_err(|error| malformed(format!("amount_minor {}", error.0)))?;
    let occurred_at = DateTime::from_timestamp(body.created, 0)
        .ok_or_else(|| malformed("created is not a time"))?;
    if body.id.is_empty() || body.id.len() > 200 || body.token.is_empty() {
        return Err(malformed("id and token are required"));
    }
    let outcome = match body.kind.as_str() {
        SUCCEEDED => PaymentOutcome::Succeeded,
        FAILED => PaymentOutcome::Failed {
            reason: body
                .failure_reason
                .unwrap_or_else(|| "declined on the sandbox page".to_owned()),
        },
        other => {
            return Err(NotificationError::Ignored(
                other.chars().take(100).collect(),
            ));
        }
    };
    Ok(ProviderEvent {
        provider: ProviderKind::Sandbox,
        event_id: body.id,
        order_id,
        reference: body.token,
        outcome,
        amount,
        occurred_at,
    })
}

#[async_trait]
impl PaymentProvider for SandboxProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Sandbox
    }

    /// Any currency: nothing is really charged.
    fn accepts_currency(&self, _currency: Currency) -> bool {
        true
    }

    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<PaymentSession, ProviderError> {
        // The token is the only thing that opens the pay page: unguessable.
        let mut bytes = [0_u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        Ok(PaymentSession {
            provider: ProviderKind::Sandbox,
            reference: token.clone(),
            redirect_url: format!("{}/pay/{token}", self.public_url),
            token: Some(token),
            expires_at: request.expires_at,
        })
    }

    async fn verify_notification(
        &self,
        notification: RawNotification<'_>,
    ) -> Result<ProviderEvent, NotificationError> {
        self.verify_signature(
            notification.header(SIGNATURE_HEADER),
            notification.body,
            notification.received_at,
        )?;
        parse_event(notification.body)
    }

    /// The sandbox keeps no state: the shop's own records are the truth, so nothing is known here.
    async fn payment_status(&self, _order_id: OrderId) -> Result<PaymentOutcome, ProviderError> {
        Ok(PaymentOutcome::Pending)
    }

    /// Always succeeds; the same refund key gives the same reference, so a retry is no second
    /// refund.
    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, ProviderError> {
        let digest = hex::encode(Sha256::digest(request.refund_key.as_bytes()));
        Ok(RefundReceipt {
            reference: format!("sbx_re_{}", &digest[..24]),
            amount: request.amount,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn provider(secret: &str) -> SandboxProvider {
        SandboxProvider::new(SecretString::from(secret.to_owned()), "http://shop.test")
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).expect("a time")
    }

    fn notice(paid: bool) -> SandboxNotice {
        SandboxNotice {
            order_id: OrderId::new(),
            token: "tok".into(),
            amount: Money::new(2_500, Currency::parse("USD").expect("USD")),
            paid,
        }
    }

    async fn verify(
        sandbox: &SandboxProvider,
        headers: &[(String, String)],
        body: &[u8],
        now: i64,
    ) -> Result<ProviderEvent, NotificationError> {
        sandbox
            .verify_notification(RawNotification {
                headers,
                body,
                received_at: at(now),
            })
            .await
    }

    #[tokio::test]
    async fn a_signed_notification_verifies_and_parses() {
        let sandbox = provider("secret");
        let sent = notice(true);
        let (headers, body) = sandbox.signed_notification(&sent, at(NOW));
        let event = verify(&sandbox, &headers, &body, NOW + 10)
            .await
            .expect("valid");
        assert_eq!(event.order_id, sent.order_id);
        assert_eq!(event.reference, "tok");
        assert_eq!(event.amount, sent.amount);
        assert_eq!(event.outcome, PaymentOutcome::Succeeded);
        assert_eq!(event.occurred_at, at(NOW));
        assert!(event.event_id.starts_with("evt_sbx_"));

        let (headers, body) = sandbox.signed_notification(&notice(false), at(NOW));
        let declined = verify(&sandbox, &headers, &body, NOW).await.expect("valid");
        assert!(matches!(declined.outcome, PaymentOutcome::Failed { .. }));
    }

    #[test]
    fn signatures_are_refused_when_missing_forged_or_stale() {
        let sandbox = provider("secret");
        let body = br#"{"id":"evt"}"#;
        let good = format!("t={NOW},v1={}", sandbox.sign(NOW, body));
        let check = |header: Option<&str>, body: &[u8], now: i64| {
            sandbox.verify_signature(header, body, at(now))
        };
        assert!(check(Some(&good), body, NOW).is_ok());
        assert!(check(Some(&good), body, NOW + TOLERANCE_SECONDS).is_ok());
        assert!(
            check(Some(&good), body, NOW - TOLERANCE_SECONDS).is_ok(),
            "clock skew"
        );
        assert!(matches!(
            check(None, body, NOW),
            Err(NotificationError::MissingSignature)
        ));
        assert!(matches!(
            check(Some("  "), body, NOW),
            Err(NotificationError::MissingSignature)
        ));
        assert!(matches!(
            check(Some(&good), body, NOW + TOLERANCE_SECONDS + 1),
            Err(NotificationError::Stale)
        ));
        assert!(matches!(
            check(Some(&good), body, NOW - TOLERANCE_SECONDS - 1),
            Err(NotificationError::Stale)
        ));
        let forged = [
            // Another body under the same signature.
            (good.clone(), br#"{"id":"evt2"}"#.as_slice()),
            // Signed with another key.
            (
                format!("t={NOW},v1={}", provider("other").sign(NOW, body)),
                body,
            ),
            // The timestamp moved: it is part of what is signed.
            (
                format!("t={},v1={}", NOW + 1, sandbox.sign(NOW, body)),
                body,
            ),
            // No timestamp, no v1, not hex, truncated, garbage.
            (format!("v1={}", sandbox.sign(NOW, body)), body),
            (format!("t={NOW}"), body),
            (format!("t={NOW},v1=zz"), body),
            (
                format!("t={NOW},v1={}", &sandbox.sign(NOW, body)[..32]),
                body,
            ),
            ("garbage".to_owned(), body),
            (format!("t=soon,v1={}", sandbox.sign(NOW, body)), body),
        ];
        for (header, body) in &forged {
            assert!(
                matches!(
                    check(Some(header), body, NOW),
                    Err(NotificationError::BadSignature)
                ),
                "{header}"
            );
        }
        // Several v1 values: one matching is enough (keys being rolled).
        let rolled = format!(
            "t={NOW},v1={},v1={}",
            provider("old").sign(NOW, body),
            sandbox.sign(NOW, body)
        );
        assert!(check(Some(&rolled), body, NOW).is_ok());
    }

    #[tokio::test]
    async fn a_well_signed_body_must_still_make_sense() {
        let sandbox = provider("secret");
        let signed = |body: &str| {
            let header = format!("t={NOW},v1={}", sandbox.sign(NOW, body.as_bytes()));
            (
                vec![(SIGNATURE_HEADER.to_owned(), header)],
                body.as_bytes().to_vec(),
            )
        };
        let order = OrderId::new();
        for body in [
            "not json".to_owned(),
            r#"{"id":"e"}"#.to_owned(),
            format!(
                r#"{{"id":"e","type":"payment.succeeded","order_id":"x","token":"t","amount_minor":1,"currency":"USD","created":{NOW}}}"#
            ),
            format!(
                r#"{{"id":"e","type":"payment.succeeded","order_id":"{order}","token":"t","amount_minor":-1,"currency":"USD","created":{NOW}}}"#
            ),
            format!(
                r#"{{"id":"e","type":"payment.succeeded","order_id":"{order}","token":"t","amount_minor":1,"currency":"usd","created":{NOW}}}"#
            ),
        ] {
            let (headers, body) = signed(&body);
            let result = verify(&sandbox, &headers, &body, NOW).await;
            assert!(
                matches!(result, Err(NotificationError::Malformed(_))),
                "{result:?}"
            );
        }
        let (headers, body) = signed(&format!(
            r#"{{"id":"e","type":"payment.disputed","order_id":"{order}","token":"t","amount_minor":1,"currency":"USD","created":{NOW}}}"#
        ));
        let result = verify(&sandbox, &headers, &body, NOW).await;
        assert!(
            matches!(result, Err(NotificationError::Ignored(kind)) if kind == "payment.disputed")
        );
    }

    #[tokio::test]
    async fn sessions_are_unguessable_pages_and_refunds_idempotent() {
        let sandbox = provider("secret");
        let request = PaymentRequest {
            order_id: OrderId::new(),
            amount: Money::new(100, Currency::parse("IDR").expect("IDR")),
            items: Vec::new(),
            customer: crate::ports::PaymentCustomer {
                email: "ada@example.com".into(),
                name: "Ada".into(),
            },
            expires_at: at(NOW),
            idempotency_key: "k".into(),
            return_url: None,
        };
        let one = sandbox.create_payment(&request).await.expect("created");
        let two = sandbox.create_payment(&request).await.expect("created");
        assert_ne!(one.token, two.token);
        let token = one.token.clone().expect("a token");
        assert!(token.len() >= 32, "{token}");
        assert_eq!(one.redirect_url, format!("http://shop.test/pay/{token}"));
        assert_eq!(one.expires_at, at(NOW));
        let refund = |key: &str| RefundRequest {
            order_id: request.order_id,
            payment_reference: token.clone(),
            amount: request.amount,
            reason: "r".into(),
            refund_key: key.into(),
        };
        let first = sandbox.refund(&refund("a")).await.expect("refund");
        assert_eq!(sandbox.refund(&refund("a")).await.expect("retry"), first);
        assert_ne!(
            sandbox.refund(&refund("b")).await.expect("other").reference,
            first.reference
        );
    }
}
