//! Every failure of the gRPC API as a status, decided here and nowhere else. Each status carries
//! a `google.rpc.ErrorInfo` (reason = the application's stable code, upper-cased; domain
//! `shop.dev`); validation failures add a `google.rpc.BadRequest` naming the request fields,
//! refusals that wait for time add a `google.rpc.RetryInfo`. Messages are safe to show: internal
//! causes are logged, never sent.

use std::collections::HashMap;

use shop_core::{
    app::{AppError, AppResult, FieldErrors},
    domain::InvalidValue,
    ports::ProviderError,
};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

/// The domain of every `ErrorInfo` the shop sends.
pub const ERROR_DOMAIN: &str = "shop.dev";

/// Application field names that a request spells differently, as `(application, request)`.
/// Most fields have the same name in both; listings and a few others do not.
pub type Renames = &'static [(&'static str, &'static str)];

/// The page fields every listing renames: the application's `limit` and `cursor` are the
/// requests' `page_size` and `page_token`.
pub const PAGE_FIELDS: Renames = &[("limit", "page_size"), ("cursor", "page_token")];

/// The status for an application error, with field names as the application spells them.
pub fn status(error: AppError) -> Status {
    status_renamed(error, &[])
}

/// The status for an application error, naming fields as the request does.
pub fn status_renamed(error: AppError, renames: Renames) -> Status {
    let reason = error.code().to_ascii_uppercase();
    let mut details = ErrorDetails::new();
    let mut metadata = HashMap::new();
    let (code, message) = match &error {
        AppError::Validation(fields) => {
            let mut summary = Vec::new();
            for (field, messages) in fields.fields() {
                let field = renames
                    .iter()
                    .find(|(from, _)| from == field)
                    .map_or(field.as_str(), |(_, to)| to);
                for message in messages {
                    details.add_bad_request_violation(field, message);
                    summary.push(format!("{field} {message}"));
                }
            }
            let message = format!("the request has invalid fields: {}", summary.join("; "));
            (Code::InvalidArgument, message)
        }
        AppError::Unauthenticated | AppError::InvalidCredentials => {
            (Code::Unauthenticated, error.to_string())
        }
        AppError::Forbidden | AppError::AccountDisabled => {
            (Code::PermissionDenied, error.to_string())
        }
        AppError::NotFound(_) => (Code::NotFound, error.to_string()),
        AppError::AlreadyExists { field } => {
            metadata.insert("field".to_owned(), (*field).to_owned());
            (Code::AlreadyExists, error.to_string())
        }
        AppError::InsufficientStock {
            product_id,
            requested,
            available,
        } => {
            if let Some(product_id) = product_id {
                metadata.insert("product_id".to_owned(), product_id.to_string());
            }
            metadata.insert("requested".to_owned(), requested.to_string());
            metadata.insert("available".to_owned(), available.to_string());
            (Code::FailedPrecondition, error.to_string())
        }
        AppError::IdempotencyKeyReused => {
            details.add_precondition_failure_violation(
                "IDEMPOTENCY_KEY_REUSED",
                "idempotency_key",
                "was already used for a different request; choose a new key",
            );
            (Code::FailedPrecondition, error.to_string())
        }
        AppError::InvalidTransition(_)
        | AppError::NotCancellable(_)
        | AppError::Checkout(_)
        | AppError::EmailNotVerified
        | AppError::Rule(_) => (Code::FailedPrecondition, error.to_string()),
        // Someone changed the record meanwhile: retrying the whole read-modify-write may work.
        AppError::Conflict => (Code::Aborted, error.to_string()),
        AppError::TooManyAttempts { retry_after } => {
            details.set_retry_info(Some(*retry_after));
            (Code::ResourceExhausted, error.to_string())
        }
        AppError::SignatureRefused(_) => (Code::Unauthenticated, error.to_string()),
        AppError::MalformedNotification(_) => (Code::InvalidArgument, error.to_string()),
        AppError::ImageRejected(_) => (Code::InvalidArgument, error.to_string()),
        AppError::PaymentProvider(ProviderError::UnsupportedCurrency { .. }) => {
            (Code::FailedPrecondition, error.to_string())
        }
        // The provider refused or could not be reached: retrying later may work.
        AppError::PaymentProvider(source) => {
            tracing::warn!(error = %source, "the payment provider failed the request");
            (Code::Unavailable, error.to_string())
        }
        // The key-value store (sessions, limits) is down: retrying later may work.
        AppError::Unavailable(source) => {
            tracing::error!(error = %source, "a store the call needs is unavailable");
            (Code::Unavailable, error.to_string())
        }
        AppError::Internal(source) => {
            tracing::error!(error = %source, "gRPC call failed");
            (
                Code::Internal,
                "something went wrong on our side".to_owned(),
            )
        }
    };
    details.set_error_info(reason, ERROR_DOMAIN, metadata);
    Status::with_error_details(code, message, details)
}

