//! `rediss://`: the shop's sessions and cache on a Redis that only speaks TLS. Each test makes a
//! throwaway CA and server certificate (openssl) and starts its own `redis-server` with TLS on a
//! free port (plain TCP off), as managed Redis services run ([`TlsRedis`]).

use std::{sync::Arc, time::Duration};

use secrecy::{ExposeSecret as _, SecretString};
use shop_core::{
    adapters::{connect_and_migrate, redis::RedisKeyValue},
    app::{Actor, AuthSettings, RegisterUser, Shop, ShopSettings},
    config::DatabaseUrl,
    ports::KeyValueStore,
};
use shop_testing::{tls_redis::TlsRedis, unique_redis_prefix};

#[tokio::test]
async fn sessions_and_the_cache_work_over_tls_with_the_configured_ca() {
    let redis = TlsRedis::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = redis.url();
    let kv = RedisKeyValue::connect_with_ca(&url, unique_redis_prefix(), Some(&redis.ca_file()))
        .await
        .expect("connected over TLS");
    kv.ping().await.expect("ping");
    kv.set("cache:key", b"cached", Duration::from_secs(60))
        .await
        .expect("set");
    assert_eq!(
        kv.get("cache:key").await.expect("get"),
        Some(b"cached".to_vec())
    );
    assert_eq!(
        kv.increment("hits", Duration::from_secs(60))
            .await
            .expect("incr")
            .0,
        1
    );
    assert_eq!(
        kv.increment("hits", Duration::from_secs(60))
            .await
            .expect("incr")
            .0,
        2
    );

    // Sign-in sessions (refresh tokens) live in this Redis: sign in, rotate, sign out.
    let db = DatabaseUrl::parse(&format!("sqlite://{}/shop.db", dir.path().display()))
        .expect("a database URL");
    let store = connect_and_migrate(&db, 2).await.expect("store");
    let shop = Shop::new(store, ShopSettings::default())
        .with_key_value(Arc::new(kv) as Arc<dyn KeyValueStore>)
        .with_auth(AuthSettings::new(SecretString::from(
            "a-test-secret-that-is-long-enough!!",
        )));
    shop.register_user(
        &Actor::Anonymous,
        RegisterUser {
            email: "ada@example.com".into(),
            password: "correct horse battery".into(),
            full_name: "Ada".into(),
            role: None,
        },
    )
    .await
    .expect("registered");
    let session = shop
        .login("ada@example.com", "correct horse battery")
        .await
        .expect("signed in");
    let rotated = shop
        .refresh(session.refresh_token.expose_secret())
        .await
        .expect("refreshed over TLS");
    assert!(
        shop.refresh(session.refresh_token.expose_secret())
            .await
            .is_err(),
        "the rotated-away token is spent"
    );
    assert!(
        shop.refresh(rotated.refresh_token.expose_secret())
            .await
            .is_err(),
        "its reuse revoked the whole family, as Redis recorded"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_with_a_message_naming_the_ca_setting() {
    let redis = TlsRedis::start().await;
    let url = redis.url();

    // Not signed by a public root.
    let error = RedisKeyValue::connect(&url, unique_redis_prefix())
        .await
        .expect_err("a certificate of a private CA is not trusted by default");
    let text = format!("{error:#}");
    assert!(
        text.contains("not trusted") && text.contains("SHOP_REDIS_CA_FILE"),
        "{text}"
    );

    // Trusting another CA.
    let other = redis.other_ca_file();
    let error = RedisKeyValue::connect_with_ca(&url, unique_redis_prefix(), Some(&other))
        .await
        .expect_err("signed by another CA");
    let text = format!("{error:#}");
    assert!(
        text.contains("not trusted") && text.contains("SHOP_REDIS_CA_FILE"),
        "{text}"
    );

    // A CA file that does not exist, and one set for a plain redis:// URL.
    let missing = redis.dir().join("missing.pem");
    let error = RedisKeyValue::connect_with_ca(&url, unique_redis_prefix(), Some(&missing))
        .await
        .expect_err("no such file");
    assert!(
        format!("{error:#}").contains("SHOP_REDIS_CA_FILE"),
        "{error:#}"
    );
    let plain = format!("redis://localhost:{}", redis.port());
    let error =
        RedisKeyValue::connect_with_ca(&plain, unique_redis_prefix(), Some(&redis.ca_file()))
            .await
            .expect_err("a CA for a plain connection is a mistake");
    assert!(format!("{error:#}").contains("rediss://"), "{error:#}");
}
