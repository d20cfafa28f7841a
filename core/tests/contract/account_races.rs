//! Password resets racing sessions and account updates (review of the reset feature): a login
//! or refresh that checked the old password while a reset committed must not yield a session
//! that survives it; a key-value failure after the commit must not leave sessions alive; profile
//! updates never write an old password back; password and address changes void reset tokens.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use async_trait::async_trait;
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use shop_core::{
    adapters::memory::MemoryKeyValue,
    app::{
        Actor, AppError, ChangePassword, RegisterUser, Session, Shop, UpdateProfile, WorkerData,
    },
    domain::User,
    ports::{KeyValueStore, KvError, TokenPurpose},
};
use tokio::sync::Notify;

use crate::support::{PASSWORD, TestShop, actor_of, events_of_type, expect_validation};

const NEW_PASSWORD: &str = "a brand new passphrase";
const EMAIL: &str = "ada@example.com";

/// The in-process store, which can hold one write of a key prefix until released (to run a
/// reset inside another operation's window) and fail writes or reads of a prefix.
#[derive(Default)]
struct TestKv {
    inner: MemoryKeyValue,
    gate: Option<&'static str>,
    armed: AtomicBool,
    reached: Notify,
    release: Notify,
    /// Sets of this prefix fail after this many succeeded.
    fail_set: Option<(&'static str, usize)>,
    sets: AtomicUsize,
    /// Reads of this prefix fail.
    fail_get: Option<&'static str>,
}

impl TestKv {
    fn gated(prefix: &'static str) -> Self {
        Self {
            gate: Some(prefix),
            armed: AtomicBool::new(true),
            ..Self::default()
        }
    }

