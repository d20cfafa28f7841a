//! Single-use account tokens (password reset, e-mail verification): their records in the shop's
//! database. Only SHA-256 digests of the tokens are stored; the tokens themselves exist only in
//! the e-mail that carries them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{Email, PasswordHash, UserId};

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    PasswordReset,
    EmailVerification,
}

impl TokenPurpose {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
        }
    }
}

/// A token as stored: its digest, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountToken {
    /// Lower-case hex SHA-256 of the token.
    pub token_hash: String,
    pub user_id: UserId,
    pub purpose: TokenPurpose,
    /// The address the token was mailed to.
    pub email: Email,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait AccountTokenStore: Send + Sync {
    /// Records a freshly mailed token.
    async fn insert_account_token(&self, token: &AccountToken) -> StoreResult<()>;

    /// An unused token of `purpose` as stored (expired or not), without redeeming it.
    async fn find_account_token(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
    ) -> StoreResult<Option<AccountToken>>;

    /// Redeems a password-reset token: in one transaction sets the account's password (locking
    /// the account's row before the token's), marks the token used (only if unused and not
    /// expired at `now`), and marks the account's other unused reset tokens used. The account's
    /// id and current e-mail, or `None` (nothing changed) when the token is unknown, used,
    /// expired, its account is gone or no longer has the address the token was mailed to.
    async fn redeem_password_reset(
        &self,
        token_hash: &str,
        password_hash: &PasswordHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(UserId, Email)>>;

    /// Redeems an e-mail verification token: marks it used and the account verified at `now`,
    /// only while the account still has the address the token was mailed to. The account's id,
    /// or `None` (nothing changed) when the token is unknown, used, expired or for an old
    /// address.
    async fn redeem_email_verification(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>>;

    /// Sets a signed-in account's new password and, in the same transaction, makes its
    /// outstanding reset tokens useless (they were mailed for the password it had). `NotFound`
    /// when the account is gone.
    async fn set_password(
        &self,
        user_id: UserId,
        password_hash: &PasswordHash,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}
