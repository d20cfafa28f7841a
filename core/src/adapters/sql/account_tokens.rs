//! [`AccountTokenStore`]: password-reset and e-mail verification tokens, stored as digests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Sql, SqlStore, Tx};
use crate::{
    domain::{Email, PasswordHash, UserId},
    ports::{AccountToken, AccountTokenStore, StoreResult, TokenPurpose},
};

#[derive(Debug, sqlx::FromRow)]
struct TakenToken {
    user_id: Uuid,
    email: String,
    expires_at: DateTime<Utc>,
}

/// Marks the token used; `None` when it is unknown, used already or expired at `now` (the
/// caller then rolls back, so an expired token is left as it was).
async fn take(
    tx: &mut Tx,
    token_hash: &str,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> StoreResult<Option<TakenToken>> {
    let taken = Sql::new(include_str!("queries/account_tokens/take.sql"))
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional::<TakenToken>(tx)
        .await?;
    // Compared here rather than in SQL: SQLite keeps timestamps as text.
    Ok(taken.filter(|token| token.expires_at > now))
}

async fn supersede(
    tx: &mut Tx,
    user_id: Uuid,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    Sql::new(include_str!("queries/account_tokens/supersede.sql"))
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(now)
        .execute(tx)
        .await
        .map(drop)
}

#[async_trait]
impl AccountTokenStore for SqlStore {
    async fn insert_account_token(&self, token: &AccountToken) -> StoreResult<()> {
        Sql::new(include_str!("queries/account_tokens/insert.sql"))
            .bind(token.token_hash.as_str())
            .bind(token.user_id.as_uuid())
            .bind(token.purpose.as_str())
            .bind(token.email.as_str())
            .bind(token.created_at)
            .bind(token.expires_at)
            .execute(&self.db)
            .await
            .map(drop)
    }

    async fn find_account_token(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
    ) -> StoreResult<Option<AccountToken>> {
        let found = Sql::new(include_str!("queries/account_tokens/peek.sql"))
            .bind(token_hash)
            .bind(purpose.as_str())
            .fetch_optional::<TakenToken>(&self.db)
            .await?;
        Ok(found.and_then(|token| {
            Some(AccountToken {
                token_hash: token_hash.to_owned(),
                user_id: UserId::from_uuid(token.user_id),
                purpose,
                email: Email::parse(&token.email).ok()?,
                // Not read: only expiry matters before redeeming.
                created_at: token.expires_at,
                expires_at: token.expires_at,
            })
        }))
    }

    async fn redeem_password_reset(
        &self,
        token_hash: &str,
        password_hash: &PasswordHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(UserId, Email)>> {
        let mut tx = self.db.begin().await?;
        let purpose = TokenPurpose::PasswordReset;
        let peeked = Sql::new(include_str!("queries/account_tokens/peek.sql"))
            .bind(token_hash)
            .bind(purpose.as_str())
            .fetch_optional::<TakenToken>(&mut tx)
            .await?
            .filter(|token| token.expires_at > now);
        let Some(peeked) = peeked else {
            tx.rollback().await?;
            return Ok(None);
        };
        // The account's row first (see set_password.sql), and only for the mailed address.
        let email: Option<(String,)> =
            Sql::new(include_str!("queries/account_tokens/set_password.sql"))
                .bind(peeked.user_id)
                .bind(password_hash.as_phc())
                .bind(now)
                .bind(peeked.email.as_str())
                .fetch_optional(&mut tx)
                .await?;
        let Some(email) = email.and_then(|(email,)| Email::parse(&email).ok()) else {
            tx.rollback().await?;
            return Ok(None);
        };
        // Then the token: another redeemer of it (or of a sibling, which supersedes it) that
        // committed meanwhile leaves nothing to take, and this one rolls back.
        let taken = take(&mut tx, token_hash, purpose, now).await?;
        if taken.is_none_or(|token| token.user_id != peeked.user_id) {
            tx.rollback().await?;
            return Ok(None);
        }
        supersede(&mut tx, peeked.user_id, purpose, now).await?;
        tx.commit().await?;
        Ok(Some((UserId::from_uuid(peeked.user_id), email)))
    }

    async fn set_password(
        &self,
        user_id: UserId,
        password_hash: &PasswordHash,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        Sql::new(include_str!("queries/users/set_password.sql"))
            .bind(user_id.as_uuid())
            .bind(password_hash.as_phc())
            .bind(now)
            .execute_found(&mut tx)
            .await?;
        supersede(&mut tx, user_id.as_uuid(), TokenPurpose::PasswordReset, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn redeem_email_verification(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>> {
        let mut tx = self.db.begin().await?;
        let purpose = TokenPurpose::EmailVerification;
        let Some(token) = take(&mut tx, token_hash, purpose, now).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let verified = Sql::new(include_str!("queries/account_tokens/verify_email.sql"))
            .bind(token.user_id)
            .bind(token.email.as_str())
            .bind(now)
            .execute(&mut tx)
            .await?;
        if verified == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        supersede(&mut tx, token.user_id, purpose, now).await?;
        tx.commit().await?;
        Ok(Some(UserId::from_uuid(token.user_id)))
    }
}
