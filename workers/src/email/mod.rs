//! The email worker: tells customers about their account, orders, payments and invoices.
//!
//! | event | message |
//! | --- | --- |
//! | `user.registered` | welcome |
//! | `order.placed` | order confirmation: lines, subtotal, tax and total in the order's currency |
//! | `order.paid` | payment received |
//! | `order.status_changed` to `shipped` | shipped (other changes send nothing) |
//! | `order.cancelled` | cancelled; with reason `payment_expired`: "payment time ran out" |
//! | `invoice.created` | the invoice, its PDF attached (fetched through [`InvoiceFiles`]) |
//! | `payment.failed` | payment failed, with the reason (the order waits for another try) |
//! | `payment.refunded` | refund issued: the amount, and whether the order is refunded in full |
//! | `user.password_reset_requested` | a password-reset token (see [`account`]) |
//! | `user.email_verification_requested` | an e-mail verification token (see [`account`]) |
//! | `stock.low` | to the staff address `SHOP_STAFF_EMAIL`, not a customer (see [`staff`]) |
//!
//! The recipient is read from `users` by the event's user id (an unknown user rejects the event).
//! Messages are sent over SMTP ([`Settings`]) or, without `SHOP_SMTP_HOST`, written as `.eml`
//! files named `<event id>-<template>.eml`.
//!
//! Idempotency: the event is claimed in `processed_messages` (a transaction), the message sent,
//! then the claim committed, so a redelivered event sends nothing. This is at least once, not
//! exactly once: a crash or a failed commit between the send and the commit leaves the event
//! unclaimed and its redelivery sends the message a second time. The `Message-ID` is derived from
//! the event id, so a receiving system that deduplicates on it sees one message.

mod account;
mod settings;
pub mod staff;
mod templates;

use std::{fmt, path::Path, sync::Arc};

use anyhow::Context as _;
use async_trait::async_trait;
use lettre::{
    AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor,
    message::{Attachment, Mailbox, MultiPart, header::ContentType},
};
use serde::{Deserialize, Serialize};
use shop_core::{
    app::WorkerData,
    domain::{Currency, Money, OrderId, UserId},
    messaging::{CloudEvent, WorkerKind},
    ports::{StoreError, StoreResult},
};

/// Where invoice PDFs are read from: the invoice worker's blob store (a port of the shop's).
pub use shop_core::ports::InvoiceFiles;

pub use settings::{DEFAULT_FROM, DEFAULT_MAIL_DIR, Delivery, Settings};
pub use templates::Template;

use crate::{
    handler::{Handler, HandlerError, claim, payload},
    payloads::{
        OrderCancelled, OrderPaid, OrderStatusChanged, PaymentFailed, PaymentRefunded, shown,
    },
    writable::ensure_writable_dir,
};

pub const USER_REGISTERED: &str = "dev.shop.user.registered.v1";
pub const ORDER_PLACED: &str = "dev.shop.order.placed.v1";
pub const ORDER_PAID: &str = "dev.shop.order.paid.v1";
pub const ORDER_STATUS_CHANGED: &str = "dev.shop.order.status_changed.v1";
pub const ORDER_CANCELLED: &str = "dev.shop.order.cancelled.v1";
pub const INVOICE_CREATED: &str = "dev.shop.invoice.created.v1";
pub const PAYMENT_FAILED: &str = "dev.shop.payment.failed.v1";
pub const PAYMENT_REFUNDED: &str = "dev.shop.payment.refunded.v1";

/// The shop's name in messages.
const SHOP_NAME: &str = "Shop";

/// The email worker's handler.
pub struct Email {
    data: WorkerData,
    from: Mailbox,
    transport: Transport,
    invoices: Option<Arc<dyn InvoiceFiles>>,
    /// Where staff alerts go (`SHOP_STAFF_EMAIL`); `None`: they are not mailed.
    staff: Option<Mailbox>,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(std::path::PathBuf),
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transport = match &self.transport {
            Transport::Smtp(_) => "smtp".to_owned(),
            Transport::Files(dir) => format!("files in {}", dir.display()),
        };
        f.debug_struct("Email")
            .field("from", &self.from.to_string())
            .field("transport", &transport)
            .field("invoices", &self.invoices)
            .finish_non_exhaustive()
    }
}

