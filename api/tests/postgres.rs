//! `shop-api` against Postgres, the production database: serve, migrate, user create and seed.
//! Each test has a fresh database of its own (see `shop_testing::PgDatabase`).

mod common;

use common::{Server, count_products, count_users, http, open_shop, run, shop_api};
use shop_core::{app::AppError, domain::Role};
use shop_testing::PgDatabase;

const EPHEMERAL_PORT: (&str, &str) = ("SHOP_HTTP_ADDR", "127.0.0.1:0");
/// Required with `DATABASE_URL`: only the embedded default makes up its own session key.
const JWT_SECRET: (&str, &str) = ("SHOP_JWT_SECRET", "postgres-tests-secret-at-least-32-bytes");

#[tokio::test]
async fn serves_postgres_without_demo_data_and_reports_lost_database_as_not_ready() {
    let database = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = database.url_with_password("hunter2");

    let server = Server::start(shop_api(
        dir.path(),
        &[EPHEMERAL_PORT, ("DATABASE_URL", &url), JWT_SECRET],
        &[],
    ))
    .await;
    let banner = server.banner.join("\n");
    assert_eq!(
        server.banner_value("database: "),
        Some(format!("postgres postgres://127.0.0.1:5432/{}", database.name()).as_str()),
        "{banner}"
    );
    assert!(
        !banner.contains("hunter2"),
        "the password never prints: {banner}"
    );
    assert!(
        !banner.contains("demo"),
        "no demo data on Postgres: {banner}"
    );

    let client = http();
    let ready = client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("JSON from /readyz");
    assert_eq!(body["checks"]["database"], "ok");

    let shop = open_shop(database.url()).await;
    assert_eq!(count_users(&shop).await, 0);
    assert_eq!(count_products(&shop).await, 0);
    drop(shop);

    // The database disappears: liveness holds, readiness fails without telling why.
    database.drop_now().await;
    let health = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(health.status(), 200);
    let not_ready = client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    assert_eq!(not_ready.status(), 503);
    assert_eq!(
        not_ready.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = not_ready.json().await.expect("a problem document");
    assert_eq!(problem["status"], 503);
    assert_eq!(problem["checks"]["database"], "failing");
    let text = problem.to_string();
    assert!(
        !text.contains(database.name()) && !text.contains("sqlx") && !text.contains("FATAL"),
        "the cause stays in the log: {text}"
    );

    let stopped = server.terminate().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.transcript());
}

#[tokio::test]
async fn migrate_creates_the_schema_and_is_idempotent() {
    let database = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let env = [("DATABASE_URL", database.url())];

    let first = run(shop_api(dir.path(), &env, &["migrate"]), None).await;
    assert_eq!(first.code, Some(0), "{}", first.transcript());
    assert!(
        first.stdout.contains("migrations: applied "),
        "{}",
        first.transcript()
    );

    let mut connection = database.connect().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut connection)
    .await
    .expect("list tables");
    for table in [
        "users",
        "categories",
        "products",
        "orders",
        "payments",
        "outbox",
    ] {
        assert!(
            tables.iter().any(|name| name == table),
            "{table} missing from {tables:?}"
        );
    }

    let second = run(shop_api(dir.path(), &env, &["migrate"]), None).await;
    assert_eq!(second.code, Some(0), "{}", second.transcript());
    assert!(
        second.stdout.contains("migrations: none to apply"),
        "{}",
        second.transcript()
    );
    assert!(
        !dir.path().join("shop.db").exists(),
        "no SQLite file appears when Postgres is configured"
    );
}

#[tokio::test]
async fn user_create_takes_a_piped_password_or_generates_one() {
    let database = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let env = [("DATABASE_URL", database.url())];
    let create = |args: &[&str]| {
        let mut all = vec!["user", "create"];
        all.extend_from_slice(args);
        shop_api(dir.path(), &env, &all)
    };

    let created = run(
        create(&[
            "--email",
            "Ops@Example.com",
            "--name",
            "Ops Team",
            "--admin",
        ]),
        Some("correct horse battery staple\n"),
    )
    .await;
    assert_eq!(created.code, Some(0), "{}", created.transcript());
    assert!(
        created.stdout.contains("created admin ops@example.com"),
        "{}",
        created.transcript()
    );
    assert!(
        !created.stdout.contains("password"),
        "a piped password is never echoed: {}",
        created.transcript()
    );
    let shop = open_shop(database.url()).await;
    let admin = shop
        .authenticate("ops@example.com", "correct horse battery staple")
        .await
        .expect("the piped password signs in");
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(admin.full_name.as_str(), "Ops Team");

    let again = run(
        create(&["--email", "ops@example.com", "--admin"]),
        Some("another password\n"),
    )
    .await;
    assert_eq!(again.code, Some(1), "{}", again.transcript());
    assert!(
        again.stderr.contains("email") && again.stderr.contains("already taken"),
        "{}",
        again.transcript()
    );

    let invalid = run(create(&["--email", "not-an-email"]), Some("long enough\n")).await;
    assert_eq!(invalid.code, Some(1), "{}", invalid.transcript());
    assert!(
        invalid.stderr.contains("error: email: "),
        "{}",
        invalid.transcript()
    );

    let short = run(create(&["--email", "short@example.com"]), Some("short\n")).await;
    assert_eq!(short.code, Some(1), "{}", short.transcript());
    assert!(
        short.stderr.contains("error: password: "),
        "{}",
        short.transcript()
    );

    let generated = run(create(&["--email", "ada@example.com"]), None).await;
    assert_eq!(generated.code, Some(0), "{}", generated.transcript());
    assert!(
        generated
            .stdout
            .contains("created customer ada@example.com"),
        "{}",
        generated.transcript()
    );
    let password = generated
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("password: "))
        .and_then(|rest| rest.strip_suffix(" (generated; shown once)"))
        .unwrap_or_else(|| panic!("a generated password line: {}", generated.transcript()));
    assert!(password.len() >= 20, "{password}");
    let customer = shop
        .authenticate("ada@example.com", password)
        .await
        .expect("the generated password signs in");
    assert_eq!(customer.role, Role::Customer);
    assert_eq!(customer.full_name.as_str(), "ada");
    assert!(matches!(
        shop.authenticate("ada@example.com", "not the password")
            .await,
        Err(AppError::InvalidCredentials)
    ));
    assert_eq!(count_users(&shop).await, 2);
}

#[tokio::test]
async fn seed_demo_loads_the_catalog_once() {
    let database = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let env = [("DATABASE_URL", database.url())];

    let first = run(shop_api(dir.path(), &env, &["seed", "--demo"]), None).await;
    assert_eq!(first.code, Some(0), "{}", first.transcript());
    assert!(
        first.stdout.contains("demo catalog: added "),
        "{}",
        first.transcript()
    );
    let shop = open_shop(database.url()).await;
    let products = count_products(&shop).await;
    let categories = shop.list_categories().await.expect("categories").len();
    assert!(products >= 50, "{products} products");
    assert!(categories >= 5, "{categories} categories");
    assert_eq!(count_users(&shop).await, 0, "seeding creates no accounts");

    let second = run(shop_api(dir.path(), &env, &["seed", "--demo"]), None).await;
    assert_eq!(second.code, Some(0), "{}", second.transcript());
    assert!(
        second.stdout.contains("demo catalog: skipped"),
        "{}",
        second.transcript()
    );
    assert_eq!(count_products(&shop).await, products);
    assert_eq!(
        shop.list_categories().await.expect("categories").len(),
        categories
    );
}
