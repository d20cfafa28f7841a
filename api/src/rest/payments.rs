//! Taking money: a payment session for an order, the providers' webhooks, an order's payments
//! with their refunds, and refunds by staff. The manual `POST /admin/payments` (offline
//! payments) stays in `admin.rs`.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_core::{
    app::{AppError, NotificationOutcome, PaymentSessionView, RefundCommand},
    domain::{OrderId, Payment, PaymentStatus, Refund},
    ports::ProviderKind,
};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    dto::{MoneyDto, PaymentDto},
    error::{ApiError, ApiResult, ProblemDoc},
    extract::{ApiJson, SignedIn, path_id},
};
use crate::{metrics::Metrics, server::AppState};

/// Notifications are small JSON documents; anything bigger is refused before it is read.
pub const WEBHOOK_BODY_LIMIT: usize = 64 * 1024;

pub fn routes() -> OpenApiRouter<AppState> {
    let webhook = OpenApiRouter::new()
        .routes(routes!(webhook))
        // Applied to this route only, inside the API-wide 1 MiB limit: the inner limit wins.
        .layer(axum::extract::DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT));
    OpenApiRouter::new()
        .routes(routes!(start_payment))
        .routes(routes!(order_payments))
        .routes(routes!(refund_order))
        .merge(webhook)
}

fn order_id(raw: &str) -> Result<OrderId, ApiError> {
    // An unparsable id names no order: 404 like any order the caller may not see.
    path_id(raw, OrderId::parse).map_err(|_| ApiError::App(AppError::NotFound("order")))
}

/// What the customer needs to pay: where to send them, and the token for the provider's widget.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentSessionDto {
    /// `sandbox`, `midtrans` or `stripe`.
    pub provider: String,
    /// The provider's payment page; send the customer there.
    pub redirect_url: String,
    /// For the provider's own widget (Midtrans Snap token); absent when the provider has none.
    pub token: Option<String>,
    /// When the session stops taking payment; the order is cancelled then.
    pub expires_at: DateTime<Utc>,
}

impl From<PaymentSessionView> for PaymentSessionDto {
    fn from(session: PaymentSessionView) -> Self {
        Self {
            provider: session.provider.as_str().to_owned(),
            redirect_url: session.redirect_url,
            token: session.token,
            expires_at: session.expires_at,
        }
    }
}

/// Start paying for an order: the owner of an order waiting for payment gets a payment session
/// at the configured provider. Asked again while it is live, the same session is answered, so
/// the customer is never charged twice.
#[utoipa::path(post, path = "/api/v1/orders/{id}/payment", tag = "payments", security(("bearer" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 201, body = PaymentSessionDto),
              (status = 401, body = ProblemDoc, content_type = "application/problem+json"),
              (status = 404, description = "no such order, or another user's", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 409, description = "the order is not waiting for payment", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 422, description = "the provider cannot take the order's currency", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 503, description = "the provider is unavailable; try again", body = ProblemDoc, content_type = "application/problem+json")))]
async fn start_payment(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<PaymentSessionDto>)> {
    let session = state.shop.start_payment(&actor, order_id(&id)?).await?;
    Ok((StatusCode::CREATED, axum::Json(session.into())))
}

/// What the shop made of a notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAnswer {
    /// `applied`, `duplicate`, `ignored`, `pending` (nothing decided yet) or `mismatch` (the
    /// amount or currency differs from the order's: recorded as a failed payment).
    pub outcome: String,
}

/// A payment provider's notification. No login: the provider's signature is the proof, checked
/// over the body exactly as it arrived. Answered 200 once handled, duplicates and notifications
/// the shop does not act on included, so the provider stops retrying; a missing, forged or stale
/// signature, or a malformed body, is a 4xx problem and changes nothing; 503 when the provider
/// could not confirm the notification, so that it retries. Rate limited per client apart from
/// the rest of the API (`SHOP_WEBHOOK_RATE_LIMIT_PER_MINUTE`).
#[utoipa::path(post, path = "/api/v1/payments/{provider}/webhook", tag = "payments",
    params(("provider" = String, Path, description = "`sandbox`, `midtrans` or `stripe`")),
    request_body(content = Object, content_type = "application/json", description = "the provider's notification, as the provider sends it"),
    responses((status = 200, body = WebhookAnswer),
              (status = 400, description = "malformed notification", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 401, description = "missing, forged or stale signature", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 404, description = "unknown provider", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 413, description = "body over 64 KiB", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 415, description = "not JSON", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 429, description = "too many notifications from this address", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 503, description = "the provider could not confirm the notification; it will retry", body = ProblemDoc, content_type = "application/problem+json")))]
