//! `/pay/{token}`: the sandbox provider's payment page, so the whole money path runs on a laptop
//! with no keys and no network. GET shows the order and its total with Pay and Decline buttons;
//! the buttons post a form back here. Plain server-rendered HTML: no script, no style sheet, no
//! external asset, every value escaped, so the default `default-src 'none'` policy holds (only
//! `form-action 'self'` is added, for the buttons).
//!
//! The page is not part of the JSON API: it is absent from the OpenAPI document, and its errors
//! are pages too (a person reads them).

use axum::{
    Form, Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use shop_core::{app::AppError, domain::OrderStatus, ports::ProviderKind};

use super::payments::handle_notification;
use crate::server::AppState;

/// The page's policy: nothing may load, forms may only post back to the shop.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pay/{token}", get(show).post(decide))
        .route("/pay/return/{order_id}", get(returned))
}

/// Where Midtrans and Stripe send the customer back after paying. It says nothing about the
/// order (anyone may open the link): the notification, not this visit, decides the payment.
async fn returned() -> Response {
    page(
        StatusCode::OK,
        "Thank you",
        "<p>The shop confirms your payment as soon as the payment provider tells it;          your order in the shop shows when it is paid. You can close this page.</p>",
    )
}

/// The customer's choice, as the buttons post it.
#[derive(Debug, Deserialize)]
pub struct Decision {
    decision: String,
}

async fn show(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let payment = match state.shop.sandbox_payment(&token).await {
        Ok(payment) => payment,
        Err(error) => return error_page(&error),
    };
    let order = escape(&payment.order_id.to_string());
    let total = escape(&payment.total.to_string());
    let body = if payment.status == OrderStatus::PendingPayment {
        let action = escape(&format!("/pay/{token}"));
        format!(
            "<p>Order <code>{order}</code></p>\n\
             <p>Total: <strong>{total}</strong></p>\n\
             <form method=\"post\" action=\"{action}\">\n\
             <button type=\"submit\" name=\"decision\" value=\"pay\">Pay {total}</button>\n\
             <button type=\"submit\" name=\"decision\" value=\"decline\">Decline</button>\n\
             </form>\n\
             <p>This is the sandbox: no money moves.</p>"
        )
    } else {
        let status = escape(payment.status.as_str());
        format!(
            "<p>Order <code>{order}</code></p>\n<p>Total: <strong>{total}</strong></p>\n\
             <p>This order is {status}; there is nothing to pay.</p>"
        )
    };
    page(StatusCode::OK, "Sandbox payment", &body)
}

/// The buttons. The page does not mark the order itself: it builds the notification the
/// sandbox provider would send, signed with the sandbox key, and hands it to the same handling
/// as `POST /api/v1/payments/sandbox/webhook`. So the sandbox exercises exactly what Midtrans'
/// and Stripe's notifications go through (signature check, idempotency, amount check, the
/// audit record, events and metrics), and a shop can never be paid by a path that skips them.
async fn decide(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request_headers: HeaderMap,
    Form(decision): Form<Decision>,
) -> Response {
    // Browsers say where a form post comes from; only the page itself may press its buttons
    // (another site holding a leaked link cannot pay or decline through a visitor's browser).
    if request_headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() == b"cross-site")
    {
        return page(
            StatusCode::FORBIDDEN,
            "Not from this page",
            "<p>Pay and Decline work only from the payment page itself.</p>",
        );
    }
    let paid = match decision.decision.as_str() {
        "pay" => true,
        "decline" => false,
        _ => {
            return page(
                StatusCode::BAD_REQUEST,
                "Unknown choice",
                "<p>Choose Pay or Decline.</p>",
            );
        }
    };
    let (headers, body) = match state.shop.sandbox_notification(&token, paid).await {
        Ok(notification) => notification,
        Err(error) => return error_page(&error),
    };
    let handled = handle_notification(&state, ProviderKind::Sandbox, &headers, &body).await;
    if let Err(error) = handled {
        return page(
            error.status(),
            "Payment not recorded",
            "<p>The shop could not record this payment. Go back and try again.</p>",
        );
    }
    // What the order is now, not what was clicked: a second click on a paid order, say, changed
    // nothing and must not read "declined".
    let status = match state.shop.sandbox_payment(&token).await {
        Ok(payment) => payment.status,
        Err(error) => return error_page(&error),
    };
    match status {
        OrderStatus::Paid => page(
            StatusCode::OK,
            "Payment received",
            "<p>Thank you: the payment is recorded. You can close this page.</p>",
        ),
        OrderStatus::PendingPayment => page(
            StatusCode::OK,
            "Payment declined",
            "<p>The payment was declined; the order still waits for payment.</p>",
        ),
        other => page(
            StatusCode::OK,
            "Nothing to pay",
            &format!(
                "<p>This order is {}; nothing was changed.</p>",
                escape(other.as_str())
            ),
        ),
    }
}

fn error_page(error: &AppError) -> Response {
    match error {
        AppError::NotFound(_) => page(
            StatusCode::NOT_FOUND,
            "No such payment",
            "<p>This payment link is unknown or has expired.</p>",
        ),
        AppError::Internal(source) => {
            tracing::error!(error = %source, "sandbox payment page failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "<p>Something went wrong on our side. Try again later.</p>",
            )
        }
        other => page(
            StatusCode::CONFLICT,
            "Payment not possible",
            &format!("<p>{}</p>", escape(&other.to_string())),
        ),
    }
}

/// A whole page; `body` is HTML the caller built from escaped values.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let title = escape(title);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n{body}\n</body>\n</html>\n"
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    // The token in the URL is what lets anyone pay: keep the page out of caches.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // ...and out of the Referer header of anything the customer follows from it.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Text as HTML: the five characters that could end an element or an attribute.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_values_is_shown_as_text() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
