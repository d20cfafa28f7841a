//! Request extractors that turn every malformed input into a problem response: JSON bodies,
//! query strings, and the bearer token that says who is asking.

use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{HeaderMap, StatusCode, Uri, header, request::Parts},
};
use serde::de::DeserializeOwned;
use shop_core::app::{Actor, AppError};

use super::error::ApiError;
use crate::server::AppState;

/// A JSON object body. Syntax errors are 400; a body of the wrong shape (types, missing or
/// unknown fields, an array instead of an object) is 422; a body that is not JSON at all is
/// 415; a body over the limit is 413.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::BadRequest {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "unsupported_media_type",
                detail: "expected a body with `Content-Type: application/json`".to_owned(),
                field: None,
            });
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| ApiError::BadRequest {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "body_too_large",
                detail: "the request body is too large".to_owned(),
                field: None,
            })?;
        // serde reads a struct from a JSON array as well (`[null, null]` is a struct of two
        // absent fields); every body of this API is an object.
        if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[') {
            return Err(ApiError::BadRequest {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid_body",
                detail: "the body must be a JSON object".to_owned(),
                field: None,
            });
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `application/json` or `application/<anything>+json`, parameters aside (what `axum::Json`
/// takes).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

/// Integers in JSON bodies: JSON has one number type, so `12.0` is the integer 12 to JSON Schema
/// (and to the OpenAPI document); serde's `i64` would refuse it. Fractions and values out of
/// range are still refused.
pub mod integer {
    use serde::{Deserialize, Deserializer, de::Error};

    /// For `i64` fields: `#[serde(deserialize_with = "integer::required")]`.
    pub fn required<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        from_number(serde_json::Number::deserialize(deserializer)?)
    }

    /// For `Option<i64>` fields: `#[serde(default, deserialize_with = "integer::optional")]`.
    pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        Option::<serde_json::Number>::deserialize(deserializer)?
            .map(from_number)
            .transpose()
    }

    fn from_number<E: Error>(number: serde_json::Number) -> Result<i64, E> {
        if let Some(value) = number.as_i64() {
            return Ok(value);
        }
        // 2^63 as f64; every integral f64 strictly below it (and at or above -2^63) fits.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        match number.as_f64() {
            Some(value) if value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value) =>
            {
                #[allow(clippy::cast_possible_truncation)]
                Ok(value as i64)
            }
            _ => Err(E::custom(format!(
                "invalid value: {number}, expected an integer"
            ))),
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

impl<T: DeserializeOwned> ApiQuery<T> {
    /// The query of `uri`, for a handler that reads it only when it needs to (a cached
    /// catalog answer does not).
    pub fn from_uri(uri: &Uri) -> Result<T, ApiError> {
        axum::extract::Query::<T>::try_from_uri(uri)
            .map(|axum::extract::Query(value)| value)
            .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Self::from_uri(&parts.uri).map(Self)
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
        // The live check also refuses tokens signed before a password reset ended the sessions.
        Ok(Self(
            state
                .shop
                .actor_from_live_access_token(token.trim())
                .await?,
        ))
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
