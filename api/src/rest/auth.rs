//! `/auth`: registration and sessions.

use axum::{extract::State, http::StatusCode};
use serde::Deserialize;
use shop_core::app::{Actor, RegisterUser};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    dto::{SessionDto, UserDto},
    error::ApiResult,
    extract::ApiJson,
};
use crate::server::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// An address mail can reach (a domain with a dot); case does not matter.
    #[schema(format = "email", max_length = 254, example = "ada@example.com")]
    email: String,
    /// 8 to 128 characters, not all white space.
    #[schema(schema_with = super::openapi::password, example = "correct horse battery")]
    password: String,
    #[schema(schema_with = super::openapi::text_1_100, example = "Ada Lovelace")]
    full_name: String,
}

/// Create a customer account.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = UserDto), (status = 409, description = "e-mail taken", body = super::error::ProblemDoc),
              (status = 422, description = "invalid fields", body = super::error::ProblemDoc)))]
async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, axum::Json<UserDto>)> {
    let command = RegisterUser {
        email: body.email,
        password: body.password,
        full_name: body.full_name,
        role: None,
    };
    let user = state.shop.register_user(&Actor::Anonymous, command).await?;
    state.metrics.users_registered.inc();
    Ok((StatusCode::CREATED, axum::Json(user.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ada@example.com")]
    email: String,
    #[schema(example = "correct horse battery")]
    password: String,
}

/// Sign in: a short-lived access token and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionDto), (status = 401, description = "wrong e-mail or password", body = super::error::ProblemDoc),
              (status = 403, description = "the account is disabled", body = super::error::ProblemDoc),
              (status = 429, description = "too many failed attempts for this account", body = super::error::ProblemDoc)))]
async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<axum::Json<SessionDto>> {
    let session = state.shop.login(&body.email, &body.password).await?;
    Ok(axum::Json(session.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// Trade a refresh token for a new session. Each refresh token works once; presenting a used one
/// again ends every session that descends from the same sign-in.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = SessionDto), (status = 401, description = "an unknown, used or expired refresh token", body = super::error::ProblemDoc),
              (status = 403, description = "the account is disabled", body = super::error::ProblemDoc)))]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<axum::Json<SessionDto>> {
    let session = state.shop.refresh(&body.refresh_token).await?;
    Ok(axum::Json(session.into()))
}

/// Sign out: the refresh token (and its family) stops working.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "signed out")))]
async fn logout(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    state.shop.logout(&body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}
