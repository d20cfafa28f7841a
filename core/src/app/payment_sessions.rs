//! Starting a payment: the customer asks to pay a pending order and gets where to pay (a
//! provider's page and/or a token for its widget). One live session per order: asking again
//! answers the same one, never a second charge. The sandbox's own pay page is served from here.

use chrono::{DateTime, Timelike as _, Utc};

use super::{Actor, AppError, AppResult, Shop};
use crate::{
    adapters::payments::sandbox::{SandboxNotice, SandboxProvider},
    domain::{Money, Order, OrderId, OrderStatus, TransitionError},
    ports::{
        PaymentCustomer, PaymentItem, PaymentRequest, ProviderError, ProviderKind, StoreError,
        StoredPaymentSession,
    },
};

/// Leeway for the provider's clock when a lifetime must be at least its minimum.
const CLOCK_SLACK: chrono::Duration = chrono::Duration::minutes(1);

/// What the customer needs to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSessionView {
    pub provider: ProviderKind,
    pub redirect_url: String,
    pub token: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl From<&StoredPaymentSession> for PaymentSessionView {
    fn from(stored: &StoredPaymentSession) -> Self {
        Self {
            provider: stored.session.provider,
            redirect_url: stored.session.redirect_url.clone(),
            token: stored.session.token.clone(),
            expires_at: stored.session.expires_at,
        }
    }
}

/// What the sandbox's pay page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPayment {
    pub order_id: OrderId,
    pub total: Money,
    pub status: OrderStatus,
    pub expires_at: DateTime<Utc>,
}

impl Shop {
    /// The owner of a `pending_payment` order starts paying it. Anyone else's order is "not
    /// found"; another status is an invalid transition; a currency the provider cannot take is
    /// refused on `currency` before any call.
    pub async fn start_payment(
        &self,
        actor: &Actor,
        order_id: OrderId,
    ) -> AppResult<PaymentSessionView> {
        let user_id = actor.user_id()?;
        if !self.payments.settings.enabled {
            return Err(AppError::Rule(
                "this shop takes no online payments: no payment provider is set up \
                 (SHOP_PAYMENT_PROVIDER)"
                    .into(),
            ));
        }
        let order = self
            .store
            .get_order(order_id)
            .await?
            .filter(|order| order.user_id == user_id)
            .ok_or(AppError::NotFound("order"))?;
        if order.status != OrderStatus::PendingPayment {
            return Err(TransitionError {
                from: order.status,
                to: OrderStatus::Paid,
            }
            .into());
        }
        let provider = &self.payments.provider;
        let currency = order.total.currency();
        if !provider.accepts_currency(currency) {
            return Err(AppError::validation(
                "currency",
                format!("{} cannot take payments in {currency}", provider.kind()),
            ));
        }
        let now = self.clock.now();
        let latest = self.store.latest_payment_session(order_id).await?;
        // A live session of another provider (the shop switched) cannot be paid through the
        // configured one, whose notifications alone are accepted.
        if let Some(live) = latest
            .as_ref()
            .filter(|s| s.session.expires_at > now && s.session.provider == provider.kind())
        {
            return Ok(live.into());
        }
        let attempt = latest.map_or(0, |last| last.attempt + 1);
        let expires_at = self.session_expiry(&order, now)?;
        let request = self.payment_request(&order, attempt, expires_at).await?;
        let mut session = provider
            .create_payment(&request)
            .await
            .map_err(|error| match error {
                ProviderError::UnsupportedCurrency { .. } => {
                    AppError::validation("currency", error.to_string())
                }
                other => AppError::PaymentProvider(other),
            })?;
        // Stored and answered alike on every backend (Postgres keeps microseconds).
        session.expires_at = session
            .expires_at
            .with_nanosecond(0)
            .unwrap_or(session.expires_at);
        let stored = StoredPaymentSession {
            order_id,
            attempt,
            session,
            created_at: now,
        };
        match self.store.insert_payment_session(&stored).await {
            Ok(()) => {
                tracing::info!(%order_id, provider = %stored.session.provider, attempt, "payment session opened");
                Ok((&stored).into())
            }
            // A concurrent request stored its session first: everyone answers that one.
            Err(StoreError::Duplicate { field: "attempt" }) => self
                .store
                .latest_payment_session(order_id)
                .await?
                .map(|winner| (&winner).into())
                .ok_or(AppError::Conflict),
            Err(error) => Err(error.into()),
        }
    }

