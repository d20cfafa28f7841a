//! Refunds, on Postgres and SQLite: partial then full, restock, refused input, provider failures,
//! idempotency keys (retries after a timeout, sequential and concurrent repeats, reuse for
//! another refund), amounts the provider refunded differently, cancelled orders, offline
//! payments and refunds the provider reports (with an unknown amount, before the payment). The provider is a double implementing the port that keeps the refunds it made, by
//! refund key, as Midtrans and Stripe deduplicate them. [`staff`]: refunds staff ask for;
//! [`reported`]: refunds the provider reports (notifications).

#[allow(dead_code)]
#[macro_use]
#[path = "../contract/support.rs"]
mod support;

mod reported;
mod staff;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;
use shop_core::{
    app::{Actor, AppError, ProviderRefund, RecordPayment, RefundCommand, Shop},
    config::PaymentSettings,
    domain::{Currency, Money, Order, OrderId, OrderStatus, Product, refund::refund_key},
    ports::{
        NotificationError, PaymentOutcome, PaymentProvider, PaymentRequest, PaymentSession,
        ProviderError, ProviderEvent, ProviderKind, RawNotification, RefundReceipt, RefundRequest,
    },
};

use support::{
    TestShop, admin, create_product, events_of_type, expect_validation, place_order,
    register_customer, snapshot, stock_of,
};

/// What the double does with the next refund request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Refund,
    /// Answers 4xx: nothing refunded.
    Refuse,
    /// Refunds, then the answer is lost (a timeout): the caller sees a failure.
    RefundThenTimeOut,
    /// Refunds this many minor units, whatever was asked (a provider capping the refund).
    RefundOnly(i64),
}

/// Holds a refund call after the provider refunded, until the test lets the answer go.
#[derive(Debug)]
struct Gate {
    refunded: tokio::sync::oneshot::Sender<()>,
    answer: tokio::sync::oneshot::Receiver<()>,
}

#[derive(Debug)]
struct DoubleState {
    next: Next,
    gate: Option<Gate>,
    calls: usize,
    /// Refunds made, by refund key.
    refunds: HashMap<String, RefundReceipt>,
}

/// A provider that refunds once per refund key, and counts the calls.
#[derive(Debug, Clone)]
struct Provider(Arc<Mutex<DoubleState>>);

impl Provider {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(DoubleState {
            next: Next::Refund,
            gate: None,
            calls: 0,
            refunds: HashMap::new(),
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, DoubleState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn then(&self, next: Next) {
        self.state().next = next;
    }

    /// The next refund is held after refunding: `refunded` fires then, and the call answers
    /// once `answer` is sent.
    fn hold_next(
        &self,
    ) -> (
        tokio::sync::oneshot::Receiver<()>,
        tokio::sync::oneshot::Sender<()>,
    ) {
        let (refunded, on_refunded) = tokio::sync::oneshot::channel();
        let (release, answer) = tokio::sync::oneshot::channel();
        self.state().gate = Some(Gate { refunded, answer });
        (on_refunded, release)
    }

    fn calls(&self) -> usize {
        self.state().calls
    }

    /// The refunds made, by key.
    fn refunds(&self) -> HashMap<String, RefundReceipt> {
        self.state().refunds.clone()
    }
}

fn unavailable(message: &str) -> ProviderError {
    ProviderError::Unavailable {
        provider: "sandbox",
        message: message.to_owned(),
    }
}

#[async_trait]
impl PaymentProvider for Provider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Sandbox
    }

    fn accepts_currency(&self, _: Currency) -> bool {
        true
    }

    async fn create_payment(&self, _: &PaymentRequest) -> Result<PaymentSession, ProviderError> {
        Err(unavailable("not in this test"))
    }

    async fn verify_notification(
        &self,
        _: RawNotification<'_>,
    ) -> Result<ProviderEvent, NotificationError> {
        Err(NotificationError::MissingSignature)
    }

    async fn payment_status(&self, _: OrderId) -> Result<PaymentOutcome, ProviderError> {
        Ok(PaymentOutcome::Pending)
    }

    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, ProviderError> {
        let (answer, gate) = self.refund_now(request);
        if let Some(gate) = gate {
            let _ = gate.refunded.send(());
            let _ = gate.answer.await;
        }
        answer
    }
}

impl Provider {
    /// The refund itself, and the gate to wait at before answering.
    fn refund_now(
        &self,
        request: &RefundRequest,
    ) -> (Result<RefundReceipt, ProviderError>, Option<Gate>) {
        let mut state = self.state();
        state.calls += 1;
        let gate = state.gate.take();
        let next = std::mem::replace(&mut state.next, Next::Refund);
        if next == Next::Refuse {
            let refused = ProviderError::Refused {
                provider: "sandbox",
                message: "refund amount exceeds the charge".to_owned(),
            };
            return (Err(refused), gate);
        }
        let count = state.refunds.len();
        let receipt = state
            .refunds
            .entry(request.refund_key.clone())
            .or_insert_with(|| RefundReceipt {
                reference: format!("re_{}", count + 1),
                amount: match next {
                    Next::RefundOnly(minor) => Money::new(minor, request.amount.currency()),
                    _ => request.amount,
                },
            })
            .clone();
        match next {
            Next::RefundThenTimeOut => (Err(unavailable("timed out")), gate),
            _ => (Ok(receipt), gate),
        }
    }
}

struct Fixture {
    shop: Shop,
    provider: Provider,
    customer: Actor,
    mug: Product,
    /// 3 mugs at 10.00 USD, paid through the provider.
    order: Order,
}

async fn paid_order(t: &TestShop, provider_name: &str) -> Fixture {
    let provider = Provider::new();
    let shop = t
        .shop
        .clone()
        .with_payments(Arc::new(provider.clone()), PaymentSettings::default());
    let (_, customer) = register_customer(&shop, "ada@example.com").await;
    let mug = create_product(&shop, "MUG-1", 1_000, 10).await;
    let order = place_order(&shop, &customer, mug.id, 3).await;
    shop.record_payment(
        &admin(),
        RecordPayment {
            order_id: order.id.to_string(),
            amount_minor: order.total.amount_minor(),
            currency: "USD".into(),
            provider: provider_name.into(),
            reference: "pay-1".into(),
            status: "succeeded".into(),
            failure_reason: None,
        },
    )
    .await
    .expect("record the payment");
    Fixture {
        shop,
        provider,
        customer,
        mug,
        order,
    }
}

/// A request with a fresh idempotency key: a new refund.
fn refund(amount_minor: Option<i64>, reason: &str, restock: bool) -> RefundCommand {
    keyed(&OrderId::new().to_string(), amount_minor, reason, restock)
}

/// A request with the idempotency key `key`.
fn keyed(key: &str, amount_minor: Option<i64>, reason: &str, restock: bool) -> RefundCommand {
    RefundCommand {
        amount_minor,
        reason: reason.into(),
        restock,
        idempotency_key: key.into(),
    }
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::parse("USD").expect("USD"))
}

async fn status(shop: &Shop, order: &Order) -> OrderStatus {
    shop.get_order(&admin(), order.id)
        .await
        .expect("order")
        .status
}
