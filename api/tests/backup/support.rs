//! Helpers shared by the backup tests: running `shop-api backup`, reading back what a database
//! holds, and placing an order so there is something to back up.

use std::{collections::BTreeMap, path::Path};

use shop_core::app::{Actor, AddToCart, AddressInput, Checkout, ListProducts, RegisterUser};
use sqlx::{Connection as _, PgConnection, SqliteConnection};

use crate::common::{Finished, open_shop, run, shop_api};

pub(crate) const JWT_SECRET: (&str, &str) =
    ("SHOP_JWT_SECRET", "backup-tests-secret-at-least-32-bytes");

pub(crate) fn target_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

pub(crate) fn assert_ok(finished: &Finished, what: &str) {
    assert_eq!(finished.code, Some(0), "{what}\n{}", finished.transcript());
}

/// Runs `shop-api ARGS` and fails the test unless it succeeded: for the steps that set a test up
/// (`migrate`, `backup create`), whose success is not what the test is about.
pub(crate) async fn run_ok(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Finished {
    let finished = run(shop_api(dir, env, args), None).await;
    assert_ok(&finished, &args.join(" "));
    finished
}

/// Ids of the listed backups, newest first.
pub(crate) async fn listed(dir: &Path, env: &[(&str, &str)], target: &Path) -> Vec<String> {
    let target = target_url(target);
    let finished = run(
        shop_api(dir, env, &["backup", "list", "--json", "--target", &target]),
        None,
    )
    .await;
    assert_ok(&finished, "backup list --json");
    let manifests: Vec<serde_json::Value> =
        serde_json::from_str(&finished.stdout).expect("a JSON array of manifests");
    manifests
        .iter()
        .map(|m| m["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// The id in `backup ID: complete: ...`.
pub(crate) fn created_id(finished: &Finished) -> String {
    finished
        .stdout
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix("backup ")?;
            let (id, tail) = rest.split_once(": ")?;
            tail.starts_with("complete").then(|| id.to_owned())
        })
        .unwrap_or_else(|| panic!("no completed backup\n{}", finished.transcript()))
}

/// Every table's row count and a checksum of its rows in a fixed order.
pub(crate) async fn pg_contents(url: &str) -> BTreeMap<String, (i64, String)> {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list tables");
    let mut contents = BTreeMap::new();
    for table in tables {
        let row: (i64, String) = sqlx::query_as(&format!(
            "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') \
             FROM public.\"{table}\" t"
        ))
        .fetch_one(&mut conn)
        .await
        .expect("checksum a table");
        contents.insert(table, row);
    }
    let _ = conn.close().await;
    contents
}

/// Every table's rows, each rendered with SQLite's `quote()`, in a fixed order.
pub(crate) async fn sqlite_contents(path: &Path) -> BTreeMap<String, Vec<String>> {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .expect("open");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list tables");
    let mut contents = BTreeMap::new();
    for table in tables {
        let columns: Vec<String> =
            sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .fetch_all(&mut conn)
                .await
                .expect("list columns");
        let rendered = columns
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || ',' || ");
        let mut rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT {rendered} FROM \"{table}\""))
                .fetch_all(&mut conn)
                .await
                .expect("read rows");
        rows.sort();
        contents.insert(table, rows);
    }
    let _ = conn.close().await;
    contents
}

/// A customer with an address who checks out two products, through the application layer.
pub(crate) async fn place_an_order(url: &str) {
    let shop = open_shop(url).await;
    let user = shop
        .register_user(
            &Actor::System,
            RegisterUser {
                email: "buyer@example.com".to_owned(),
                password: "correct horse battery".to_owned(),
                full_name: "Bea Buyer".to_owned(),
                role: None,
            },
        )
        .await
        .expect("register a customer");
    let actor = Actor::user(user.id, user.role);
    shop.add_address(
        &actor,
        AddressInput {
            recipient: "Bea Buyer".to_owned(),
            line1: "1 Main Street".to_owned(),
            line2: None,
            city: "Springfield".to_owned(),
            region: Some("IL".to_owned()),
            postal_code: "62701".to_owned(),
            country: "US".to_owned(),
            phone: None,
            is_default: true,
        },
    )
    .await
    .expect("add an address");
    let products = shop
        .list_products(
            &Actor::System,
            ListProducts {
                limit: Some(2),
                ..ListProducts::default()
            },
        )
        .await
        .expect("list products");
    assert_eq!(products.items.len(), 2, "the demo catalog has products");
    for product in &products.items {
        shop.add_to_cart(
            &actor,
            AddToCart {
                product_id: product.id.to_string(),
                quantity: 2,
            },
        )
        .await
        .expect("add to cart");
    }
    shop.checkout(
        &actor,
        Checkout {
            idempotency_key: "backup-test-order-1".to_owned(),
            shipping_address_id: None,
            shipping_method_id: None,
        },
    )
    .await
    .expect("check out");
}

pub(crate) async fn scratch_exists(name: &str) -> bool {
    let mut admin = PgConnection::connect(&shop_testing::pg_admin_url())
        .await
        .expect("connect as admin");
    let found: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .expect("look up a database");
    let _ = admin.close().await;
    found > 0
}
