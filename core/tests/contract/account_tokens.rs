//! Password reset and e-mail verification: tokens work once, expire, are stored only as
//! SHA-256 digests, and a reset ends every session of the account.

use chrono::{Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use shop_core::{
    adapters::sql::{Db, Sql},
    app::{
        Actor, AppError, RESET_REQUESTS_PER_ADDRESS, RegisterUser, Shop, UpdateProfile,
        VERIFICATION_RESENDS_PER_ACCOUNT, WorkerData,
    },
    domain::{Role, User},
    ports::TokenPurpose,
};

use crate::support::{
    PASSWORD, TestShop, actor_of, add_to_cart, checkout, checkout_command, create_product,
    events_of_type, expect_validation, register, snapshot,
};

const RESET_REQUESTED: &str = "dev.shop.user.password_reset_requested.v1";
const VERIFICATION_REQUESTED: &str = "dev.shop.user.email_verification_requested.v1";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// A customer who signed up on their own (unverified, a verification e-mail requested).
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

/// What the email worker does: mints a token for the user, issued at `minutes_ago`.
async fn mint(shop: &Shop, user: &User, purpose: TokenPurpose, minutes_ago: i64) -> SecretString {
    WorkerData::new(shop.store().clone())
        .issue_account_token(user, purpose, Utc::now() - Duration::minutes(minutes_ago))
        .await
        .expect("mint a token")
}

async fn user_now(shop: &Shop, user: &User) -> User {
    shop.get_user(&Actor::System, user.id)
        .await
        .expect("the user")
}

async fn signs_in_with(shop: &Shop, email: &str, password: &str) -> bool {
    shop.authenticate(email, password).await.is_ok()
}

async fn reset_token_sets_the_password_once(t: TestShop) {
    let user = sign_up(&t, "ada@example.com").await;
    let token = mint(&t, &user, TokenPurpose::PasswordReset, 0).await;

    t.confirm_password_reset(token.expose_secret(), NEW_PASSWORD)
        .await
        .expect("the reset succeeds");
    assert!(signs_in_with(&t, "ada@example.com", NEW_PASSWORD).await);
    assert!(!signs_in_with(&t, "ada@example.com", PASSWORD).await);

    let again = t
        .confirm_password_reset(token.expose_secret(), "yet another password")
        .await;
    expect_validation(again, &["token"]);
    assert!(signs_in_with(&t, "ada@example.com", NEW_PASSWORD).await);
}

async fn expired_or_unknown_tokens_change_nothing(t: TestShop) {
    let user = sign_up(&t, "ada@example.com").await;
    let expired = mint(&t, &user, TokenPurpose::PasswordReset, 31).await;
    let verification = mint(&t, &user, TokenPurpose::EmailVerification, 0).await;
    let before = snapshot(&t).await;

    for token in [
        expired.expose_secret(),
        "not-a-token-anyone-minted",
        "",
        &"x".repeat(10_000),
        // A token of the other purpose does not reset a password.
        verification.expose_secret(),
    ] {
        let refused = t.confirm_password_reset(token, NEW_PASSWORD).await;
        expect_validation(refused, &["token"]);
    }
    // A bad password is refused before the token is spent.
    let fresh = mint(&t, &user, TokenPurpose::PasswordReset, 0).await;
    expect_validation(
        t.confirm_password_reset(fresh.expose_secret(), "short")
            .await,
        &["password"],
    );
    assert_eq!(snapshot(&t).await, before);
    assert!(signs_in_with(&t, "ada@example.com", PASSWORD).await);
    // Still unspent: it works now.
    t.confirm_password_reset(fresh.expose_secret(), NEW_PASSWORD)
        .await
        .expect("the unspent token works");
    // A 29-minute-old token is still in time; a reset spends every other reset token too.
    let recent = mint(&t, &user, TokenPurpose::PasswordReset, 29).await;
    let other = mint(&t, &user, TokenPurpose::PasswordReset, 0).await;
    t.confirm_password_reset(recent.expose_secret(), PASSWORD)
        .await
        .expect("in time");
    expect_validation(
        t.confirm_password_reset(other.expose_secret(), NEW_PASSWORD)
            .await,
        &["token"],
    );
}

async fn tokens_are_stored_as_sha256_digests(t: TestShop) {
    let user = sign_up(&t, "ada@example.com").await;
    let token = mint(&t, &user, TokenPurpose::PasswordReset, 0).await;
    // 256 random bits, base64url without padding.
    assert_eq!(token.expose_secret().len(), 43);

    let db = Db::connect(&t.url, 1).await.expect("connect");
    let rows: Vec<(String, String)> =
        Sql::new("SELECT token_hash, purpose FROM account_tokens WHERE purpose = 'password_reset'")
            .fetch_all(&db)
            .await
            .expect("read the tokens");
    let expected: String = Sha256::digest(token.expose_secret().as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(rows, vec![(expected, "password_reset".to_owned())]);
    // Nothing the shop stores holds the token itself: not the outbox either.
    t.request_password_reset("ada@example.com")
        .await
        .expect("ok");
    for event in events_of_type(&t, RESET_REQUESTED).await {
        assert!(!event.payload.to_string().contains(token.expose_secret()));
    }
}

async fn concurrent_uses_of_one_token_succeed_once(t: TestShop) {
    let user = sign_up(&t, "ada@example.com").await;
    let token = mint(&t, &user, TokenPurpose::PasswordReset, 0).await;
    let attempts = (0..8).map(|i| {
        let shop = t.shop.clone();
        let token = token.expose_secret().to_owned();
        tokio::spawn(async move {
            shop.confirm_password_reset(&token, &format!("concurrent password {i}"))
                .await
        })
    });
    let mut successes = 0;
    for attempt in futures::future::join_all(attempts).await {
        match attempt.expect("the task ends") {
            Ok(()) => successes += 1,
            Err(AppError::Validation(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(successes, 1);
}

async fn a_reset_ends_every_session(t: TestShop) {
    sign_up(&t, "ada@example.com").await;
    let first = t.login("ada@example.com", PASSWORD).await.expect("login");
    let second = t.login("ada@example.com", PASSWORD).await.expect("login");
    t.actor_from_live_access_token(&first.access_token)
        .await
        .expect("live before the reset");
    let user = user_now(&t, &first.user).await;
    let token = mint(&t, &user, TokenPurpose::PasswordReset, 0).await;
    t.confirm_password_reset(token.expose_secret(), NEW_PASSWORD)
        .await
        .expect("reset");

    for session in [&first, &second] {
        assert!(matches!(
            t.actor_from_live_access_token(&session.access_token).await,
            Err(AppError::Unauthenticated)
        ));
        assert!(matches!(
            t.refresh(session.refresh_token.expose_secret()).await,
            Err(AppError::Unauthenticated)
        ));
    }
    let fresh = t
        .login("ada@example.com", NEW_PASSWORD)
        .await
        .expect("sign in with the new password");
    t.actor_from_live_access_token(&fresh.access_token)
        .await
        .expect("a new session works");
    t.refresh(fresh.refresh_token.expose_secret())
        .await
        .expect("and refreshes");
}

async fn reset_requests_look_the_same_for_unknown_addresses(t: TestShop) {
    sign_up(&t, "ada@example.com").await;
    t.request_password_reset("ada@example.com")
        .await
        .expect("known");
    t.request_password_reset("nobody@example.com")
        .await
        .expect("unknown: the same answer");
    let events = events_of_type(&t, RESET_REQUESTED).await;
    let emails: Vec<&str> = events
        .iter()
        .map(|event| event.payload["email"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(emails, ["ada@example.com", "nobody@example.com"]);
    assert!(events.iter().all(|event| event.subject == "users"));

    let before = snapshot(&t).await;
    expect_validation(t.request_password_reset("not an address").await, &["email"]);
    assert_eq!(snapshot(&t).await, before);

    for _ in 1..RESET_REQUESTS_PER_ADDRESS {
        t.request_password_reset("Ada@Example.com ")
            .await
            .expect("within the limit");
    }
    let before = snapshot(&t).await;
    assert!(matches!(
        t.request_password_reset("ada@example.com").await,
        Err(AppError::TooManyAttempts { .. })
    ));
    assert_eq!(snapshot(&t).await, before);
}

async fn verification_verifies_the_mailed_address_once(t: TestShop) {
    let user = sign_up(&t, "ada@example.com").await;
    assert_eq!(user.email_verified_at, None);
    let requested = events_of_type(&t, VERIFICATION_REQUESTED).await;
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].payload["user_id"], user.id.to_string());

    let expired = mint(&t, &user, TokenPurpose::EmailVerification, 49 * 60).await;
    expect_validation(t.verify_email(expired.expose_secret()).await, &["token"]);
    let reset = mint(&t, &user, TokenPurpose::PasswordReset, 0).await;
    expect_validation(t.verify_email(reset.expose_secret()).await, &["token"]);
    assert_eq!(user_now(&t, &user).await.email_verified_at, None);

    let token = mint(&t, &user, TokenPurpose::EmailVerification, 0).await;
    assert_eq!(
        t.verify_email(token.expose_secret())
            .await
            .expect("verified"),
        user.id
    );
    assert!(user_now(&t, &user).await.email_verified_at.is_some());
    expect_validation(t.verify_email(token.expose_secret()).await, &["token"]);

    // A new address is unverified again, and a token mailed to the old one does not verify it.
    let old = mint(&t, &user, TokenPurpose::EmailVerification, 0).await;
    let changed = t
        .update_profile(
            &actor_of(&user),
            UpdateProfile {
                email: Some("ada@new.example.com".to_owned()),
                ..UpdateProfile::default()
            },
        )
        .await
        .expect("change the address");
    assert_eq!(changed.email_verified_at, None);
    assert_eq!(user_now(&t, &user).await.email_verified_at, None);
    expect_validation(t.verify_email(old.expose_secret()).await, &["token"]);
    // Changing only the name keeps a verification.
    let current = user_now(&t, &user).await;
    let token = mint(&t, &current, TokenPurpose::EmailVerification, 0).await;
    t.verify_email(token.expose_secret())
        .await
        .expect("verified");
    t.update_profile(
        &actor_of(&user),
        UpdateProfile {
            full_name: Some("Ada King".to_owned()),
            email: Some("ADA@new.example.com".to_owned()),
        },
    )
    .await
    .expect("rename");
    assert!(user_now(&t, &user).await.email_verified_at.is_some());
}

async fn staff_created_accounts_are_verified(t: TestShop) {
    let (admin, _) = register(&t, "boss@example.com", Role::Admin).await;
    let (customer, _) = register(&t, "made@example.com", Role::Customer).await;
    assert!(admin.email_verified_at.is_some());
    assert!(user_now(&t, &customer).await.email_verified_at.is_some());
    assert!(events_of_type(&t, VERIFICATION_REQUESTED).await.is_empty());
}

async fn resending_is_limited_and_pointless_once_verified(t: TestShop) {
    let user = sign_up(&t, "ada@example.com").await;
    let actor = actor_of(&user);
    for _ in 0..VERIFICATION_RESENDS_PER_ACCOUNT {
        t.resend_email_verification(&actor).await.expect("resend");
    }
    assert_eq!(
        events_of_type(&t, VERIFICATION_REQUESTED).await.len(),
        1 + usize::try_from(VERIFICATION_RESENDS_PER_ACCOUNT).expect("small")
    );
    assert!(matches!(
        t.resend_email_verification(&actor).await,
        Err(AppError::TooManyAttempts { .. })
    ));
    assert!(matches!(
        t.resend_email_verification(&Actor::Anonymous).await,
        Err(AppError::Unauthenticated)
    ));
    let (verified, verified_actor) = register(&t, "made@example.com", Role::Customer).await;
    assert!(verified.email_verified_at.is_some());
    assert!(matches!(
        t.resend_email_verification(&verified_actor).await,
        Err(AppError::Rule(_))
    ));
}

async fn checkout_may_require_a_verified_address(t: TestShop) {
    let strict = t.shop.clone().with_verified_email_required(true);
    let product = create_product(&t, "TEA-1", 500, 10).await;
    let user = sign_up(&t, "ada@example.com").await;
    let actor = actor_of(&user);
    add_to_cart(&strict, &actor, product.id, 1).await;

    let before = snapshot(&t).await;
    let refused = strict.checkout(&actor, checkout_command("k-1")).await;
    assert!(
        matches!(refused, Err(AppError::EmailNotVerified)),
        "{refused:?}"
    );
    assert_eq!(AppError::EmailNotVerified.code(), "email_not_verified");
    assert_eq!(snapshot(&t).await, before);

    let token = mint(&t, &user, TokenPurpose::EmailVerification, 0).await;
    strict
        .verify_email(token.expose_secret())
        .await
        .expect("verify");
    let placed = checkout(&strict, &actor, "k-1").await;
    assert_eq!(placed.order.user_id, user.id);
    // Without the setting, unverified accounts check out as before.
    let other = sign_up(&t, "grace@example.com").await;
    let other_actor = actor_of(&other);
    add_to_cart(&t, &other_actor, product.id, 1).await;
    checkout(&t, &other_actor, "k-2").await;
}

contract_tests!(
    reset_token_sets_the_password_once,
    expired_or_unknown_tokens_change_nothing,
    tokens_are_stored_as_sha256_digests,
    concurrent_uses_of_one_token_succeed_once,
    a_reset_ends_every_session,
    reset_requests_look_the_same_for_unknown_addresses,
    verification_verifies_the_mailed_address_once,
    staff_created_accounts_are_verified,
    resending_is_limited_and_pointless_once_verified,
    checkout_may_require_a_verified_address,
);