async fn webhook(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    // Not counted in the metrics: the label would take whatever a caller puts in the path.
    let provider = ProviderKind::parse(&provider)
        .ok_or(ApiError::App(AppError::NotFound("payment provider")))?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::BadRequest {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            detail: "notifications are JSON (Content-Type: application/json)".to_owned(),
            field: None,
        });
    }
    // Header values that are not text cannot carry a signature; they are left out.
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(name, value)| {
            value
                .to_str()
                .ok()
                .map(|value| (name.as_str().to_owned(), value.to_owned()))
        })
        .collect();
    let outcome = handle_notification(&state, provider, &headers, &body).await?;
    Ok(axum::Json(WebhookAnswer {
        outcome: outcome.to_owned(),
    })
    .into_response())
}

/// Hands a notification to the core and counts what became of it; shared by the webhook and
/// the sandbox page. The body goes to the core untouched: signatures cover the raw bytes.
pub(super) async fn handle_notification(
    state: &AppState,
    provider: ProviderKind,
    headers: &[(String, String)],
    body: &[u8],
) -> ApiResult<&'static str> {
    match state
        .shop
        .handle_payment_notification(provider, headers, body)
        .await
    {
        Ok(outcome) => {
            let label = outcome.as_str();
            state.metrics.payment_notification(provider.as_str(), label);
            if let NotificationOutcome::Mismatch { reason } = &outcome {
                // The core's reason (order, amounts) only: never the body or a header.
                tracing::warn!(
                    provider = provider.as_str(),
                    reason = %reason,
                    "payment notification differs from the order; recorded as a failed payment"
                );
            }
            Ok(label)
        }
        Err(error) => {
            // The core logs why a notification was refused, and the error mapping logs a
            // provider's failure; only the count is added here.
            let error = ApiError::from(error);
            if error.status().is_client_error() {
                state
                    .metrics
                    .payment_notification(provider.as_str(), "rejected");
            }
            Err(error)
        }
    }
}

/// A refund against an order's payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundDto {
    pub id: String,
    pub order_id: String,
    pub amount: MoneyDto,
    pub reason: String,
    pub provider: String,
    /// The provider's id of the refund.
    pub provider_reference: String,
    /// Whether the ordered items went back into stock.
    pub restock: bool,
    /// Whether this refund completed the order's refund (the order is then `refunded`).
    pub full: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Refund> for RefundDto {
    fn from(refund: Refund) -> Self {
        Self {
            id: refund.id.to_string(),
            order_id: refund.order_id.to_string(),
            amount: refund.amount.into(),
            reason: refund.reason.to_string(),
            provider: refund.provider,
            provider_reference: refund.provider_reference,
            restock: refund.restock,
            full: refund.full,
            created_at: refund.created_at,
        }
    }
}

/// A payment and the refunds made against it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentWithRefundsDto {
    #[serde(flatten)]
    pub payment: PaymentDto,
    /// Refunds against this payment, oldest first (only a succeeded payment has any).
    pub refunds: Vec<RefundDto>,
}

/// Each payment with its refunds, for REST and gRPC alike. Refunds belong to the succeeded
/// payment of their provider (an order is paid once); a refund whose provider matches none goes
/// to the latest succeeded payment, so none is ever hidden.
pub fn with_refunds(payments: Vec<Payment>, refunds: Vec<Refund>) -> Vec<(Payment, Vec<Refund>)> {
    let mut rows: Vec<(Payment, Vec<Refund>)> = payments
        .into_iter()
        .map(|payment| (payment, Vec::new()))
        .collect();
    for refund in refunds {
        let succeeded = |row: &(Payment, Vec<Refund>)| row.0.status == PaymentStatus::Succeeded;
        let index = rows
            .iter()
            .position(|row| succeeded(row) && row.0.provider.to_string() == refund.provider)
            .or_else(|| rows.iter().rposition(succeeded));
        if let Some(row) = index.and_then(|index| rows.get_mut(index)) {
            row.1.push(refund);
        }
    }
    rows
}

