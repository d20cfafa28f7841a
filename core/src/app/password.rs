//! Password hashing with argon2id (the `argon2` crate's defaults follow OWASP: 19 MiB, t=2, p=1).
//! Hashing is deliberately slow, so it runs on the blocking pool, off the async workers.

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

use super::{AppError, AppResult};
use crate::domain::{Password, PasswordHash};

pub async fn hash(password: Password) -> AppResult<PasswordHash> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|hash| PasswordHash::from_phc(hash.to_string()))
            .map_err(|error| AppError::Internal(error.to_string().into()))
    })
    .await
    .map_err(|error| AppError::Internal(Box::new(error)))?
}

/// Whether `password` matches `hash`. The comparison inside argon2 is constant-time.
pub async fn verify(password: Password, hash: PasswordHash) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = argon2::PasswordHash::new(hash.as_phc()) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .map_err(|error| AppError::Internal(Box::new(error)))
}

/// A hash of a password nobody knows, verified against when an account does not exist, so a
/// failed login takes as long whether or not the e-mail is registered.
pub(crate) async fn dummy_hash() -> AppResult<PasswordHash> {
    static DUMMY: tokio::sync::OnceCell<PasswordHash> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| async {
            let password = Password::parse("dummy-password-never-matches")
                .map_err(|error| AppError::Internal(error.to_string().into()))?;
            hash(password).await
        })
        .await
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let password = Password::parse("correct horse battery").expect("valid");
        let hashed = hash(password.clone()).await.expect("hashed");
        assert!(hashed.as_phc().starts_with("$argon2id$"));
        assert!(verify(password, hashed.clone()).await.expect("verified"));
        let wrong = Password::parse("incorrect horse").expect("valid");
        assert!(!verify(wrong, hashed).await.expect("verified"));
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_never_matches() {
        let password = Password::parse("correct horse battery").expect("valid");
        let corrupt = PasswordHash::from_phc("not a phc string".into());
        assert!(!verify(password, corrupt).await.expect("verified"));
    }
}