/// INVALID_ARGUMENT for one field the transport refused before the application saw it.
pub fn invalid_argument(field: &str, message: impl Into<String>) -> Status {
    status(FieldErrors::single(field, message).into_error())
}

/// A write while the shop is in read-only maintenance (see [`crate::maintenance`]).
pub fn maintenance(message: &str, retry_after: std::time::Duration) -> Status {
    let mut details = ErrorDetails::with_retry_info(Some(retry_after));
    details.set_error_info("MAINTENANCE", ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(Code::Unavailable, message, details)
}

/// The request could not be decoded as the method's message (see the gRPC middleware). `cause`
/// is tonic's description of the decoding failure: it names wire types and fields, never data
/// of the server.
pub fn malformed_request(cause: &str) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info("MALFORMED_REQUEST", ERROR_DOMAIN, HashMap::new());
    let message = if cause.is_empty() {
        "the request is not a well-formed message of this method's type".to_owned()
    } else {
        format!("the request is not a well-formed message of this method's type: {cause}")
    };
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// The per-client rate limit refused the call.
pub fn rate_limited(limit: u64, retry_after: std::time::Duration) -> Status {
    let mut details = ErrorDetails::with_retry_info(Some(retry_after));
    details.set_error_info("RATE_LIMITED", ERROR_DOMAIN, HashMap::new());
    Status::with_error_details(
        Code::ResourceExhausted,
        format!(
            "more than {limit} requests per minute; retry in {} s",
            retry_after.as_secs()
        ),
        details,
    )
}

/// Application results become statuses with `?`-friendly calls.
pub trait OrStatus<T> {
    fn or_status(self) -> Result<T, Status>;
    fn or_status_renamed(self, renames: Renames) -> Result<T, Status>;
}

impl<T> OrStatus<T> for AppResult<T> {
    fn or_status(self) -> Result<T, Status> {
        self.map_err(status)
    }

    fn or_status_renamed(self, renames: Renames) -> Result<T, Status> {
        self.map_err(|error| status_renamed(error, renames))
    }
}

/// A required id: empty is "is required", anything unparsable names the field.
pub fn required_id<T>(
    field: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Result<T, Status> {
    if raw.trim().is_empty() {
        return Err(invalid_argument(field, "is required"));
    }
    parse(raw).map_err(|error| invalid_argument(field, error.0))
}

/// The status code's canonical name, as the gRPC specification spells it (a metric label).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_core::ports::StoreError;

    #[test]
    fn validation_names_the_request_fields() {
        let mut fields = FieldErrors::default();
        fields.add("limit", "must be between 1 and 100");
        fields.add("sort", "must be one of: newest");
        let status = status_renamed(fields.into_error(), PAGE_FIELDS);
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let violations: Vec<_> = details
            .bad_request()
            .expect("a BadRequest")
            .field_violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(violations, ["page_size", "sort"]);
        assert_eq!(
            details.error_info().expect("an ErrorInfo").reason,
            "VALIDATION_FAILED"
        );
    }

    #[test]
    fn an_unreachable_key_value_store_is_unavailable_not_unauthenticated() {
        let status = status(AppError::Unavailable(
            "connection refused: 10.0.0.7:6379".into(),
        ));
        assert_eq!(status.code(), Code::Unavailable);
        assert!(!status.message().contains("10.0.0.7"));
    }

    #[test]
    fn internal_errors_say_nothing_about_their_cause() {
        let error = AppError::from(StoreError::Backend(
            "relation \"users\" does not exist".into(),
        ));
        let status = status(error);
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("users"));
    }

    #[test]
    fn malformed_requests_are_the_clients_mistake() {
        let status = malformed_request("failed to decode Protobuf message: invalid wire type");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().ends_with("invalid wire type"),
            "{status:?}"
        );
        let details = status.get_error_details();
        assert_eq!(
            details.error_info().expect("an ErrorInfo").reason,
            "MALFORMED_REQUEST"
        );
    }

    #[test]
    fn ids_are_required_and_named() {
        for raw in ["", "  ", "not-a-uuid"] {
            let status = required_id("order_id", raw, shop_core::domain::OrderId::parse)
                .expect_err("refused");
            assert_eq!(status.code(), Code::InvalidArgument);
            let details = status.get_error_details();
            let bad_request = details.bad_request().expect("a BadRequest");
            assert_eq!(bad_request.field_violations[0].field, "order_id");
        }
    }
}
