//! `shop-api serve` with `REDIS_URL=rediss://…` (a TLS-only `redis-server` of the test's own,
//! its certificate signed by a throwaway CA): it starts and keeps its sessions there when
//! `SHOP_REDIS_CA_FILE` names that CA, and refuses to start, naming the setting, when the
//! certificate is not trusted.

mod common;

use common::{Server, http, run, shop_api};
use shop_testing::tls_redis::TlsRedis;

const EPHEMERAL_PORT: (&str, &str) = ("SHOP_HTTP_ADDR", "127.0.0.1:0");
const JWT_SECRET: (&str, &str) = (
    "SHOP_JWT_SECRET",
    "redis-tls-tests-secret-at-least-32-bytes",
);

#[tokio::test]
async fn serves_with_sessions_in_a_tls_redis_it_trusts_through_the_ca_setting() {
    let redis = TlsRedis::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = redis.url();
    let ca = redis.ca_file().display().to_string();
    let server = Server::start(shop_api(
        dir.path(),
        &[
            EPHEMERAL_PORT,
            JWT_SECRET,
            ("REDIS_URL", &url),
            ("SHOP_REDIS_CA_FILE", &ca),
        ],
        &[],
    ))
    .await;
    let banner = server.banner.join("\n");
    assert_eq!(
        server.banner_value("cache: "),
        Some(format!("redis {url}").as_str()),
        "{banner}"
    );
    // A sign-up and sign-in: the refresh token is stored in the TLS Redis.
    let client = http();
    let registered = client
        .post(server.url("/api/v1/auth/register"))
        .json(&serde_json::json!({
            "email": "ada@example.com", "password": "correct horse battery", "full_name": "Ada"
        }))
        .send()
        .await
        .expect("register");
    assert!(registered.status().is_success(), "{}", registered.status());
    let login = client
        .post(server.url("/api/v1/auth/login"))
        .json(
            &serde_json::json!({ "email": "ada@example.com", "password": "correct horse battery" }),
        )
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let tokens: serde_json::Value = login.json().await.expect("tokens");
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let refreshed = client
        .post(server.url("/api/v1/auth/refresh"))
        .json(&serde_json::json!({ "refresh_token": refresh }))
        .send()
        .await
        .expect("refresh");
    assert_eq!(refreshed.status(), 200);
    let finished = server.terminate().await;
    assert_eq!(finished.code, Some(0), "{}", finished.transcript());
}

#[tokio::test]
async fn refuses_to_start_on_an_untrusted_certificate_and_names_the_ca_setting() {
    let redis = TlsRedis::start().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = redis.url();
    let finished = run(
        shop_api(
            dir.path(),
            &[EPHEMERAL_PORT, JWT_SECRET, ("REDIS_URL", &url)],
            &[],
        ),
        None,
    )
    .await;
    assert_ne!(finished.code, Some(0), "{}", finished.transcript());
    assert!(
        finished.stderr.contains("REDIS_URL")
            && finished.stderr.contains("not trusted")
            && finished.stderr.contains("SHOP_REDIS_CA_FILE"),
        "{}",
        finished.transcript()
    );
}
