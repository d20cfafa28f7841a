//! Every failure of the REST API as an RFC 9457 problem: a stable `code`, a message safe to show,
//! and for validation a field → messages map. Internal causes are logged, never sent.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;
use shop_core::{adapters::images::ImageRejection, app::AppError, ports::ProviderError};
use utoipa::ToSchema;

use crate::problem::Problem;

/// An error on its way to becoming a problem response.
#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    /// Bad input the transport caught before the application saw it.
    BadRequest {
        status: StatusCode,
        code: &'static str,
        detail: String,
        field: Option<String>,
    },
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        Self::App(error)
    }
}

impl ApiError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            status: StatusCode::BAD_REQUEST,
            code,
            detail: detail.into(),
            field: None,
        }
    }

    /// A malformed path or query parameter.
    pub fn invalid_parameter(field: &str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_parameter",
            detail: detail.into(),
            field: Some(field.to_owned()),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { status, .. } => *status,
            Self::App(error) => app_status(error),
        }
    }
}

fn app_status(error: &AppError) -> StatusCode {
    match error {
        AppError::Validation(_) | AppError::IdempotencyKeyReused | AppError::Rule(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        AppError::Unauthenticated | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
        AppError::Forbidden | AppError::AccountDisabled | AppError::EmailNotVerified => {
            StatusCode::FORBIDDEN
        }
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::AlreadyExists { .. }
        | AppError::InvalidTransition(_)
        | AppError::NotCancellable(_)
        | AppError::InsufficientStock { .. }
        | AppError::Checkout(_)
        | AppError::Conflict => StatusCode::CONFLICT,
        AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        // A payment notification without a valid signature proves nothing.
        AppError::SignatureRefused(_) => StatusCode::UNAUTHORIZED,
        AppError::MalformedNotification(_) => StatusCode::BAD_REQUEST,
        AppError::PaymentProvider(ProviderError::UnsupportedCurrency { .. }) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        // The provider refused what the shop asked: the shop's upstream failed, not the client.
        AppError::PaymentProvider(ProviderError::Refused { .. }) => StatusCode::BAD_GATEWAY,
        // 503 makes providers retry a notification they could not have confirmed, and tells
        // clients to try again.
        AppError::PaymentProvider(ProviderError::Unavailable { .. }) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        AppError::ImageRejected(ImageRejection::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        AppError::ImageRejected(ImageRejection::UnsupportedFormat) => {
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        }
        AppError::ImageRejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The problem body as documented in the OpenAPI description: the one schema of every error
/// answer, `#/components/schemas/Problem` (see `super::openapi`). Some problems carry more
/// members (e.g. `available` and `requested` for `insufficient_stock`).
#[derive(Debug, ToSchema)]
#[schema(as = Problem, example = json!({
    "type": "https://shop.dev/problems/validation-failed", "title": "Unprocessable Entity",
    "status": 422, "detail": "the request has invalid fields", "code": "validation_failed",
    "errors": { "email": ["must be an e-mail address such as ada@example.com"] }
}))]
#[allow(dead_code)]
pub struct ProblemDoc {
    /// `https://shop.dev/problems/{code}`, or `about:blank` for errors outside the handlers.
    #[schema(rename = "type")]
    kind: String,
    /// The HTTP status's reason phrase.
    title: String,
    /// The HTTP status, repeated.
    #[schema(minimum = 400, maximum = 599)]
    status: u16,
    /// What went wrong, for people.
    #[schema(nullable = false)]
    detail: Option<String>,
    /// Stable machine-readable code, e.g. `validation_failed`, `insufficient_stock`.
    code: String,
    /// For validation failures: field → messages.
    #[schema(nullable = false)]
    errors: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (code, detail, errors) = match &self {
            Self::BadRequest {
                code,
                detail,
                field,
                ..
            } => {
                let errors = field
                    .as_ref()
                    .map(|field| json!({ field.as_str(): [detail] }));
                (*code, detail.clone(), errors)
            }
            Self::App(AppError::Validation(fields)) => (
                "validation_failed",
                "the request has invalid fields".to_owned(),
                Some(json!(fields)),
            ),
            Self::App(AppError::AlreadyExists { field }) => {
                let message = format!("{field} is already taken");
                let errors = json!({ *field: [ "is already taken" ] });
                ("already_exists", message, Some(errors))
            }
            Self::App(error @ AppError::Internal(source)) => {
                tracing::error!(error = %source, "request failed");
                (
                    error.code(),
                    "something went wrong on our side".to_owned(),
                    None,
                )
            }
            Self::App(error @ AppError::Unavailable(source)) => {
                tracing::error!(error = %source, "a store the request needs is unavailable");
                (error.code(), error.to_string(), None)
            }
            Self::App(error @ AppError::PaymentProvider(source)) => {
                // The provider's own words may name accounts or keys' ids: logs only.
                tracing::warn!(error = %source, "the payment provider failed the request");
                (error.code(), error.to_string(), None)
            }
            Self::App(error) => (error.code(), error.to_string(), None),
        };
        let mut problem = Problem::new(status)
            .detail(detail)
            .extension("code", json!(code));
        problem.kind = format!("https://shop.dev/problems/{}", code.replace('_', "-"));
        if let Some(errors) = errors {
            problem = problem.extension("errors", errors);
        }
        if let Self::App(AppError::InsufficientStock {
            product_id,
            requested,
            available,
        }) = &self
        {
            problem = problem
                .extension("available", json!(available))
                .extension("requested", json!(requested));
            if let Some(product_id) = product_id {
                problem = problem.extension("product_id", json!(product_id.to_string()));
            }
        }
        let mut response = problem.into_response();
        match &self {
            Self::App(AppError::Unauthenticated) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::App(AppError::TooManyAttempts { retry_after }) => {
                if let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
                {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response
    }
}