/// Payments recorded for the order, each with its refunds. Another user's order is "not found".
#[utoipa::path(get, path = "/api/v1/orders/{id}/payments", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = Vec<PaymentWithRefundsDto>),
              (status = 401, body = ProblemDoc, content_type = "application/problem+json"),
              (status = 404, body = ProblemDoc, content_type = "application/problem+json")))]
async fn order_payments(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Vec<PaymentWithRefundsDto>>> {
    let id = order_id(&id)?;
    let payments = state.shop.list_payments(&actor, id).await?;
    let refunds = state.shop.list_refunds(&actor, id).await?;
    let rows = with_refunds(payments, refunds)
        .into_iter()
        .map(|(payment, refunds)| PaymentWithRefundsDto {
            payment: payment.into(),
            refunds: refunds.into_iter().map(RefundDto::from).collect(),
        })
        .collect();
    Ok(axum::Json(rows))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Minor units to refund; the whole remaining amount when absent.
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "super::extract::integer::optional")]
    pub amount_minor: Option<i64>,
    /// Why: shown to the customer in the refund email and kept for audits.
    #[schema(schema_with = super::openapi::text_1_500, example = "damaged in transit")]
    pub reason: String,
    /// Put the ordered items back into stock (with the refund that completes the order's).
    #[serde(default)]
    pub restock: bool,
}

/// Refund an order, fully or in part, through the provider that took the payment. The order is
/// `refunded` once fully refunded; the customer is emailed. Administrators only. Requires an
/// `Idempotency-Key` header: retrying with the same key and body answers the first refund
/// instead of refunding twice.
#[utoipa::path(post, path = "/api/v1/admin/orders/{id}/refunds", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "order id"),
           ("Idempotency-Key" = String, Header, pattern = "^[\\x21-\\x7e](?:[\\x20-\\x7e]{0,198}[\\x21-\\x7e])?$",
            description = "client-chosen key, 1-200 printable ASCII characters")),
    request_body = RefundRequest,
    responses((status = 201, body = RefundDto),
              (status = 400, description = "no Idempotency-Key, a malformed one, or a body that is not well-formed JSON", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 401, body = ProblemDoc, content_type = "application/problem+json"),
              (status = 403, description = "not an administrator", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 404, body = ProblemDoc, content_type = "application/problem+json"),
              (status = 409, description = "the order is already refunded", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 422, description = "invalid fields (amount over what is left, negative, empty reason), no succeeded payment to refund, or the key was used for a different refund", body = ProblemDoc, content_type = "application/problem+json"),
              (status = 503, description = "the provider is unavailable; try again with the same key", body = ProblemDoc, content_type = "application/problem+json")))]
async fn refund_order(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RefundRequest>,
) -> ApiResult<(StatusCode, axum::Json<RefundDto>)> {
    let key = match headers.get("idempotency-key").map(|value| value.to_str()) {
        Some(Ok(key)) => Some(key.to_owned()),
        Some(Err(_)) => {
            return Err(ApiError::invalid_parameter(
                "Idempotency-Key",
                "must be printable ASCII",
            ));
        }
        None => None,
    };
    let missing = key.is_none();
    let asked_at = Utc::now();
    let command = RefundCommand {
        amount_minor: body.amount_minor,
        reason: body.reason,
        restock: body.restock,
        // A missing key is refused by the core like an empty one, after it has checked who is
        // asking: a customer hears 403, not what the request lacks.
        idempotency_key: key.unwrap_or_default(),
    };
    let refund = match state
        .shop
        .refund_order(&actor, order_id(&id)?, command)
        .await
    {
        Ok(refund) => refund,
        Err(AppError::Validation(_)) if missing => {
            return Err(ApiError::bad_request(
                "idempotency_key_required",
                "the Idempotency-Key header is required",
            ));
        }
        Err(error) => return Err(error.into()),
    };
    count_new_refund(&state.metrics, &refund, asked_at);
    Ok((StatusCode::CREATED, axum::Json(refund.into())))
}

/// Counts a refund in `shop_payment_refunds_total` when this call made it: a retry with the same
/// `Idempotency-Key` answers the refund made before the call began, which was counted then.
pub fn count_new_refund(metrics: &Metrics, refund: &Refund, asked_at: DateTime<Utc>) {
    if refund.created_at >= asked_at {
        metrics.payment_refunded(&refund.provider);
    }
}
