//! Payments recorded against orders (from a provider's callback or by staff).

use chrono::{DateTime, Utc};

use super::{InvalidValue, Money, OrderId, PaymentId, Text};

pub type ProviderName = Text<1, 50>;
/// The provider's own id for the transaction; unique per provider, which makes recording idempotent.
pub type ProviderReference = Text<1, 200>;
/// Why a payment failed, as the provider or staff put it.
pub type FailureReason = Text<0, 500>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Succeeded,
    Failed,
}

impl PaymentStatus {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw.trim() {
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            _ => Err(InvalidValue::new("must be one of: succeeded, failed")),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub order_id: OrderId,
    pub amount: Money,
    pub provider: ProviderName,
    pub reference: ProviderReference,
    pub status: PaymentStatus,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}
