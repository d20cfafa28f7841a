//! Password reset and e-mail verification.
//!
//! Both work with single-use tokens mailed to the account's address. A token is 256 random bits
//! (base64url); only its SHA-256 is stored (`account_tokens`), and the token itself exists only
//! in the e-mail: the commands here write an event (`password_reset_requested`,
//! `email_verification_requested`) without any token, and the email worker mints the token
//! ([`WorkerData::issue_account_token`]) when it writes the message. So neither the outbox nor
//! the message broker nor the analytics store ever holds a usable token.
//!
//! A reset request is answered the same way whether or not an account has the address: the
//! command does the same work either way (it writes the event; the worker decides), so neither
//! the answer nor its timing tells whether the address is registered.
//!
//! Redeeming a reset token sets the password and ends every session of the account: the
//! account's "sessions ended" mark (key-value store, kept as long as a refresh token lives)
//! makes every refresh and access token whose login checked the password at or before it
//! useless. Sessions carry their login's time (`auth_us`) unchanged through refreshes, and the
//! mark is taken after the new password is committed, so neither a refresh nor a login with the
//! old password racing the reset yields a session that survives it. The mark is also written
//! before redeeming: if the store fails after the commit, the sessions are ended all the same.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::{
    Actor, AppError, AppResult, Shop, WorkerData,
    auth::{digest, random_token, unavailable},
    password,
};
use crate::{
    domain::{DomainEvent, Email, Password, User, UserId},
    ports::{AccountToken, StoreResult, TokenPurpose},
};

/// How long a password-reset token works.
pub const PASSWORD_RESET_TTL: Duration = Duration::from_secs(30 * 60);
/// How long an e-mail verification token works.
pub const EMAIL_VERIFICATION_TTL: Duration = Duration::from_secs(48 * 60 * 60);
/// Reset requests per address per [`REQUEST_WINDOW`] (whoever asks): a mailbox is not flooded.
pub const RESET_REQUESTS_PER_ADDRESS: u64 = 3;
/// Verification e-mails an account may ask for per [`REQUEST_WINDOW`].
pub const VERIFICATION_RESENDS_PER_ACCOUNT: u64 = 3;
pub const REQUEST_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Longest token accepted: the real ones have 43 characters.
const MAX_TOKEN_LENGTH: usize = 128;

fn invalid_token() -> AppError {
    AppError::validation(
        "token",
        "is not valid: it may have been used already or expired; ask for a new one",
    )
}

/// The digest of a token as presented, or `invalid_token` for one no mint could have made.
fn token_digest(token: &str) -> AppResult<String> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LENGTH {
        return Err(invalid_token());
    }
    Ok(digest(token))
}

/// Holds Unix µs (an earlier version's `sessions-revoked:` key held ms).
fn sessions_key(user_id: UserId) -> String {
    format!("sessions-ended:{user_id}")
}

impl Shop {
    /// With `SHOP_REQUIRE_VERIFIED_EMAIL`: checkout needs a verified address.
    #[must_use]
    pub fn with_verified_email_required(mut self, required: bool) -> Self {
        self.require_verified_email = required;
        self
    }

    /// Asks for a password-reset e-mail. Succeeds the same way whether or not an account has
    /// `email`; refuses only a malformed address, and the [`RESET_REQUESTS_PER_ADDRESS`]th + 1
    /// request for one address within [`REQUEST_WINDOW`] (`TooManyAttempts`).
    pub async fn request_password_reset(&self, email: &str) -> AppResult<()> {
        let email = Email::parse(email).map_err(|error| AppError::validation("email", error.0))?;
        self.count_attempt(
            &format!("password-reset:{}", digest(email.as_str())),
            RESET_REQUESTS_PER_ADDRESS,
        )
        .await?;
        let event = DomainEvent::PasswordResetRequested {
            email: email.to_string(),
        };
        self.store
            .append_events(&[event.into_outbox(self.clock.now())])
            .await?;
        tracing::info!("password reset requested");
        Ok(())
    }

    /// Sets a new password with a reset token and ends every session of the account. The token
    /// works once; an unknown, used or expired one changes nothing.
    pub async fn confirm_password_reset(&self, token: &str, password: &str) -> AppResult<()> {
        let password =
            Password::parse(password).map_err(|error| AppError::validation("password", error.0))?;
        let token_hash = token_digest(token)?;
        // Looked up before the (deliberately slow) hashing: made-up tokens cost no argon2 work.
        let found = self
            .store
            .find_account_token(&token_hash, TokenPurpose::PasswordReset)
            .await?
            .filter(|found| found.expires_at > self.clock.now())
            .ok_or_else(invalid_token)?;
        let password_hash = password::hash(password).await?;
        // Ending the sessions early is harmless (the reset is about to end them) and covers a
        // key-value failure after the commit below.
        self.end_all_sessions(found.user_id).await?;
        let Some((user_id, email)) = self
            .store
            .redeem_password_reset(&token_hash, &password_hash, self.clock.now())
            .await?
        else {
            return Err(invalid_token());
        };
        // Again after the commit: a login or refresh that read the old password meanwhile
        // carries an earlier time than this mark.
        self.end_all_sessions(user_id).await?;
        // The owner proved access to the mailbox: earlier failed sign-ins no longer lock it.
        self.kv
            .delete(&format!("login-failures:{}", digest(email.as_str())))
            .await
            .map_err(unavailable)?;
        tracing::info!(user_id = %user_id, "password reset; every session ended");
        Ok(())
    }