    /// When a new session for `order` expires: never after the order's payment deadline
    /// (placed + the payment timeout), so no one pays an order the sweeper cancels meanwhile.
    /// When the provider caps a session's lifetime, expiries fall on a grid of whole steps from
    /// the order's placing, so that a retried request a moment later carries the same expiry (and
    /// Stripe's idempotency key the same parameters). Whole seconds: what is stored is what is
    /// answered, on every backend.
    fn session_expiry(&self, order: &Order, now: DateTime<Utc>) -> AppResult<DateTime<Utc>> {
        let whole = |at: DateTime<Utc>| at.with_nanosecond(0).unwrap_or(at);
        let timeout = chrono::Duration::from_std(self.payments.settings.timeout)
            .map_err(|error| AppError::Internal(Box::new(error)))?;
        let placed = whole(order.placed_at);
        let deadline = whole(order.placed_at + timeout);
        let (shortest, longest) = self.payments.provider.kind().session_lifetime();
        // The provider checks the lifetime on its own clock, a moment later than ours.
        let shortest = shortest + CLOCK_SLACK;
        if deadline - now < shortest {
            return Err(AppError::Rule(format!(
                "the time to pay for this order has run out: {} needs {} minutes at least",
                self.payments.provider.kind(),
                shortest.num_minutes()
            )));
        }
        let Some(longest) = longest.filter(|longest| now + *longest < deadline) else {
            return Ok(deadline);
        };
        // The first grid point at least `shortest` away is at most `longest` away.
        let step = (longest - shortest).num_seconds().max(1);
        let needed = (now + shortest - placed).num_seconds().max(0);
        let steps = (needed + step - 1) / step;
        let expiry = steps
            .checked_mul(step)
            .and_then(chrono::Duration::try_seconds)
            .and_then(|offset| placed.checked_add_signed(offset))
            .ok_or_else(|| AppError::Internal("a session expiry out of range".into()))?;
        Ok(expiry.min(deadline))
    }

    async fn payment_request(
        &self,
        order: &Order,
        attempt: i64,
        expires_at: DateTime<Utc>,
    ) -> AppResult<PaymentRequest> {
        let user = self
            .store
            .get_user(order.user_id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        let mut items: Vec<PaymentItem> = order
            .items
            .iter()
            .map(|item| PaymentItem {
                id: item.sku.clone(),
                name: item.name.clone(),
                unit_price: item.unit_price,
                quantity: item.quantity.units(),
            })
            .collect();
        if order.tax.amount_minor() > 0 {
            items.push(PaymentItem {
                id: "tax".to_owned(),
                name: "Tax".to_owned(),
                unit_price: order.tax,
                quantity: 1,
            });
        }
        Ok(PaymentRequest {
            order_id: order.id,
            amount: order.total,
            items,
            customer: PaymentCustomer {
                email: user.email.to_string(),
                name: user.full_name.to_string(),
            },
            expires_at,
            // The expiry in the key too: a request with other parameters is another request.
            idempotency_key: format!("{}-{attempt}-{}", order.id, expires_at.timestamp()),
            return_url: Some(format!(
                "{}/pay/return/{}",
                self.payments.settings.public_url, order.id
            )),
        })
    }

    /// The sandbox session a pay-page token opens, with its order. No login: the token is the
    /// key. Unknown and expired tokens, and any token when the shop does not use the sandbox, are
    /// not found.
    pub async fn sandbox_payment(&self, token: &str) -> AppResult<SandboxPayment> {
        let (stored, order) = self.sandbox_session(token).await?;
        Ok(SandboxPayment {
            order_id: order.id,
            total: order.total,
            status: order.status,
            expires_at: stored.session.expires_at,
        })
    }

    /// The notification the pay page's Pay (`paid`) or Decline button sends, signed as the
    /// webhook expects; pass it to [`Self::handle_payment_notification`].
    pub async fn sandbox_notification(
        &self,
        token: &str,
        paid: bool,
    ) -> AppResult<(Vec<(String, String)>, Vec<u8>)> {
        let (stored, order) = self.sandbox_session(token).await?;
        let signer = SandboxProvider::from_settings(&self.payments.settings);
        let notice = SandboxNotice {
            order_id: order.id,
            token: stored.session.reference,
            amount: order.total,
            paid,
        };
        Ok(signer.signed_notification(&notice, self.clock.now()))
    }

    async fn sandbox_session(&self, token: &str) -> AppResult<(StoredPaymentSession, Order)> {
        if self.payments.provider.kind() != ProviderKind::Sandbox || !self.payments.settings.enabled
        {
            return Err(AppError::NotFound("payment"));
        }
        let stored = self
            .store
            .payment_session_by_token(ProviderKind::Sandbox, token)
            .await?
            .filter(|stored| stored.session.expires_at > self.clock.now())
            .ok_or(AppError::NotFound("payment"))?;
        let order = self
            .store
            .get_order(stored.order_id)
            .await?
            .ok_or(AppError::NotFound("payment"))?;
        Ok((stored, order))
    }
}
