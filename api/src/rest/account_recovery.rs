//! `/auth/password-reset`, `/auth/verify-email` and `/users/me/email-verification`: getting back
//! into an account, and proving it receives mail. The tokens arrive by e-mail (see
//! `shop_core::app` `account_tokens`).
//!
//! The public endpoints share a per-client-IP budget of their own ([`PER_IP_PER_MINUTE`]), on top
//! of the API's general limit: guessing tokens or flooding mailboxes from one address stops
//! quickly. Reset requests are also limited per e-mail address, whoever sends them.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::{Extensions, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiError, ProblemDoc},
    extract::{ApiJson, SignedIn},
};
use crate::{
    rate_limit::{self, Decision},
    server::AppState,
};

/// Requests per minute per client IP on the public reset and verification endpoints.
pub const PER_IP_PER_MINUTE: u64 = 10;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
        .routes(routes!(verify_email))
        .routes(routes!(resend_email_verification))
}

/// A handler's refusal: a problem, already a response.
type Refused = Response;

fn refuse(error: impl Into<ApiError>) -> Refused {
    error.into().into_response()
}

/// Counts the request in the client IP's budget; a 429 problem with `Retry-After` past it.
async fn per_ip(
    state: &AppState,
    headers: &HeaderMap,
    extensions: &Extensions,
) -> Result<(), Refused> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let ip = rate_limit::client_ip(headers, peer, state.limits.trust_forwarded_for);
    match rate_limit::check_bucket(state, "account-recovery", PER_IP_PER_MINUTE, ip).await {
        Decision::Allow => Ok(()),
        Decision::Limit { limit, retry_after } => Err(super::middleware::rate_limited(
            &format!(
                "more than {limit} password-reset or verification requests per minute from \
                 this address"
            ),
            retry_after,
        )),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// An address mail can reach (a domain with a dot); case does not matter.
    #[schema(format = "email", max_length = 254, example = "ada@example.com")]
    email: String,
}

/// Ask for a password-reset e-mail. The answer is 202 whether or not an account has the address
/// (and takes as long): if one has, it receives a single-use token valid for 30 minutes.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth",
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "accepted; an e-mail follows if an account has the address"),
        (status = 422, description = "not an e-mail address", body = ProblemDoc),
        (status = 429, description = "too many requests for this address (3 an hour) or from this client (10 a minute)", body = ProblemDoc),
        (status = 503, description = "the key-value store (Redis) cannot be reached; try again later", body = ProblemDoc),
    ))]
async fn request_password_reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    ApiJson(body): ApiJson<PasswordResetRequest>,
) -> Result<StatusCode, Refused> {
    per_ip(&state, &headers, &extensions).await?;
    state
        .shop
        .request_password_reset(&body.email)
        .await
        .map_err(refuse)?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirmation {
    /// The token from the e-mail.
    token: String,
    /// The new password: 8 to 128 characters, not all white space.
    #[schema(schema_with = super::openapi::password, example = "correct horse battery")]
    password: String,
}

/// Set a new password with the token from the reset e-mail. The token works once; every session
/// of the account ends (its refresh and access tokens stop working).
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth",
    request_body = PasswordResetConfirmation,
    responses(
        (status = 204, description = "the password is set; sign in with it"),
        (status = 422, description = "the token is unknown, used or expired (`errors.token`), or the password is not acceptable (`errors.password`); nothing changed", body = ProblemDoc),
        (status = 429, description = "too many requests from this client", body = ProblemDoc),
        (status = 503, description = "the key-value store (Redis) cannot be reached; try again later", body = ProblemDoc),
    ))]
async fn confirm_password_reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    ApiJson(body): ApiJson<PasswordResetConfirmation>,
) -> Result<StatusCode, Refused> {
    per_ip(&state, &headers, &extensions).await?;
    state
        .shop
        .confirm_password_reset(&body.token, &body.password)
        .await
        .map_err(refuse)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailVerification {
    /// The token from the verification e-mail.
    token: String,
}

/// Verify the account's e-mail address with the token from the verification e-mail (valid 48
/// hours, once, and only while the account still has the address it was sent to).
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "auth",
    request_body = EmailVerification,
    responses(
        (status = 204, description = "the address is verified"),
        (status = 422, description = "the token is unknown, used, expired or for an address the account no longer has; nothing changed", body = ProblemDoc),
        (status = 429, description = "too many requests from this client", body = ProblemDoc),
        (status = 503, description = "the key-value store (Redis) cannot be reached; try again later", body = ProblemDoc),
    ))]
async fn verify_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    ApiJson(body): ApiJson<EmailVerification>,
) -> Result<StatusCode, Refused> {
    per_ip(&state, &headers, &extensions).await?;
    state.shop.verify_email(&body.token).await.map_err(refuse)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send the signed-in account a new verification e-mail (3 an hour).
#[utoipa::path(post, path = "/api/v1/users/me/email-verification", tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "a verification e-mail follows"),
        (status = 401, description = "not signed in, or the session has ended", body = ProblemDoc),
        (status = 422, description = "the address is verified already (`rule_violated`)", body = ProblemDoc),
        (status = 429, description = "three e-mails were asked for within the hour", body = ProblemDoc),
        (status = 503, description = "the key-value store (Redis) cannot be reached; try again later", body = ProblemDoc),
    ))]
async fn resend_email_verification(
    State(state): State<AppState>,
    SignedIn(actor): SignedIn,
) -> Result<StatusCode, Refused> {
    state
        .shop
        .resend_email_verification(&actor)
        .await
        .map_err(refuse)?;
    Ok(StatusCode::ACCEPTED)
}