impl Email {
    /// The handler with `settings`. Without an [`InvoiceFiles`] source ([`Email::with_invoice_files`])
    /// invoice messages are sent without their PDF. The mail folder (without SMTP) is created
    /// and checked to be writable now: a read-only one fails here, not at every message.
    pub fn new(data: WorkerData, settings: &Settings) -> anyhow::Result<Self> {
        let transport = match &settings.delivery {
            Delivery::Smtp {
                host,
                port,
                credentials,
                starttls,
            } => Transport::Smtp(settings::smtp_transport(
                host,
                *port,
                credentials.as_ref(),
                *starttls,
            )?),
            Delivery::Files { dir } => {
                ensure_writable_dir(dir).map_err(|error| {
                    anyhow::anyhow!(
                        "SHOP_MAIL_DIR: {error}; point it at a writable volume or set \
                         SHOP_SMTP_HOST"
                    )
                })?;
                Transport::Files(dir.clone())
            }
        };
        Ok(Self {
            data,
            from: settings.from.clone(),
            transport,
            invoices: None,
            staff: None,
        })
    }

    /// Mails staff alerts (low stock) to `staff` ([`staff::staff_address`]).
    #[must_use]
    pub fn with_staff_address(mut self, staff: Option<Mailbox>) -> Self {
        self.staff = staff;
        self
    }

    /// Attaches invoice PDFs read from `files`.
    #[must_use]
    pub fn with_invoice_files(mut self, files: Arc<dyn InvoiceFiles>) -> Self {
        self.invoices = Some(files);
        self
    }
}

#[derive(Debug, Deserialize)]
struct UserRegistered {
    user_id: String,
}