    async fn pass(&self, key: &str) {
        if self.gate.is_some_and(|prefix| key.starts_with(prefix))
            && self.armed.swap(false, Ordering::SeqCst)
        {
            self.reached.notify_one();
            self.release.notified().await;
        }
    }
}

fn down() -> KvError {
    KvError("connection refused".into())
}

#[async_trait]
impl KeyValueStore for TestKv {
    fn backend(&self) -> &'static str {
        "test"
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        if self.fail_get.is_some_and(|prefix| key.starts_with(prefix)) {
            return Err(down());
        }
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: std::time::Duration) -> Result<(), KvError> {
        self.pass(key).await;
        if let Some((prefix, succeed)) = self.fail_set
            && key.starts_with(prefix)
            && self.sets.fetch_add(1, Ordering::SeqCst) >= succeed
        {
            return Err(down());
        }
        self.inner.set(key, value, ttl).await
    }
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: std::time::Duration,
    ) -> Result<bool, KvError> {
        self.inner.set_if_absent(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<bool, KvError> {
        self.pass(key).await;
        self.inner.delete(key).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.inner.take(key).await
    }
    async fn increment(
        &self,
        key: &str,
        window: std::time::Duration,
    ) -> Result<(u64, std::time::Duration), KvError> {
        self.inner.increment(key, window).await
    }
    async fn ping(&self) -> Result<(), KvError> {
        self.inner.ping().await
    }
}

async fn sign_up(shop: &Shop, email: &str) -> User {
    shop.register_user(
        &Actor::Anonymous,
        RegisterUser {
            email: email.to_owned(),
            password: PASSWORD.to_owned(),
            full_name: "Ada Lovelace".to_owned(),
            role: None,
        },
    )
    .await
    .expect("sign up")
}

async fn mint(shop: &Shop, user: &User) -> SecretString {
    WorkerData::new(shop.store().clone())
        .issue_account_token(user, TokenPurpose::PasswordReset, Utc::now())
        .await
        .expect("mint a token")
}

async fn assert_ended(shop: &Shop, session: &Session) {
    let live = shop
        .actor_from_live_access_token(&session.access_token)
        .await;
    assert!(matches!(live, Err(AppError::Unauthenticated)), "{live:?}");
    let refreshed = shop.refresh(session.refresh_token.expose_secret()).await;
    assert!(
        matches!(refreshed, Err(AppError::Unauthenticated)),
        "{:?}",
        refreshed.map(|_| "a new session")
    );
}

async fn a_login_checking_the_old_password_during_a_reset_does_not_outlive_it(t: TestShop) {
    let kv = Arc::new(TestKv::gated("login-failures:"));
    let shop = t.shop.clone().with_key_value(kv.clone());
    let user = sign_up(&shop, EMAIL).await;
    let token = mint(&shop, &user).await;
    let login = tokio::spawn({
        let shop = shop.clone();
        async move { shop.login(EMAIL, PASSWORD).await }
    });
    // The login has accepted the old password and is about to hand out tokens.
    kv.reached.notified().await;
    shop.confirm_password_reset(token.expose_secret(), NEW_PASSWORD)
        .await
        .expect("reset");
    kv.release.notify_one();
    let session = login
        .await
        .expect("the task ends")
        .expect("the old password was still the account's when checked");
    assert_ended(&shop, &session).await;
    let fresh = shop.login(EMAIL, NEW_PASSWORD).await.expect("new password");
    shop.actor_from_live_access_token(&fresh.access_token)
        .await
        .expect("a session after the reset works");
}

async fn a_refresh_during_a_reset_does_not_outlive_it(t: TestShop) {
    let kv = Arc::new(TestKv::gated("rotated:"));
    let shop = t.shop.clone().with_key_value(kv.clone());
    let user = sign_up(&shop, EMAIL).await;
    let session = shop.login(EMAIL, PASSWORD).await.expect("login");
    let token = mint(&shop, &user).await;
    let refresh = tokio::spawn({
        let shop = shop.clone();
        let refresh_token = session.refresh_token.expose_secret().to_owned();
        async move { shop.refresh(&refresh_token).await }
    });
    // The refresh has passed its sessions-ended check and is about to rotate.
    kv.reached.notified().await;
    shop.confirm_password_reset(token.expose_secret(), NEW_PASSWORD)
        .await
        .expect("reset");
    kv.release.notify_one();
    let refreshed = refresh
        .await
        .expect("the task ends")
        .expect("the refresh was checked before the reset");
    assert_ended(&shop, &refreshed).await;
}

async fn sessions_end_even_when_the_key_value_store_fails_after_the_reset(t: TestShop) {
    let kv = Arc::new(TestKv {
        // The mark before redeeming is written, the one after the commit fails.
        fail_set: Some(("sessions-ended:", 1)),
        ..TestKv::default()
    });
    let shop = t.shop.clone().with_key_value(kv);
    let user = sign_up(&shop, EMAIL).await;
    let session = shop.login(EMAIL, PASSWORD).await.expect("login");
    let token = mint(&shop, &user).await;
    let reset = shop
        .confirm_password_reset(token.expose_secret(), NEW_PASSWORD)
        .await;
    assert!(matches!(reset, Err(AppError::Unavailable(_))), "{reset:?}");
    assert!(shop.authenticate(EMAIL, NEW_PASSWORD).await.is_ok());
    assert_ended(&shop, &session).await;
}

async fn an_unreachable_key_value_store_is_unavailable_not_signed_out(t: TestShop) {
    sign_up(&t, EMAIL).await;
    let session = t.login(EMAIL, PASSWORD).await.expect("login");
    let down = t.shop.clone().with_key_value(Arc::new(TestKv {
        fail_get: Some("sessions-ended:"),
        ..TestKv::default()
    }));
    let live = down
        .actor_from_live_access_token(&session.access_token)
        .await;
    match live {
        Err(error @ AppError::Unavailable(_)) => assert_eq!(error.code(), "unavailable"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

async fn profile_updates_never_write_an_old_password_back(t: TestShop) {
    let user = sign_up(&t, EMAIL).await;
    // A profile update that read the account before the reset and writes after it.
    let mut stale = t.get_user(&Actor::System, user.id).await.expect("the user");
    let token = mint(&t, &user).await;
    t.confirm_password_reset(token.expose_secret(), NEW_PASSWORD)
        .await
        .expect("reset");
    stale.full_name = shop_core::domain::PersonName::parse("Ada King").expect("a name");
    t.store().update_user(&stale).await.expect("update");
    assert!(t.authenticate(EMAIL, NEW_PASSWORD).await.is_ok());
    assert!(t.authenticate(EMAIL, PASSWORD).await.is_err());
}

async fn password_and_address_changes_void_outstanding_reset_tokens(t: TestShop) {
    let user = sign_up(&t, EMAIL).await;
    let actor = actor_of(&user);
    let before_change = mint(&t, &user).await;
    t.change_password(
        &actor,
        ChangePassword {
            current_password: PASSWORD.into(),
            new_password: "changed on purpose".into(),
        },
    )
    .await
    .expect("change");
    let reset = t
        .confirm_password_reset(before_change.expose_secret(), NEW_PASSWORD)
        .await;
    expect_validation(reset, &["token"]);
    assert!(t.authenticate(EMAIL, "changed on purpose").await.is_ok());

    let to_old_address = mint(&t, &user).await;
    t.update_profile(
        &actor,
        UpdateProfile {
            email: Some("ada@new.example.com".into()),
            full_name: None,
        },
    )
    .await
    .expect("new address");
    let reset = t
        .confirm_password_reset(to_old_address.expose_secret(), NEW_PASSWORD)
        .await;
    expect_validation(reset, &["token"]);
    assert!(
        t.authenticate("ada@new.example.com", "changed on purpose")
            .await
            .is_ok()
    );
    // The new address is unverified and gets its verification e-mail.
    let requested = events_of_type(&t, "dev.shop.user.email_verification_requested.v1").await;
    let to: Vec<&str> = requested
        .iter()
        .map(|event| event.payload["email"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(to, [EMAIL, "ada@new.example.com"]);
}

async fn two_reset_tokens_of_one_account_redeemed_at_once_succeed_once(t: TestShop) {
    let user = sign_up(&t, EMAIL).await;
    for round in 0..5 {
        let first = mint(&t, &user).await;
        let second = mint(&t, &user).await;
        let attempts = [first, second].map(|token| {
            let shop = t.shop.clone();
            tokio::spawn(async move {
                shop.confirm_password_reset(token.expose_secret(), &format!("round {round} pass"))
                    .await
            })
        });
        let mut successes = 0;
        for attempt in futures::future::join_all(attempts).await {
            match attempt.expect("the task ends") {
                Ok(()) => successes += 1,
                Err(AppError::Validation(_)) => {}
                // A deadlock between the two would end here.
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(successes, 1, "round {round}");
    }
}

contract_tests!(
    a_login_checking_the_old_password_during_a_reset_does_not_outlive_it,
    a_refresh_during_a_reset_does_not_outlive_it,
    sessions_end_even_when_the_key_value_store_fails_after_the_reset,
    an_unreachable_key_value_store_is_unavailable_not_signed_out,
    profile_updates_never_write_an_old_password_back,
    password_and_address_changes_void_outstanding_reset_tokens,
    two_reset_tokens_of_one_account_redeemed_at_once_succeed_once,
);
