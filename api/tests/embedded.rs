//! `shop-api` on the embedded default (SQLite in the working directory), and the command line's
//! behaviour on bad configuration. Each test drives the real binary.

mod common;

use common::{Server, count_products, count_users, http, open_shop, run, shop_api};
use shop_core::domain::Role;

const EPHEMERAL_PORT: (&str, &str) = ("SHOP_HTTP_ADDR", "127.0.0.1:0");

#[tokio::test]
async fn serves_the_embedded_shop_seeds_it_once_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("shop.db");

    let server = Server::start(shop_api(dir.path(), &[EPHEMERAL_PORT], &[])).await;
    let banner = server.banner.join("\n");
    assert_eq!(
        server.banner_value("database: "),
        Some(format!("sqlite {}", database.display()).as_str()),
        "{banner}"
    );
    assert_eq!(
        server.banner_value("cache: "),
        Some("in-process"),
        "{banner}"
    );
    assert_eq!(
        server.banner_value("events: "),
        Some("in-process"),
        "{banner}"
    );
    assert!(
        server.banner_value("demo catalog: added ").is_some(),
        "{banner}"
    );
    let credentials = server
        .banner_value("demo admin: ")
        .expect("the demo admin is announced")
        .strip_suffix(" (shown once)")
        .expect("the password is marked as shown once");
    let (email, password) = credentials
        .split_once(" / ")
        .map(|(email, password)| (email.to_owned(), password.to_owned()))
        .expect("`email / password`");
    assert_eq!(email, "admin@example.com");
    assert!(password.len() >= 20, "a strong password: {password}");

    let client = http();
    let health = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.expect("JSON from /healthz");
    assert_eq!(body, serde_json::json!({ "status": "ok" }));

    let ready = client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("JSON from /readyz");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");

    let missing = client
        .get(server.url("/no-such-page"))
        .send()
        .await
        .expect("GET an unknown path");
    assert_eq!(missing.status(), 404);

    let stopped = server.terminate().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.transcript());
    assert!(
        stopped.stdout.contains("stopped"),
        "{}",
        stopped.transcript()
    );
    assert!(
        !stopped.stderr.contains("panicked"),
        "{}",
        stopped.transcript()
    );

    let url = format!("sqlite://{}", database.display());
    let shop = open_shop(&url).await;
    let admin = shop
        .authenticate(&email, &password)
        .await
        .expect("the printed password signs the demo admin in");
    assert_eq!(admin.role, Role::Admin);
    let products = count_products(&shop).await;
    assert!(products >= 50, "{products} products");
    let categories = shop.list_categories().await.expect("categories").len();
    assert!(categories >= 5, "{categories} categories");
    assert!(
        shop.list_categories()
            .await
            .expect("categories")
            .iter()
            .any(|category| category.parent_id.is_some()),
        "the demo categories form a tree"
    );
    assert_eq!(count_users(&shop).await, 1);

    // A second start on the same file: no new admin, no second catalog.
    let server = Server::start(shop_api(dir.path(), &[EPHEMERAL_PORT], &[])).await;
    let banner = server.banner.join("\n");
    assert!(!banner.contains("demo admin"), "{banner}");
    assert!(!banner.contains("demo catalog"), "{banner}");
    let stopped = server.terminate().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.transcript());
    assert_eq!(count_products(&shop).await, products);
    assert_eq!(count_users(&shop).await, 1);
}

#[tokio::test]
async fn an_unparsable_address_is_a_configuration_error_naming_the_variable() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let finished = run(
        shop_api(dir.path(), &[("SHOP_HTTP_ADDR", "nowhere")], &[]),
        None,
    )
    .await;
    assert_eq!(finished.code, Some(2), "{}", finished.transcript());
    assert!(
        finished.stderr.starts_with("error: SHOP_HTTP_ADDR: "),
        "{}",
        finished.transcript()
    );
    assert!(
        !dir.path().join("shop.db").exists(),
        "nothing is created before the configuration is valid"
    );
}

#[tokio::test]
async fn a_busy_port_fails_the_start_before_anything_is_seeded() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let address = taken.local_addr().expect("its address").to_string();
    let finished = run(
        shop_api(dir.path(), &[("SHOP_HTTP_ADDR", &address)], &[]),
        None,
    )
    .await;
    assert_eq!(finished.code, Some(1), "{}", finished.transcript());
    assert!(
        finished.stderr.contains(&format!(
            "error: cannot listen on {address} (SHOP_HTTP_ADDR)"
        )),
        "{}",
        finished.transcript()
    );
    assert!(
        !finished.stdout.contains("demo admin"),
        "no password is handed out for a server that never ran: {}",
        finished.transcript()
    );
}

#[tokio::test]
async fn an_unsupported_database_is_a_configuration_error_naming_the_variable() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for args in [&[][..], &["migrate"][..]] {
        let finished = run(
            shop_api(dir.path(), &[("DATABASE_URL", "mysql://x")], args),
            None,
        )
        .await;
        assert_eq!(finished.code, Some(2), "{}", finished.transcript());
        assert!(
            finished.stderr.starts_with("error: DATABASE_URL: "),
            "{}",
            finished.transcript()
        );
    }
}

#[tokio::test]
async fn a_missing_configuration_file_is_named() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let finished = run(
        shop_api(
            dir.path(),
            &[("SHOP_CONFIG_FILE", "/nonexistent/shop.toml")],
            &["migrate"],
        ),
        None,
    )
    .await;
    assert_eq!(finished.code, Some(2), "{}", finished.transcript());
    assert!(
        finished.stderr.contains("SHOP_CONFIG_FILE") && finished.stderr.contains("shop.toml"),
        "{}",
        finished.transcript()
    );
}

#[tokio::test]
async fn an_unreachable_database_fails_cleanly() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Port 1 refuses connections; the pool retries until its acquire timeout, then gives up.
    let url = "postgres://postgres:hunter2@127.0.0.1:1/shop";
    let env = [
        ("DATABASE_URL", url),
        ("SHOP_JWT_SECRET", "embedded-tests-secret-at-least-32-bytes"),
    ];
    let finished = run(shop_api(dir.path(), &env, &[]), None).await;
    assert_eq!(finished.code, Some(1), "{}", finished.transcript());
    assert!(
        finished
            .stderr
            .contains("error: the database is not usable: cannot connect to the database at postgres://127.0.0.1:1/shop"),
        "{}",
        finished.transcript()
    );
    for leak in ["panicked", "backtrace", "hunter2"] {
        assert!(!finished.stderr.contains(leak), "{}", finished.transcript());
    }
    assert!(
        !finished.stdout.contains("listening on"),
        "{}",
        finished.transcript()
    );
}

#[tokio::test]
async fn help_and_version_work_for_every_command() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let version = run(shop_api(dir.path(), &[], &["--version"]), None).await;
    assert_eq!(version.code, Some(0), "{}", version.transcript());
    assert!(
        version.stdout.starts_with("shop-api "),
        "{}",
        version.transcript()
    );
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["user", "--help"],
        &["user", "create", "--help"],
        &["seed", "--help"],
    ] {
        let help = run(shop_api(dir.path(), &[], args), None).await;
        assert_eq!(help.code, Some(0), "{args:?}: {}", help.transcript());
        assert!(
            help.stdout.contains("Usage: shop-api"),
            "{args:?}: {}",
            help.transcript()
        );
    }
    let usage = run(shop_api(dir.path(), &[], &["user", "create"]), None).await;
    assert_eq!(usage.code, Some(2), "{}", usage.transcript());
    assert!(usage.stderr.contains("--email"), "{}", usage.transcript());
}