    /// Verifies the address a verification token was mailed to (if it is still the account's).
    pub async fn verify_email(&self, token: &str) -> AppResult<UserId> {
        let token_hash = token_digest(token)?;
        let user_id = self
            .store
            .redeem_email_verification(&token_hash, self.clock.now())
            .await?
            .ok_or_else(invalid_token)?;
        tracing::info!(user_id = %user_id, "e-mail address verified");
        Ok(user_id)
    }

    /// Mails the signed-in account a new verification token; at most
    /// [`VERIFICATION_RESENDS_PER_ACCOUNT`] per [`REQUEST_WINDOW`].
    pub async fn resend_email_verification(&self, actor: &Actor) -> AppResult<()> {
        let user = self.current_user(actor).await?;
        if user.email_verified_at.is_some() {
            return Err(AppError::Rule(
                "the e-mail address is verified already".into(),
            ));
        }
        self.count_attempt(
            &format!("verification-resend:{}", user.id),
            VERIFICATION_RESENDS_PER_ACCOUNT,
        )
        .await?;
        let event = DomainEvent::EmailVerificationRequested {
            user_id: user.id,
            email: user.email.to_string(),
        };
        self.store
            .append_events(&[event.into_outbox(self.clock.now())])
            .await?;
        Ok(())
    }

    /// `EmailNotVerified` when `SHOP_REQUIRE_VERIFIED_EMAIL` is on and the account has not
    /// verified its address; checkout calls it first.
    pub(super) async fn ensure_may_check_out(&self, user_id: UserId) -> AppResult<()> {
        if !self.require_verified_email {
            return Ok(());
        }
        let user = self
            .store
            .get_user(user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if user.email_verified_at.is_none() {
            return Err(AppError::EmailNotVerified);
        }
        Ok(())
    }

    /// Whether the account's sessions were ended at or after a login that checked the password
    /// at `auth_us` (Unix µs). At, too: a login in the same microsecond may have read the old
    /// password.
    pub(super) async fn sessions_revoked_since(
        &self,
        user_id: UserId,
        auth_us: i64,
    ) -> AppResult<bool> {
        let mark = self
            .kv
            .get(&sessions_key(user_id))
            .await
            .map_err(unavailable)?;
        let ended_us = mark.and_then(|mark| String::from_utf8(mark).ok()?.parse::<i64>().ok());
        Ok(ended_us.is_some_and(|ended_us| auth_us <= ended_us))
    }

    /// Every session of the account whose login checked the password until now stops working.
    /// The mark lives as long as a refresh token, after which no older token can be alive.
    pub(super) async fn end_all_sessions(&self, user_id: UserId) -> AppResult<()> {
        let now = self.clock.now();
        let lifetime = self.auth.refresh_ttl.max(self.auth.access_ttl);
        self.kv
            .set(
                &sessions_key(user_id),
                now.timestamp_micros().to_string().as_bytes(),
                lifetime,
            )
            .await
            .map_err(unavailable)
    }

    /// Counts one attempt under `key` in a [`REQUEST_WINDOW`]; `TooManyAttempts` past `limit`.
    async fn count_attempt(&self, key: &str, limit: u64) -> AppResult<()> {
        let (count, remaining) = self
            .kv
            .increment(key, REQUEST_WINDOW)
            .await
            .map_err(unavailable)?;
        if count > limit {
            return Err(AppError::TooManyAttempts {
                retry_after: Duration::from_secs(remaining.as_secs().max(1)),
            });
        }
        Ok(())
    }
}

impl WorkerData {
    /// The account registered with `email`, if any (the email worker's reset messages).
    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        match Email::parse(email) {
            Ok(email) => self.store.find_user_by_email(&email).await,
            Err(_) => Ok(None),
        }
    }

    /// Mints a token for `user`'s current address, valid from `now` for the purpose's lifetime,
    /// and stores its digest. The token is for the e-mail only: never log or store it.
    pub async fn issue_account_token(
        &self,
        user: &User,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<SecretString> {
        let token = random_token();
        let lifetime = match purpose {
            TokenPurpose::PasswordReset => PASSWORD_RESET_TTL,
            TokenPurpose::EmailVerification => EMAIL_VERIFICATION_TTL,
        };
        let lifetime = chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::zero());
        self.store
            .insert_account_token(&AccountToken {
                token_hash: digest(&token),
                user_id: user.id,
                purpose,
                email: user.email.clone(),
                created_at: now,
                expires_at: now + lifetime,
            })
            .await?;
        Ok(SecretString::from(token))
    }
}
