//! Sign-in sessions: access tokens, refresh rotation with reuse detection, logout and login
//! throttling. Run on the embedded SQLite store with both key-value backends (in-process and
//! Redis on 127.0.0.1:6379).

use std::sync::Arc;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use shop_core::{
    adapters::{connect_and_migrate, memory::MemoryKeyValue, redis::RedisKeyValue},
    app::{Actor, AppError, AuthSettings, RegisterUser, Shop, ShopSettings, UpdateUserAdmin},
    config::DatabaseUrl,
    domain::Role,
    ports::{Clock, KeyValueStore},
};
use shop_testing::{redis_url, unique_redis_prefix};

const PASSWORD: &str = "correct horse battery";

struct Fixture {
    shop: Shop,
    _dir: tempfile::TempDir,
}

async fn fixture(kv: Arc<dyn KeyValueStore>) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url =
        DatabaseUrl::parse(&format!("sqlite://{}/shop.db", dir.path().display())).expect("url");
    let store = connect_and_migrate(&url, 4).await.expect("store");
    let auth = AuthSettings::new(SecretString::from("a-test-secret-that-is-long-enough!!"));
    let shop = Shop::new(store, ShopSettings::default())
        .with_key_value(kv)
        .with_auth(auth);
    Fixture { shop, _dir: dir }
}

async fn redis() -> Arc<dyn KeyValueStore> {
    Arc::new(
        RedisKeyValue::connect(&redis_url(), unique_redis_prefix())
            .await
            .expect("Redis is running"),
    )
}

async fn memory() -> Arc<dyn KeyValueStore> {
    Arc::new(MemoryKeyValue::new())
}

async fn register(shop: &Shop, email: &str) {
    let command = RegisterUser {
        email: email.into(),
        password: PASSWORD.into(),
        full_name: "Ada".into(),
        role: None,
    };
    shop.register_user(&Actor::Anonymous, command)
        .await
        .expect("registered");
}

macro_rules! on_both_key_values {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(#[tokio::test] async fn $name() { super::$name(super::fixture(super::memory().await).await).await })*
        }
        mod on_redis {
            $(#[tokio::test] async fn $name() { super::$name(super::fixture(super::redis().await).await).await })*
        }
    };
}

on_both_key_values!(
    login_issues_an_access_token_that_names_the_user,
    refresh_rotates_and_reuse_revokes_the_family,
    logout_ends_the_session,
    repeated_failures_lock_the_account_for_a_while,
    disabled_users_cannot_refresh,
);

async fn login_issues_an_access_token_that_names_the_user(f: Fixture) {
    register(&f.shop, "ada@example.com").await;
    let session = f
        .shop
        .login("ADA@example.com", PASSWORD)
        .await
        .expect("signed in");
    let actor = f
        .shop
        .actor_from_access_token(&session.access_token)
        .expect("valid token");
    assert_eq!(actor, Actor::user(session.user.id, Role::Customer));
    assert_eq!(session.access_expires_in.as_secs(), 15 * 60);
    assert!(matches!(
        f.shop.login("ada@example.com", "wrong password").await,
        Err(AppError::InvalidCredentials)
    ));
    assert!(matches!(
        f.shop.login("nobody@example.com", PASSWORD).await,
        Err(AppError::InvalidCredentials)
    ));
}

async fn refresh_rotates_and_reuse_revokes_the_family(f: Fixture) {
    register(&f.shop, "ada@example.com").await;
    let first = f
        .shop
        .login("ada@example.com", PASSWORD)
        .await
        .expect("signed in");
    let second = f
        .shop
        .refresh(first.refresh_token.expose_secret())
        .await
        .expect("rotated");
    assert_ne!(
        first.refresh_token.expose_secret(),
        second.refresh_token.expose_secret()
    );
    f.shop
        .actor_from_access_token(&second.access_token)
        .expect("new access token works");

    // The first token was rotated away: presenting it again is a theft signal.
    let reuse = f.shop.refresh(first.refresh_token.expose_secret()).await;
    assert!(matches!(reuse, Err(AppError::Unauthenticated)), "{reuse:?}");
    let after_reuse = f.shop.refresh(second.refresh_token.expose_secret()).await;
    assert!(
        matches!(after_reuse, Err(AppError::Unauthenticated)),
        "the family is revoked: {after_reuse:?}"
    );

    // Another login starts a new, independent family.
    let fresh = f
        .shop
        .login("ada@example.com", PASSWORD)
        .await
        .expect("signed in again");
    f.shop
        .refresh(fresh.refresh_token.expose_secret())
        .await
        .expect("new family works");
}

