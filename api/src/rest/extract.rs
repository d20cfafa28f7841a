//! Request extractors that turn every malformed input into a problem response: JSON bodies,
//! query strings, and the bearer token that says who is asking.

use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;
use shop_core::app::{Actor, AppError};

use super::error::ApiError;
use crate::server::AppState;

/// A JSON body. Syntax errors are 400; a body of the wrong shape (types, missing or unknown
/// fields) is 422; a body that is not JSON at all is 415; a body over the limit is 413.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let (status, code) = match &rejection {
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
        JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        JsonRejection::MissingJsonContentType(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        }
        JsonRejection::BytesRejection(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
        _ => (StatusCode::BAD_REQUEST, "bad_request"),
    };
    // serde's messages name the offending field and the expected type; they hold nothing internal.
    let detail = match &rejection {
        JsonRejection::BytesRejection(_) => "the request body is too large".to_owned(),
        other => other.body_text(),
    };
    ApiError::BadRequest {
        status,
        code,
        detail,
        field: None,
    }
}

/// An optional JSON body: empty means the type's default.
pub fn json_or_default<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|error| {
        let (status, code) = if error.is_data() {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")
        } else {
            (StatusCode::BAD_REQUEST, "malformed_json")
        };
        ApiError::BadRequest {
            status,
            code,
            detail: format!("invalid JSON body: {error}"),
            field: None,
        }
    })
}

/// A query string; anything unparsable is a 400 naming what was wrong.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
    }
}

/// Whoever is asking: a signed-in user, or anonymous when there is no `Authorization` header.
/// A header that is present but wrong is refused rather than treated as anonymous.
#[derive(Debug, Clone, Copy)]
pub struct MaybeSignedIn(pub Actor);

impl FromRequestParts<AppState> for MaybeSignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Self(Actor::Anonymous));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or(ApiError::App(AppError::Unauthenticated))?;
        Ok(Self(state.shop.actor_from_access_token(token.trim())?))
    }
}

/// A signed-in user; anonymous requests get 401.
#[derive(Debug, Clone, Copy)]
pub struct SignedIn(pub Actor);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match MaybeSignedIn::from_request_parts(parts, state).await?.0 {
            Actor::Anonymous => Err(ApiError::App(AppError::Unauthenticated)),
            actor => Ok(Self(actor)),
        }
    }
}

/// Parses an id from the path, or 400 naming the parameter.
pub fn path_id<T>(
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, shop_core::domain::InvalidValue>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|error| ApiError::invalid_parameter("id", error.0))
}
