//! The money path through a provider, on each storage backend (the contract suite's harness:
//! `<test>::postgres` and `<test>::sqlite`): starting a payment, then the provider's
//! notifications, verified, applied once, stored for audits, never moving an order backwards.
//! The provider is the sandbox, behind a wrapper that counts calls and refuses one currency.
//! [`sessions`]: starting a payment; [`notifications`]: what the provider then says;
//! [`providers`]: the real Midtrans and Stripe adapters against local fakes of their APIs.

#[macro_use]
#[allow(dead_code)]
#[path = "../contract/support.rs"]
mod support;

mod notifications;
mod providers;
mod sessions;

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;
use shop_core::{
    adapters::payments::sandbox::{SIGNATURE_HEADER, SandboxNotice, SandboxProvider},
    app::{
        Actor, AppError, NotificationOutcome, PaymentSessionView, RecordPayment, Shop,
        SignatureProblem,
    },
    config::PaymentSettings,
    domain::{Currency, Money, Order, OrderStatus, PaymentStatus},
    ports::{
        Clock, NotificationError, NotificationStatus, PaymentOutcome, PaymentProvider,
        PaymentRequest, PaymentSession, ProviderError, ProviderEvent, ProviderKind,
        RawNotification, RefundReceipt, RefundRequest,
    },
};

use support::{
    TestShop, admin, create_product, create_product_with, events_of_type, place_order,
    product_command, register_admin, register_customer, snapshot,
};

const SECRET: &str = "payments-flow-test-secret-0123456789";
const PAID: &str = "dev.shop.order.paid.v1";
const SUCCEEDED: &str = "dev.shop.payment.succeeded.v1";
const FAILED: &str = "dev.shop.payment.failed.v1";

/// The sandbox, counting the sessions it opens (and keeping what it was asked) and refusing EUR.
#[derive(Debug)]
struct Counting {
    kind: ProviderKind,
    inner: SandboxProvider,
    sessions: AtomicUsize,
    requests: Mutex<Vec<PaymentRequest>>,
}

impl Counting {
    fn requests(&self) -> Vec<PaymentRequest> {
        self.requests.lock().expect("requests").clone()
    }
}

#[async_trait]
impl PaymentProvider for Counting {
    fn kind(&self) -> ProviderKind {
        self.kind
    }

    fn accepts_currency(&self, currency: Currency) -> bool {
        currency.code() != "EUR"
    }

    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<PaymentSession, ProviderError> {
        self.sessions.fetch_add(1, Ordering::SeqCst);
        self.requests
            .lock()
            .expect("requests")
            .push(request.clone());
        let mut session = self.inner.create_payment(request).await?;
        session.provider = self.kind;
        Ok(session)
    }

    async fn verify_notification(
        &self,
        notification: RawNotification<'_>,
    ) -> Result<ProviderEvent, NotificationError> {
        self.inner.verify_notification(notification).await
    }

    async fn payment_status(
        &self,
        order_id: shop_core::domain::OrderId,
    ) -> Result<PaymentOutcome, ProviderError> {
        self.inner.payment_status(order_id).await
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, ProviderError> {
        self.inner.refund(request).await
    }
}

fn settings() -> PaymentSettings {
    PaymentSettings {
        sandbox_secret: SecretString::from(SECRET.to_owned()),
        public_url: "https://shop.test".to_owned(),
        ..PaymentSettings::default()
    }
}

/// The test shop taking payments through the counting sandbox.
fn paying(t: &TestShop) -> (Shop, Arc<Counting>) {
    paying_as(t, ProviderKind::Sandbox, settings())
}

/// ... posing as `kind`, with `settings`.
fn paying_as(t: &TestShop, kind: ProviderKind, settings: PaymentSettings) -> (Shop, Arc<Counting>) {
    let provider = Arc::new(Counting {
        kind,
        inner: SandboxProvider::from_settings(&settings),
        sessions: AtomicUsize::new(0),
        requests: Mutex::new(Vec::new()),
    });
    let shop = t.shop.clone().with_payments(provider.clone(), settings);
    (shop, provider)
}

/// `at` without its fraction of a second, as session expiries are.
fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(at.timestamp(), 0).expect("in range")
}

/// A clock stopped at one instant.
#[derive(Debug)]
struct StoppedAt(DateTime<Utc>);

impl Clock for StoppedAt {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A notification signed with the test key at `at`, about any amount.
fn notification(
    order: &Order,
    token: &str,
    amount: Money,
    paid: bool,
    at: DateTime<Utc>,
) -> (Vec<(String, String)>, Vec<u8>) {
    let signer = SandboxProvider::new(SecretString::from(SECRET.to_owned()), "https://shop.test");
    let notice = SandboxNotice {
        order_id: order.id,
        token: token.to_owned(),
        amount,
        paid,
    };
    signer.signed_notification(&notice, at)
}

async fn notify(
    shop: &Shop,
    (headers, body): &(Vec<(String, String)>, Vec<u8>),
) -> Result<NotificationOutcome, AppError> {
    shop.handle_payment_notification(ProviderKind::Sandbox, headers, body)
        .await
}

async fn status_of(shop: &Shop, order: &Order) -> OrderStatus {
    shop.get_order(&admin(), order.id)
        .await
        .expect("the order")
        .status
}

async fn stored_outcomes(shop: &Shop) -> Vec<NotificationStatus> {
    let mut stored: Vec<NotificationStatus> = shop
        .store()
        .recent_notifications(100)
        .await
        .expect("notifications")
        .into_iter()
        .map(|notification| notification.status)
        .collect();
    stored.reverse();
    stored
}

/// A customer with a pending order of 2 × 12.50 USD, and the session they started for it.
async fn started(shop: &Shop) -> (Actor, Order, PaymentSessionView) {
    let (_, ada) = register_customer(shop, "ada@example.com").await;
    let mug = create_product(shop, "MUG-1", 1_250, 10).await;
    let order = place_order(shop, &ada, mug.id, 2).await;
    let session = shop.start_payment(&ada, order.id).await.expect("start");
    (ada, order, session)
}

fn token_of(session: &PaymentSessionView) -> String {
    session.token.clone().expect("the sandbox gives a token")
}