async fn logout_ends_the_session(f: Fixture) {
    register(&f.shop, "ada@example.com").await;
    let session = f
        .shop
        .login("ada@example.com", PASSWORD)
        .await
        .expect("signed in");
    f.shop
        .logout(session.refresh_token.expose_secret())
        .await
        .expect("signed out");
    f.shop
        .logout(session.refresh_token.expose_secret())
        .await
        .expect("signing out twice is fine");
    assert!(matches!(
        f.shop.refresh(session.refresh_token.expose_secret()).await,
        Err(AppError::Unauthenticated)
    ));
    assert!(matches!(
        f.shop.refresh("made-up-token").await,
        Err(AppError::Unauthenticated)
    ));
}

async fn repeated_failures_lock_the_account_for_a_while(f: Fixture) {
    register(&f.shop, "ada@example.com").await;
    for _ in 0..5 {
        assert!(matches!(
            f.shop.login("ada@example.com", "wrong password").await,
            Err(AppError::InvalidCredentials)
        ));
    }
    let locked = f.shop.login("ada@example.com", PASSWORD).await;
    assert!(
        matches!(locked, Err(AppError::TooManyAttempts { .. })),
        "even the right password waits: {locked:?}"
    );
    register(&f.shop, "bob@example.com").await;
    f.shop
        .login("bob@example.com", PASSWORD)
        .await
        .expect("other accounts are unaffected");
}

async fn disabled_users_cannot_refresh(f: Fixture) {
    register(&f.shop, "ada@example.com").await;
    let session = f
        .shop
        .login("ada@example.com", PASSWORD)
        .await
        .expect("signed in");
    let disable = UpdateUserAdmin {
        role: None,
        disabled: Some(true),
    };
    f.shop
        .update_user_admin(&Actor::System, session.user.id, disable)
        .await
        .expect("disabled");
    let refreshed = f.shop.refresh(session.refresh_token.expose_secret()).await;
    assert!(
        matches!(refreshed, Err(AppError::AccountDisabled)),
        "{refreshed:?}"
    );
    assert!(matches!(
        f.shop.login("ada@example.com", PASSWORD).await,
        Err(AppError::AccountDisabled)
    ));
}

#[derive(Debug)]
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

#[tokio::test]
async fn tampered_forged_expired_and_unsigned_tokens_are_refused() {
    let f = fixture(memory().await).await;
    register(&f.shop, "ada@example.com").await;
    let session = f
        .shop
        .login("ada@example.com", PASSWORD)
        .await
        .expect("signed in");
    let refused = |token: &str| {
        matches!(
            f.shop.actor_from_access_token(token),
            Err(AppError::Unauthenticated)
        )
    };

    let mut parts: Vec<String> = session.access_token.split('.').map(str::to_owned).collect();
    assert_eq!(parts.len(), 3);
    // Claim to be an admin without re-signing.
    let claims =
        String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64")).expect("utf-8");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.replace("\"customer\"", "\"admin\""));
    assert!(refused(&parts.join(".")), "tampered claims");
    // The same claims with `alg: none` and no signature.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    assert!(refused(&format!("{none_header}.{}.", parts[1])), "alg none");
    // Signed with another secret.
    let other = fixture(memory().await).await;
    let other = other.shop.with_auth(AuthSettings::new(SecretString::from(
        "another-secret-entirely-32-bytes!!",
    )));
    register(&other, "eve@example.com").await;
    let forged = other
        .login("eve@example.com", PASSWORD)
        .await
        .expect("signed in elsewhere");
    assert!(refused(&forged.access_token), "foreign signature");
    // Issued an hour ago, so expired 45 minutes ago.
    let past = f
        .shop
        .clone()
        .with_clock(Arc::new(FixedClock(Utc::now() - Duration::hours(1))));
    let stale = past
        .login("ada@example.com", PASSWORD)
        .await
        .expect("signed in in the past");
    assert!(refused(&stale.access_token), "expired");
    for garbage in ["", "abc", "a.b.c", "Bearer x"] {
        assert!(refused(garbage), "{garbage:?}");
    }
}