#[derive(Debug, Deserialize)]
struct OrderPlaced {
    order_id: String,
    /// Absent from events written before order numbers existed.
    #[serde(default)]
    order_number: Option<String>,
    user_id: String,
    currency: String,
    subtotal_minor: i64,
    tax_minor: i64,
    total_minor: i64,
    items: Vec<OrderLine>,
    /// Absent from payloads written before coupons existed.
    #[serde(default)]
    discount_minor: i64,
    #[serde(default)]
    coupon_code: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OrderLine {
    sku: String,
    quantity: i64,
    unit_price_minor: i64,
}

#[derive(Debug, Deserialize)]
struct InvoiceCreated {
    order_id: String,
    user_id: String,
    invoice_number: String,
    /// Where the PDF is in the blob store (`file:///…` or `s3://…`).
    location: Option<String>,
}

#[derive(Debug, Serialize)]
struct Line {
    name: String,
    sku: String,
    quantity: i64,
    unit_price: String,
    line_total: String,
}

/// What the templates see.
#[derive(Debug, Default, Serialize)]
struct Context {
    shop_name: &'static str,
    name: String,
    email: String,
    /// The readable number (`SO-2026-000123`), or the id for events without one.
    order_number: String,
    /// The order's id, to look its lines up.
    #[serde(skip)]
    order_id: String,
    items: Vec<Line>,
    subtotal: String,
    /// Shipped emails: how the order travels (empty when staff recorded none).
    carrier: String,
    tracking_number: String,
    tracking_url: String,
    /// Empty without a coupon (the templates then show no discount line).
    discount: String,
    coupon_code: String,
    tax: String,
    total: String,
    amount: String,
    was_paid: bool,
    invoice_number: String,
    attached: bool,
    /// Why a payment failed or money was refunded.
    reason: String,
    /// The refund completes the order's.
    full: bool,
    /// The single-use token of an account message.
    token: Option<account::MailedToken>,
    /// How long `token` works, in words.
    valid_for: String,
}

/// One message to send for an event.
#[derive(Debug)]
struct Plan {
    template: Template,
    subject: String,
    user_id: uuid::Uuid,
    context: Context,
    /// The invoice PDF to attach: (file name, location).
    attachment: Option<(String, String)>,
}

fn reject(event: &CloudEvent, what: impl fmt::Display) -> HandlerError {
    HandlerError::Reject(anyhow::anyhow!("{} {}: {what}", event.event_type, event.id))
}

fn uuid(event: &CloudEvent, field: &str, raw: &str) -> Result<uuid::Uuid, HandlerError> {
    uuid::Uuid::parse_str(raw).map_err(|_| reject(event, format!("{field} {raw:?} is not a UUID")))
}

fn money(event: &CloudEvent, amount_minor: i64, currency: &str) -> Result<String, HandlerError> {
    let currency = Currency::parse(currency)
        .map_err(|error| reject(event, format!("currency {currency:?}: {error}")))?;
    Ok(Money::new(amount_minor, currency).to_string())
}

fn database(error: StoreError) -> HandlerError {
    HandlerError::database(WorkerKind::Email, error)
}

impl Plan {
    /// The message `event` calls for, `None` when it calls for none.
    fn of(event: &CloudEvent) -> Result<Option<Self>, HandlerError> {
        let order = |template, subject: &str, order_id: &str, user_id: &str| {
            Ok::<_, HandlerError>(Self {
                template,
                subject: format!("{subject} {order_id}"),
                user_id: uuid(event, "user_id", user_id)?,
                context: Context {
                    order_number: order_id.to_owned(),
                    ..Context::default()
                },
                attachment: None,
            })
        };
        Ok(Some(match event.event_type.as_str() {
            USER_REGISTERED => {
                let user: UserRegistered = payload(event)?;
                Self {
                    template: Template::Welcome,
                    subject: format!("Welcome to {SHOP_NAME}"),
                    user_id: uuid(event, "user_id", &user.user_id)?,
                    context: Context::default(),
                    attachment: None,
                }
            }
            ORDER_PLACED => {
                let placed: OrderPlaced = payload(event)?;
                let mut plan = order(
                    Template::OrderPlaced,
                    "Order confirmation",
                    shown(&placed.order_id, placed.order_number.as_deref()),
                    &placed.user_id,
                )?;
                uuid(event, "order_id", &placed.order_id)?;
                plan.context.order_id.clone_from(&placed.order_id);
                plan.context.subtotal = money(event, placed.subtotal_minor, &placed.currency)?;
                plan.context.tax = money(event, placed.tax_minor, &placed.currency)?;
                if placed.discount_minor > 0 {
                    plan.context.discount = money(event, placed.discount_minor, &placed.currency)?;
                    plan.context.coupon_code = placed.coupon_code.clone().unwrap_or_default();
                }
                plan.context.total = money(event, placed.total_minor, &placed.currency)?;
                plan.context.items = placed
                    .items
                    .iter()
                    .map(|line| {
                        Ok(Line {
                            name: line.sku.clone(),
                            sku: line.sku.clone(),
                            quantity: line.quantity,
                            unit_price: money(event, line.unit_price_minor, &placed.currency)?,
                            line_total: money(
                                event,
                                line.unit_price_minor.saturating_mul(line.quantity),
                                &placed.currency,
                            )?,
                        })
                    })
                    .collect::<Result<_, HandlerError>>()?;
                plan
            }
            ORDER_PAID => {
                let paid: OrderPaid = payload(event)?;
                let mut plan = order(
                    Template::OrderPaid,
                    "Payment received for order",
                    shown(&paid.order_id, paid.order_number.as_deref()),
                    &paid.user_id,
                )?;
                plan.context.amount = money(event, paid.amount_minor, &paid.currency)?;
                plan
            }
            ORDER_STATUS_CHANGED => {
                let changed: OrderStatusChanged = payload(event)?;
                if changed.to != "shipped" {
                    return Ok(None);
                }
                let mut plan = order(
                    Template::OrderShipped,
                    "Shipped: order",
                    shown(&changed.order_id, changed.order_number.as_deref()),
                    &changed.user_id,
                )?;
                // `message` reads the carrier and tracking from the order.
                plan.context.order_id.clone_from(&changed.order_id);
                plan
            }
            ORDER_CANCELLED => {
                let cancelled: OrderCancelled = payload(event)?;
                let (template, subject) = if cancelled.expired() {
                    (
                        Template::OrderExpired,
                        "Cancelled, payment time ran out: order",
                    )
                } else {
                    (Template::OrderCancelled, "Cancelled: order")
                };
                let number = shown(&cancelled.order_id, cancelled.order_number.as_deref());
                let mut plan = order(template, subject, number, &cancelled.user_id)?;
                plan.context.was_paid =
                    matches!(cancelled.previous_status.as_str(), "paid" | "fulfilling");
                plan
            }
            PAYMENT_FAILED => {
                let failed: PaymentFailed = payload(event)?;
                let mut plan = order(
                    Template::PaymentFailed,
                    "Payment failed for order",
                    &failed.order_id,
                    &failed.user_id,
                )?;
                plan.context.reason = failed.reason;
                plan
            }
            PAYMENT_REFUNDED => {
                let refunded: PaymentRefunded = payload(event)?;
                let mut plan = order(
                    Template::RefundIssued,
                    "Refund issued for order",
                    &refunded.order_id,
                    &refunded.user_id,
                )?;
                plan.context.amount = money(event, refunded.amount_minor, &refunded.currency)?;
                plan.context.reason = refunded.reason;
                plan.context.full = refunded.full;
                plan
            }
            INVOICE_CREATED => {
                let invoice: InvoiceCreated = payload(event)?;
                let mut plan = order(
                    Template::Invoice,
                    "Invoice for order",
                    &invoice.order_id,
                    &invoice.user_id,
                )?;
                plan.subject = format!(
                    "Invoice {} for order {}",
                    invoice.invoice_number, invoice.order_id
                );
                plan.attachment = invoice.location.map(|location| {
                    (
                        format!("invoice-{}.pdf", file_safe(&invoice.invoice_number)),
                        location,
                    )
                });
                plan.context.invoice_number = invoice.invoice_number;
                plan
            }
            _ => return Ok(None),
        }))
    }
}

/// `raw` with every character that is not alphanumeric, `-`, `_` or `.` replaced by `_`.
fn file_safe(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl Email {
    /// The recipient's (email, full name), `None` for an unknown user.
    async fn recipient(&self, user_id: uuid::Uuid) -> StoreResult<Option<(String, String)>> {
        let user = self.data.user(UserId::from_uuid(user_id)).await?;
        Ok(user.map(|user| {
            (
                user.email.as_str().to_owned(),
                user.full_name.as_str().to_owned(),
            )
        }))
    }

    /// The product names of an order's lines, by SKU (empty when the order is not there).
    async fn line_names(&self, order_id: uuid::Uuid) -> StoreResult<Vec<(String, String)>> {
        let order = self.data.order(OrderId::from_uuid(order_id)).await?;
        Ok(order
            .map(|order| {
                order
                    .items
                    .into_iter()
                    .map(|item| (item.sku, item.name))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The complete message of `plan` for `event`.
    async fn message(&self, event: &CloudEvent, mut plan: Plan) -> Result<Message, HandlerError> {
        let Some((email, name)) = self.recipient(plan.user_id).await.map_err(database)? else {
            return Err(reject(
                event,
                format!("user {} does not exist", plan.user_id),
            ));
        };
        let to = email
            .parse()
            .map(|address| Mailbox::new(Some(name.clone()), address))
            .map_err(|error| reject(event, format!("recipient {email:?}: {error}")))?;
        if plan.template == Template::OrderPlaced
            && let Ok(order_id) = uuid::Uuid::parse_str(&plan.context.order_id)
        {
            let names = self.line_names(order_id).await.map_err(database)?;
            for line in &mut plan.context.items {
                if let Some((_, product)) = names.iter().find(|(sku, _)| *sku == line.sku) {
                    line.name.clone_from(product);
                }
            }
        }
        if plan.template == Template::OrderShipped
            && let Ok(order_id) = uuid::Uuid::parse_str(&plan.context.order_id)
            && let Some(shipment) = self
                .data
                .order(OrderId::from_uuid(order_id))
                .await
                .map_err(database)?
                .and_then(|order| order.shipment)
        {
            plan.context.carrier = shipment.carrier;
            plan.context.tracking_number = shipment.tracking_number;
            plan.context.tracking_url = shipment.tracking_url.unwrap_or_default();
        }
        let pdf = match (&plan.attachment, &self.invoices) {
            (Some((file_name, location)), Some(files)) => {
                let bytes = files.fetch(location).await.map_err(|error| {
                    HandlerError::Retry(anyhow::anyhow!("invoice PDF at {location}: {error}"))
                })?;
                Some((file_name.clone(), bytes))
            }
            (Some((_, location)), None) => {
                tracing::warn!(id = %event.id, %location, "email: no invoice file source; the invoice is sent without its PDF");
                None
            }
            (None, _) => None,
        };
        plan.context.shop_name = SHOP_NAME;
        plan.context.name = name;
        plan.context.email = email;
        plan.context.attached = pdf.is_some();
        let (html, text) = templates::render(plan.template, &plan.context).map_err(|error| {
            HandlerError::Reject(anyhow::Error::new(error).context(format!(
                "render the {} email for {}",
                plan.template.name(),
                event.id
            )))
        })?;
        let body = MultiPart::alternative_plain_html(text, html);
        let body = match pdf {
            None => body,
            Some((file_name, bytes)) => {
                MultiPart::mixed()
                    .multipart(body)
                    .singlepart(Attachment::new(file_name).body(
                        bytes,
                        ContentType::parse("application/pdf").expect("a valid content type"),
                    ))
            }
        };
        let domain = self.from.email.domain().to_owned();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(plan.subject)
            .message_id(Some(format!(
                "<{}.{}@{domain}>",
                event.id,
                plan.template.name()
            )))
            .date(event.time.into())
            .multipart(body)
            .map_err(|error| reject(event, format!("build the message: {error}")))
    }

    /// Sends `message` (SMTP failures are transient) or writes it to the mail folder.
    async fn deliver(
        &self,
        event: &CloudEvent,
        template: Template,
        message: Message,
    ) -> Result<(), HandlerError> {
        self.deliver_named(event, template.name(), message).await
    }

    /// [`Self::deliver`] for a message named `name` (its `.eml` file's suffix).
    async fn deliver_named(
        &self,
        event: &CloudEvent,
        name: &str,
        message: Message,
    ) -> Result<(), HandlerError> {
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.map_err(|error| {
                    HandlerError::Retry(anyhow::Error::new(error).context("send over SMTP"))
                })?;
            }
            Transport::Files(dir) => {
                let dir = dir.clone();
                let name = format!("{}-{name}.eml", file_safe(&event.id));
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || write_file(&dir, &name, &bytes))
                    .await
                    .map_err(|error| HandlerError::Retry(error.into()))?
                    .map_err(HandlerError::Retry)?;
            }
        }
        Ok(())
    }
}

/// Writes `bytes` to `dir/name` whole or not at all (a temporary file renamed into place).
fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("create the mail folder {} (SHOP_MAIL_DIR)", dir.display()))?;
    let path = dir.join(name);
    let partial = dir.join(format!(".{name}.partial"));
    std::fs::write(&partial, bytes).with_context(|| format!("write {}", partial.display()))?;
    std::fs::rename(&partial, &path).with_context(|| format!("write {}", path.display()))
}

#[async_trait]
impl Handler for Email {
    fn kind(&self) -> WorkerKind {
        WorkerKind::Email
    }

