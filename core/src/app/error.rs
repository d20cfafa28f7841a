//! The errors commands and queries return. Each has a stable `code` that transports map to HTTP
//! statuses and gRPC codes; messages are safe to show to users.

use std::collections::BTreeMap;

use crate::{
    adapters::images::ImageRejection,
    domain::{InvalidValue, OrderStatus, ProductId, TransitionError, checkout::CheckoutError},
    ports::StoreError,
};

/// Field name → what is wrong with it; a field may collect several messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Keeps the value when it parsed, records the refusal under `field` otherwise.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, InvalidValue>) -> Option<T> {
        parsed.map_err(|error| self.add(field, error.0)).ok()
    }

    /// Like [`Self::check`] for an optional input: absent stays absent.
    pub fn check_opt<T, R>(
        &mut self,
        field: &str,
        raw: Option<R>,
        parse: impl FnOnce(R) -> Result<T, InvalidValue>,
    ) -> Option<Option<T>> {
        match raw {
            None => Some(None),
            Some(raw) => self.check(field, parse(raw)).map(Some),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> &BTreeMap<String, Vec<String>> {
        &self.0
    }

    pub fn into_error(self) -> AppError {
        AppError::Validation(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the request has invalid fields")]
    Validation(FieldErrors),
    #[error("sign in first")]
    Unauthenticated,
    #[error("you are not allowed to do this")]
    Forbidden,
    #[error("the e-mail or password is wrong")]
    InvalidCredentials,
    #[error("this account is disabled")]
    AccountDisabled,
    /// `SHOP_REQUIRE_VERIFIED_EMAIL` is on and the account has not verified its address.
    #[error("verify your e-mail address first: use the verification e-mail, or ask for a new one")]
    EmailNotVerified,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field} is already taken")]
    AlreadyExists { field: &'static str },
    #[error(transparent)]
    InvalidTransition(#[from] TransitionError),
    #[error("a customer cannot cancel an order that is {}", .0.as_str())]
    NotCancellable(OrderStatus),
    #[error("not enough stock")]
    InsufficientStock {
        product_id: Option<ProductId>,
        requested: i64,
        available: i64,
    },
    #[error(transparent)]
    Checkout(CheckoutError),
    #[error("the idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("the record was changed meanwhile; reload and try again")]
    Conflict,
    #[error("too many attempts; try again later")]
    TooManyAttempts { retry_after: std::time::Duration },
    #[error("{0}")]
    Rule(String),
    /// A payment notification's signature is missing, wrong or too old: nothing changed.
    #[error("{0}")]
    SignatureRefused(SignatureProblem),
    /// A signed payment notification that cannot be read: nothing changed.
    #[error("the notification is malformed: {0}")]
    MalformedNotification(String),
    /// The payment provider refused the shop's request or could not be reached; the source is
    /// logged, never shown.
    #[error("the payment provider could not handle the request; try again later")]
    PaymentProvider(#[source] crate::ports::ProviderError),
    /// An uploaded product image was refused (size, format by content, pixels, damage).
    #[error(transparent)]
    ImageRejected(#[from] ImageRejection),
    /// A store the shop needs for the request (the key-value store: sessions, limits) could
    /// not be reached; retrying later may work. The source is logged, never shown.
    #[error("a service the shop depends on is unavailable; try again later")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Storage or another dependency failed; the source is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type AppResult<T> = Result<T, AppError>;

/// Why a payment notification's signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("the notification carries no signature")]
    Missing,
    #[error("the notification's signature does not match")]
    Invalid,
    #[error("the notification's signature is too old")]
    Stale,
}

impl SignatureProblem {
    pub const fn code(self) -> &'static str {
        match self {
            Self::Missing => "signature_missing",
            Self::Invalid => "signature_invalid",
            Self::Stale => "signature_stale",
        }
    }
}

impl AppError {
    /// Stable machine-readable code, also used as a metric label.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::InvalidCredentials => "invalid_credentials",
            Self::AccountDisabled => "account_disabled",
            Self::EmailNotVerified => "email_not_verified",
            Self::NotFound(_) => "not_found",
            Self::AlreadyExists { .. } => "already_exists",
            Self::InvalidTransition(_) => "invalid_transition",
            Self::NotCancellable(_) => "not_cancellable",
            Self::InsufficientStock { .. } => "insufficient_stock",
            Self::Checkout(error) => match error {
                CheckoutError::EmptyCart => "cart_empty",
                CheckoutError::ProductUnavailable { .. } => "product_unavailable",
                CheckoutError::InsufficientStock { .. } => "insufficient_stock",
                CheckoutError::MixedCurrencies => "mixed_currencies",
                CheckoutError::TotalTooLarge => "total_too_large",
                CheckoutError::Coupon(_) => "coupon_not_applicable",
                CheckoutError::Shipping(_) => "shipping_method_unavailable",
            },
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::Conflict => "conflict",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::Rule(_) => "rule_violated",
            Self::SignatureRefused(problem) => problem.code(),
            Self::MalformedNotification(_) => "notification_malformed",
            Self::PaymentProvider(crate::ports::ProviderError::Refused { .. }) => {
                "payment_provider_refused"
            }
            Self::PaymentProvider(crate::ports::ProviderError::UnsupportedCurrency { .. }) => {
                "payment_currency_unsupported"
            }
            Self::PaymentProvider(_) => "payment_provider_unavailable",
            Self::ImageRejected(rejection) => match rejection {
                ImageRejection::TooLarge { .. } => "image_too_large",
                ImageRejection::UnsupportedFormat => "image_unsupported_type",
                ImageRejection::TooManyPixels { .. } => "image_too_many_pixels",
                ImageRejection::Undecodable(_) => "image_undecodable",
            },
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    pub(crate) fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::single(field, message))
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound("record"),
            StoreError::Duplicate { field } => Self::AlreadyExists { field },
            StoreError::Checkout(CheckoutError::InsufficientStock {
                product_id,
                requested,
                available,
            }) => Self::InsufficientStock {
                product_id: Some(product_id),
                requested,
                available,
            },
            StoreError::Checkout(error) => Self::Checkout(error),
            StoreError::InsufficientStock { available } => Self::InsufficientStock {
                product_id: None,
                requested: 0,
                available,
            },
            StoreError::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            StoreError::Conflict => Self::Conflict,
            StoreError::Backend(source) => Self::Internal(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_collect_every_refusal_by_field() {
        let mut errors = FieldErrors::default();
        assert_eq!(errors.check("a", Ok::<_, InvalidValue>(1)), Some(1));
        assert_eq!(
            errors.check::<i32>("b", Err(InvalidValue::new("bad"))),
            None
        );
        errors.add("b", "worse");
        assert_eq!(errors.fields()["b"], vec!["bad", "worse"]);
        assert!(!errors.fields().contains_key("a"));
    }

    #[test]
    fn internal_errors_never_show_their_source() {
        let error = AppError::from(StoreError::Backend(
            "relation \"users\" does not exist".into(),
        ));
        assert_eq!(error.to_string(), "internal error");
        assert_eq!(error.code(), "internal");
    }
}
