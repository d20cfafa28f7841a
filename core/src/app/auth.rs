//! Sessions: short-lived access tokens (JWT, HS256) and long-lived opaque refresh tokens that
//! rotate on every use. Presenting a refresh token that was already rotated means it leaked, so
//! the whole family of tokens descending from that login is revoked.
//!
//! Refresh tokens are stored only as SHA-256 digests in the key-value store (Redis when
//! configured, so every replica sees the same sessions).

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{Actor, AppError, AppResult, Shop};
use crate::{
    domain::{Role, User, UserId},
    ports::KvError,
};

/// How sessions are signed and how long they last.
#[derive(Clone)]
pub struct AuthSettings {
    jwt_secret: SecretString,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Failed logins for one account within `lockout` before further attempts are refused.
    pub max_failed_logins: u64,
    pub lockout: Duration,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl AuthSettings {
    pub fn new(jwt_secret: SecretString) -> Self {
        Self {
            jwt_secret,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            max_failed_logins: 5,
            lockout: Duration::from_secs(15 * 60),
        }
    }

    /// A random secret that lives as long as the process: tokens die with it. For the embedded
    /// default only.
    pub fn ephemeral() -> Self {
        let mut secret = [0_u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Self::new(SecretString::from(URL_SAFE_NO_PAD.encode(secret)))
    }
}

/// What a successful login or refresh hands the client.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub access_token: String,
    pub access_expires_in: Duration,
    /// Opaque; present it once to `refresh`.
    pub refresh_token: SecretString,
    pub refresh_expires_in: Duration,
}

const ISSUER: &str = "shop";
const AUDIENCE: &str = "shop-api";

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Claims {
    sub: String,
    role: String,
    iss: String,
    aud: String,
    iat: i64,
    exp: i64,
    /// When the password was checked at the login this session descends from (Unix µs), carried
    /// unchanged through refreshes and compared with the account's sessions-ended mark (see
    /// `account_tokens`); tokens signed before it existed read as 0, i.e. older than any mark.
    #[serde(default)]
    auth_us: i64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct RefreshRecord {
    user_id: UserId,
    family: String,
    /// See `Claims::auth_us`: the login's, not this token's issue time, so a refresh racing a
    /// password reset cannot make a session look newer than the reset.
    #[serde(default)]
    auth_us: i64,
}

pub(super) fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

pub(super) fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The key-value store failed: 503 / UNAVAILABLE rather than an internal error.
pub(super) fn unavailable(error: KvError) -> AppError {
    AppError::Unavailable(Box::new(error))
}

impl Shop {
    /// Signs in with e-mail and password. After too many failures for one account, further
    /// attempts are refused for a while, whoever makes them.
    pub async fn login(&self, email: &str, password: &str) -> AppResult<Session> {
        let throttle_key = format!("login-failures:{}", digest(&email.trim().to_lowercase()));
        let failures = self.kv.get(&throttle_key).await.map_err(unavailable)?;
        let failures =
            failures.and_then(|value| String::from_utf8(value).ok()?.parse::<u64>().ok());
        if failures.unwrap_or(0) >= self.auth.max_failed_logins {
            return Err(AppError::TooManyAttempts {
                retry_after: self.auth.lockout,
            });
        }
        // Taken before the password hash is read: a reset committing while this login checks
        // the old password marks a later time, so this session counts as ended by it.
        let auth_us = self.clock.now().timestamp_micros();
        match self.authenticate(email, password).await {
            Ok(user) => {
                self.kv.delete(&throttle_key).await.map_err(unavailable)?;
                self.start_session(user, &random_token(), auth_us).await
            }
            Err(AppError::InvalidCredentials) => {
                self.kv
                    .increment(&throttle_key, self.auth.lockout)
                    .await
                    .map_err(unavailable)?;
                Err(AppError::InvalidCredentials)
            }
            Err(error) => Err(error),
        }
    }

    /// Trades a refresh token for a new session. The old token stops working; presenting it
    /// again revokes every session of its family.
    pub async fn refresh(&self, refresh_token: &str) -> AppResult<Session> {
        let hash = digest(refresh_token);
        let Some(record) = self
            .kv
            .take(&format!("refresh:{hash}"))
            .await
            .map_err(unavailable)?
        else {
            if let Some(family) = self
                .kv
                .get(&format!("rotated:{hash}"))
                .await
                .map_err(unavailable)?
            {
                let family = String::from_utf8_lossy(&family).into_owned();
                self.kv
                    .delete(&format!("family:{family}"))
                    .await
                    .map_err(unavailable)?;
                tracing::warn!(family = %family, "rotated refresh token reused: session family revoked");
            }
            return Err(AppError::Unauthenticated);
        };
        let record: RefreshRecord =
            serde_json::from_slice(&record).map_err(|_| AppError::Unauthenticated)?;
        // A password reset ended every session the account had when it happened.
        if self
            .sessions_revoked_since(record.user_id, record.auth_us)
            .await?
        {
            self.kv
                .delete(&format!("family:{}", record.family))
                .await
                .map_err(unavailable)?;
            return Err(AppError::Unauthenticated);
        }
        self.kv
            .set(
                &format!("rotated:{hash}"),
                record.family.as_bytes(),
                self.auth.refresh_ttl,
            )
            .await
            .map_err(unavailable)?;
        if self
            .kv
            .get(&format!("family:{}", record.family))
            .await
            .map_err(unavailable)?
            .is_none()
        {
            return Err(AppError::Unauthenticated);
        }
        let user = self
            .store
            .get_user(record.user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if user.disabled {
            return Err(AppError::AccountDisabled);
        }
        self.start_session(user, &record.family, record.auth_us)
            .await
    }

    /// Ends the session family the refresh token belongs to. Unknown tokens are ignored, so
    /// logging out twice is not an error.
    pub async fn logout(&self, refresh_token: &str) -> AppResult<()> {
        let hash = digest(refresh_token);
        let taken = self
            .kv
            .take(&format!("refresh:{hash}"))
            .await
            .map_err(unavailable)?;
        if let Some(record) = taken
            && let Ok(record) = serde_json::from_slice::<RefreshRecord>(&record)
        {
            self.kv
                .delete(&format!("family:{}", record.family))
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    /// The actor an access token speaks for. Anything wrong with the token (signature,
    /// algorithm, expiry, issuer, audience, shape) is simply `Unauthenticated`.
    pub fn actor_from_access_token(&self, token: &str) -> AppResult<Actor> {
        self.access_claims(token).map(|(actor, _)| actor)
    }

    /// [`Self::actor_from_access_token`], and also `Unauthenticated` when the token was signed
    /// before the account's sessions were ended (a password reset): one key-value read.
    pub async fn actor_from_live_access_token(&self, token: &str) -> AppResult<Actor> {
        let (actor, auth_us) = self.access_claims(token)?;
        if let Actor::User { id, .. } = actor
            && self.sessions_revoked_since(id, auth_us).await?
        {
            return Err(AppError::Unauthenticated);
        }
        Ok(actor)
    }

    /// The actor of a valid access token and when its login checked the password (µs).
    fn access_claims(&self, token: &str) -> AppResult<(Actor, i64)> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        let key = DecodingKey::from_secret(self.auth.jwt_secret.expose_secret().as_bytes());
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|_| AppError::Unauthenticated)?
            .claims;
        let id = UserId::parse(&claims.sub).map_err(|_| AppError::Unauthenticated)?;
        let role = Role::parse(&claims.role).map_err(|_| AppError::Unauthenticated)?;
        Ok((Actor::user(id, role), claims.auth_us))
    }

    /// A new access and refresh token for `family`; `auth_us` is when the family's login
    /// checked the password.
    async fn start_session(&self, user: User, family: &str, auth_us: i64) -> AppResult<Session> {
        let now_ms = self.clock.now().timestamp_millis();
        let now = now_ms.div_euclid(1000);
        let access_ttl = i64::try_from(self.auth.access_ttl.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            sub: user.id.to_string(),
            role: user.role.as_str().to_owned(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now.saturating_add(access_ttl),
            auth_us,
        };
        let key = EncodingKey::from_secret(self.auth.jwt_secret.expose_secret().as_bytes());
        let access_token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
            .map_err(|error| AppError::Internal(Box::new(error)))?;
        let refresh_token = random_token();
        let record = serde_json::to_vec(&RefreshRecord {
            user_id: user.id,
            family: family.to_owned(),
            auth_us,
        })
        .map_err(|error| AppError::Internal(Box::new(error)))?;
        let ttl = self.auth.refresh_ttl;
        self.kv
            .set(&format!("family:{family}"), b"active", ttl)
            .await
            .map_err(unavailable)?;
        self.kv
            .set(&format!("refresh:{}", digest(&refresh_token)), &record, ttl)
            .await
            .map_err(unavailable)?;
        Ok(Session {
            user,
            access_token,
            access_expires_in: self.auth.access_ttl,
            refresh_token: SecretString::from(refresh_token),
            refresh_expires_in: ttl,
        })
    }
}