    async fn handle(&self, event: &CloudEvent) -> Result<(), HandlerError> {
        if event.event_type == staff::STOCK_LOW {
            return self.stock_low(event).await;
        }
        // Decode and look up before claiming: a malformed event or an unknown user is rejected,
        // and the claim's transaction stays open only while the message is sent.
        // Account messages mint a token: only after the duplicate check below.
        let account = account::is_account_event(event);
        let plan = if account { None } else { Plan::of(event)? };
        if !account && plan.is_none() {
            return Ok(());
        }
        if self
            .data
            .is_processed(WorkerKind::Email.name(), &event.id)
            .await
            .map_err(database)?
        {
            tracing::debug!(id = %event.id, "email: duplicate event skipped");
            return Ok(());
        }
        let plan = match plan {
            Some(plan) => plan,
            None => match self.account_plan(event).await? {
                Some(plan) => plan,
                None => return Ok(()),
            },
        };
        let template = plan.template;
        let message = self.message(event, plan).await?;
        let Some(work) = claim(&self.data, WorkerKind::Email, &event.id).await? else {
            return Ok(());
        };
        // Dropping the work on a failed send rolls its record back, so the retry sends again.
        self.deliver(event, template, message).await?;
        work.commit().await.map_err(database)?;
        tracing::info!(id = %event.id, template = template.name(), "email sent");
        Ok(())
    }
}
