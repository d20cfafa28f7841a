//! `shop-api backup`: real round trips through pg_dump/pg_restore and SQLite's `VACUUM INTO`,
//! corruption, retention and interrupted backups, all through the real binary.

mod common;

use std::{
    collections::BTreeMap,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
};

use common::{Finished, open_shop, run, shop_api};
use shop_core::app::{Actor, AddToCart, AddressInput, Checkout, ListProducts, RegisterUser};
use shop_testing::PgDatabase;
use sqlx::{Connection as _, PgConnection, SqliteConnection};

const JWT_SECRET: (&str, &str) = ("SHOP_JWT_SECRET", "backup-tests-secret-at-least-32-bytes");

fn target_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

fn assert_ok(finished: &Finished, what: &str) {
    assert_eq!(finished.code, Some(0), "{what}\n{}", finished.transcript());
}

/// Ids of the listed backups, newest first.
async fn listed(dir: &Path, env: &[(&str, &str)], target: &Path) -> Vec<String> {
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
fn created_id(finished: &Finished) -> String {
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
async fn pg_contents(url: &str) -> BTreeMap<String, (i64, String)> {
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
async fn sqlite_contents(path: &Path) -> BTreeMap<String, Vec<String>> {
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
async fn place_an_order(url: &str) {
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
        },
    )
    .await
    .expect("check out");
}

async fn scratch_exists(name: &str) -> bool {
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

#[tokio::test]
async fn postgres_round_trip_restores_every_row_and_refuses_corruption() {
    let source = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("backups");
    let target = target_url(&store);
    // The password is ignored by trust authentication; it must reach pg_dump through the
    // environment and never show in output.
    let url = source.url_with_password("hunter2");
    let env = [("DATABASE_URL", url.as_str()), JWT_SECRET];

    assert_ok(
        &run(shop_api(dir.path(), &env, &["seed", "--demo"]), None).await,
        "seed",
    );
    let created = run(
        shop_api(
            dir.path(),
            &env,
            &["user", "create", "--email", "ada@example.com", "--admin"],
        ),
        Some("a-long-enough-password\n"),
    )
    .await;
    assert_ok(&created, "user create");
    place_an_order(source.url()).await;
    let before = pg_contents(source.url()).await;
    assert!(
        before["orders"].0 == 1 && before["users"].0 >= 2,
        "{before:?}"
    );

    let backup = run(
        shop_api(dir.path(), &env, &["backup", "create", "--target", &target]),
        None,
    )
    .await;
    assert_ok(&backup, "backup create");
    assert!(!backup.stdout.contains("hunter2") && !backup.stderr.contains("hunter2"));
    let id = created_id(&backup);
    assert_eq!(listed(dir.path(), &env, &store).await, [id.as_str()]);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(store.join(format!("{id}.json"))).expect("the manifest"),
    )
    .expect("JSON");
    assert_eq!(manifest["backend"], "postgres");
    assert_eq!(manifest["database"], source.name());
    assert_eq!(manifest["row_counts"]["orders"], 1);
    assert!(manifest["schema_version"].as_i64().is_some(), "{manifest}");
    assert!(
        manifest["tools"]["pg_dump"]
            .as_str()
            .is_some_and(|v| v.starts_with("pg_dump (PostgreSQL)")),
        "{manifest}"
    );

    // The shop is gone; a new, empty database gets it back, row for row.
    source.drop_now().await;
    let restored = PgDatabase::create().await;
    let restore = run(
        shop_api(
            dir.path(),
            &env,
            &[
                "backup",
                "restore",
                &id,
                "--to",
                restored.url(),
                "--target",
                &target,
            ],
        ),
        None,
    )
    .await;
    assert_ok(&restore, "backup restore");
    assert!(
        restore.stdout.contains("row counts match"),
        "{}",
        restore.transcript()
    );
    assert_eq!(pg_contents(restored.url()).await, before);

    // Restoring over a database that has tables is refused.
    let again = run(
        shop_api(
            dir.path(),
            &env,
            &[
                "backup",
                "restore",
                &id,
                "--to",
                restored.url(),
                "--target",
                &target,
            ],
        ),
        None,
    )
    .await;
    assert_eq!(again.code, Some(1), "{}", again.transcript());
    assert!(
        again.stderr.contains("is not empty"),
        "{}",
        again.transcript()
    );

    // verify uses a scratch database on the server DATABASE_URL names, and drops it.
    let verify_env = [("DATABASE_URL", restored.url()), JWT_SECRET];
    let verify = run(
        shop_api(
            dir.path(),
            &verify_env,
            &["backup", "verify", &id, "--target", &target],
        ),
        None,
    )
    .await;
    assert_ok(&verify, "backup verify");
    let scratch = verify
        .stdout
        .split_whitespace()
        .find(|word| word.starts_with("shop_verify_"))
        .unwrap_or_else(|| panic!("names its scratch database\n{}", verify.transcript()));
    assert!(!scratch_exists(scratch).await, "{scratch} was dropped");

    // One flipped byte: both refuse before touching any database.
    let data = store.join(format!("{id}.dump.zst"));
    let mut bytes = std::fs::read(&data).expect("read the backup");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&data, bytes).expect("corrupt the backup");
    let fresh = PgDatabase::create().await;
    for args in [
        vec![
            "backup",
            "restore",
            &id,
            "--to",
            fresh.url(),
            "--target",
            &target,
        ],
        vec!["backup", "verify", &id, "--target", &target],
    ] {
        let refused = run(shop_api(dir.path(), &verify_env, &args), None).await;
        assert_eq!(refused.code, Some(1), "{}", refused.transcript());
        assert!(
            refused
                .stderr
                .contains(&format!("error: backup {id}: checksum mismatch (expected ")),
            "{}",
            refused.transcript()
        );
    }
    assert!(
        pg_contents(fresh.url()).await.is_empty(),
        "nothing restored"
    );
}

/// A stand-in for pg_dump that answers `--version`, then writes part of a dump and fails
/// (`fail`) or kills the backup process itself mid-stream (`kill`).
fn fake_pg_dump(dir: &Path, name: &str, ending: &str) -> PathBuf {
    let path = dir.join(name);
    let script = format!(
        "#!/bin/sh\n\
         if [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 15.0'; exit 0; fi\n\
         head -c 200000 /dev/urandom\n\
         {ending}\n"
    );
    std::fs::write(&path, script).expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[tokio::test]
async fn interrupted_or_failed_backups_leave_nothing_listed() {
    let database = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("backups");
    let target = target_url(&store);
    let env = [("DATABASE_URL", database.url()), JWT_SECRET];
    assert_ok(
        &run(shop_api(dir.path(), &env, &["migrate"]), None).await,
        "migrate",
    );
    let good = run(
        shop_api(dir.path(), &env, &["backup", "create", "--target", &target]),
        None,
    )
    .await;
    assert_ok(&good, "backup create");
    let good = created_id(&good);

    let failing = fake_pg_dump(
        dir.path(),
        "failing-pg_dump",
        "echo 'pg_dump: error: connection to server lost' >&2; exit 1",
    );
    let failing = failing.to_str().expect("UTF-8");
    let env_failing = [
        ("DATABASE_URL", database.url()),
        JWT_SECRET,
        ("SHOP_PG_DUMP", failing),
    ];
    let failed = run(
        shop_api(
            dir.path(),
            &env_failing,
            &["backup", "create", "--target", &target],
        ),
        None,
    )
    .await;
    assert_eq!(failed.code, Some(1), "{}", failed.transcript());
    assert!(
        failed.stderr.contains("connection to server lost") && failed.stderr.contains("failed"),
        "{}",
        failed.transcript()
    );

    let killer = fake_pg_dump(dir.path(), "killing-pg_dump", "kill -KILL $PPID; exit 0");
    let killer = killer.to_str().expect("UTF-8");
    let env_killed = [
        ("DATABASE_URL", database.url()),
        JWT_SECRET,
        ("SHOP_PG_DUMP", killer),
    ];
    let killed = run(
        shop_api(
            dir.path(),
            &env_killed,
            &["backup", "create", "--target", &target],
        ),
        None,
    )
    .await;
    assert_eq!(
        killed.code,
        None,
        "killed by a signal\n{}",
        killed.transcript()
    );

    assert_eq!(listed(dir.path(), &env, &store).await, [good.as_str()]);
    // Only the complete backup is visible; the killed one left at most a hidden partial file.
    let mut visible: Vec<String> = std::fs::read_dir(&store)
        .expect("the store")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| !name.starts_with('.'))
        .collect();
    visible.sort();
    assert_eq!(
        visible,
        [format!("{good}.dump.zst"), format!("{good}.json")]
    );
}

#[tokio::test]
async fn sqlite_round_trip_and_cron_style_prune() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("backups");
    let target = target_url(&store);
    // The default target comes from the configuration.
    let env = [("SHOP_BACKUP_TARGET", target.as_str())];
    assert_ok(
        &run(shop_api(dir.path(), &env, &["seed", "--demo"]), None).await,
        "seed",
    );
    let created = run(
        shop_api(
            dir.path(),
            &env,
            &["user", "create", "--email", "ada@example.com"],
        ),
        Some("a-long-enough-password\n"),
    )
    .await;
    assert_ok(&created, "user create");
    let db = dir.path().join("shop.db");
    place_an_order(&format!("sqlite://{}", db.display())).await;
    let before = sqlite_contents(&db).await;
    assert_eq!(before["orders"].len(), 1);

    let first = run(shop_api(dir.path(), &env, &["backup", "create"]), None).await;
    assert_ok(&first, "backup create");
    let first = created_id(&first);
    let second = run(
        shop_api(
            dir.path(),
            &env,
            &["backup", "create", "--prune", "--keep-last", "1"],
        ),
        None,
    )
    .await;
    assert_ok(&second, "backup create --prune");
    assert!(
        second.stdout.contains(&format!("pruned {first}")),
        "{}",
        second.transcript()
    );
    let second = created_id(&second);
    assert_eq!(listed(dir.path(), &env, &store).await, [second.as_str()]);

    let table = run(shop_api(dir.path(), &env, &["backup", "list"]), None).await;
    assert_ok(&table, "backup list");
    assert!(
        table.stdout.starts_with("ID ") && table.stdout.contains(&second),
        "{}",
        table.transcript()
    );

    let restored = dir.path().join("restored.db");
    let to = format!("sqlite://{}", restored.display());
    let restore = run(
        shop_api(
            dir.path(),
            &env,
            &["backup", "restore", &second, "--to", &to],
        ),
        None,
    )
    .await;
    assert_ok(&restore, "backup restore");
    assert_eq!(sqlite_contents(&restored).await, before);

    let verify = run(
        shop_api(dir.path(), &env, &["backup", "verify", &second]),
        None,
    )
    .await;
    assert_ok(&verify, "backup verify");

    // Usage and configuration errors exit with 2.
    for args in [
        vec!["backup", "list", "--target", "/not/a/url"],
        vec!["backup", "prune"],
        vec!["backup", "prune", "--max-age", "soon"],
        vec!["backup", "create", "--keep-last", "3"],
    ] {
        let refused = run(shop_api(dir.path(), &env, &args), None).await;
        assert_eq!(refused.code, Some(2), "{args:?}\n{}", refused.transcript());
        assert!(refused.stderr.contains("error"), "{}", refused.transcript());
    }
    let missing = run(
        shop_api(
            dir.path(),
            &env,
            &["backup", "restore", "nope", "--to", &to, "--force"],
        ),
        None,
    )
    .await;
    assert_eq!(missing.code, Some(1), "{}", missing.transcript());
    assert!(
        missing.stderr.contains("error: backup nope: not found"),
        "{}",
        missing.transcript()
    );
}

#[tokio::test]
async fn create_writes_a_one_line_json_report_for_the_termination_message() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("backups");
    let target = target_url(&store);
    let env = [("SHOP_BACKUP_TARGET", target.as_str())];
    assert_ok(
        &run(shop_api(dir.path(), &env, &["migrate"]), None).await,
        "migrate",
    );

    // The flag, as a developer would pass it.
    let report = dir.path().join("report.json");
    let report_arg = report.display().to_string();
    let created = run(
        shop_api(
            dir.path(),
            &env,
            &["backup", "create", "--report-file", &report_arg],
        ),
        None,
    )
    .await;
    assert_ok(&created, "backup create --report-file");
    let id = created_id(&created);
    let text = std::fs::read_to_string(&report).expect("the report is written");
    assert_eq!(text.lines().count(), 1, "one line: {text:?}");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the report is JSON");
    assert_eq!(json["id"], id.as_str(), "{json}");
    let location = json["location"].as_str().expect("a location");
    let data = location
        .strip_prefix("file://")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("a file:// location: {location}"));
    assert_eq!(data.parent(), Some(store.as_path()), "{location}");
    let file_name = data
        .file_name()
        .and_then(|name| name.to_str())
        .expect("a file name");
    assert!(
        file_name.starts_with(&id) && file_name.ends_with(".sqlite.zst"),
        "{location}"
    );
    let size = std::fs::metadata(&data)
        .expect("the location names the stored data file")
        .len();
    assert_eq!(json["sizeBytes"].as_u64(), Some(size), "{json}");
    let created_at = json["createdAt"].as_str().expect("a createdAt");
    chrono::DateTime::parse_from_rfc3339(created_at).expect("createdAt is RFC 3339");
    assert_eq!(
        json.as_object().map(serde_json::Map::len),
        Some(4),
        "exactly id, location, sizeBytes and createdAt: {json}"
    );

    // The environment variable, as the operator's backup pods set it; the file is replaced.
    let from_env = [
        ("SHOP_BACKUP_TARGET", target.as_str()),
        ("SHOP_BACKUP_REPORT_FILE", report_arg.as_str()),
    ];
    let second = run(shop_api(dir.path(), &from_env, &["backup", "create"]), None).await;
    assert_ok(&second, "backup create with SHOP_BACKUP_REPORT_FILE");
    let second = created_id(&second);
    let text = std::fs::read_to_string(&report).expect("the report is written");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the report is JSON");
    assert_eq!(json["id"], second.as_str(), "{json}");
    assert_ne!(second, id);

    // A report that cannot be written does not fail a backup that is stored.
    let unwritable = dir.path().join("no-such-dir").join("report.json");
    let third = run(
        shop_api(
            dir.path(),
            &env,
            &[
                "backup",
                "create",
                "--report-file",
                &unwritable.display().to_string(),
            ],
        ),
        None,
    )
    .await;
    assert_ok(&third, "backup create with an unwritable report file");
    assert_eq!(listed(dir.path(), &env, &store).await.len(), 3);
}

#[tokio::test]
async fn prune_keeps_what_the_policy_says_and_never_the_newest() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("backups");
    let target = target_url(&store);
    let env = [("SHOP_BACKUP_TARGET", target.as_str())];
    assert_ok(
        &run(shop_api(dir.path(), &env, &["migrate"]), None).await,
        "migrate",
    );
    let real = run(shop_api(dir.path(), &env, &["backup", "create"]), None).await;
    assert_ok(&real, "backup create");
    let real = created_id(&real);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(store.join(format!("{real}.json"))).expect("the manifest"),
    )
    .expect("JSON");
    let data = std::fs::read(store.join(format!("{real}.sqlite.zst"))).expect("the data");
    std::fs::remove_file(store.join(format!("{real}.json"))).expect("remove");
    std::fs::remove_file(store.join(format!("{real}.sqlite.zst"))).expect("remove");

    // Seven backups aged 20 to 90 days, all older than a day.
    let now = chrono::Utc::now();
    let ages = [20, 21, 30, 35, 50, 60, 90];
    for days in ages {
        let id = format!("aged-{days:02}d");
        let mut copy = manifest.clone();
        copy["id"] = id.clone().into();
        copy["file"] = format!("{id}.sqlite.zst").into();
        copy["created_at"] = (now - chrono::Duration::days(days)).to_rfc3339().into();
        std::fs::write(store.join(format!("{id}.sqlite.zst")), &data).expect("write data");
        std::fs::write(store.join(format!("{id}.json")), copy.to_string()).expect("write");
    }
    let all: Vec<String> = ages.iter().map(|d| format!("aged-{d:02}d")).collect();
    assert_eq!(listed(dir.path(), &env, &store).await, all);

    // Kept: the two newest, and whatever is younger than 32 days.
    let pruned = run(
        shop_api(
            dir.path(),
            &env,
            &["backup", "prune", "--keep-last", "2", "--max-age", "32d"],
        ),
        None,
    )
    .await;
    assert_ok(&pruned, "backup prune");
    assert!(
        pruned.stdout.contains("deleted 4, kept 3"),
        "{}",
        pruned.transcript()
    );
    assert_eq!(
        listed(dir.path(), &env, &store).await,
        ["aged-20d", "aged-21d", "aged-30d"]
    );
    assert!(
        !store.join("aged-90d.sqlite.zst").exists(),
        "the data goes too"
    );

    // Every backup is older than a day, yet the newest stays.
    let pruned = run(
        shop_api(dir.path(), &env, &["backup", "prune", "--max-age", "1d"]),
        None,
    )
    .await;
    assert_ok(&pruned, "backup prune");
    assert_eq!(listed(dir.path(), &env, &store).await, ["aged-20d"]);
    let pruned = run(
        shop_api(dir.path(), &env, &["backup", "prune", "--keep-last", "0"]),
        None,
    )
    .await;
    assert_ok(&pruned, "backup prune");
    assert_eq!(listed(dir.path(), &env, &store).await, ["aged-20d"]);
}

/// A real S3-compatible server on loopback, stopped when dropped.
struct Moto {
    _child: tokio::process::Child,
    endpoint: String,
}

impl Moto {
    /// `None` (and a message saying why the test is skipped) when moto is not installed;
    /// `./scripts/test` installs it.
    async fn start() -> Option<Self> {
        use tokio::io::AsyncBufReadExt as _;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("its address")
            .port();
        let spawned = tokio::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                eprintln!(
                    "SKIPPED: moto_server is not installed ({error}); \
                     `pip install 'moto[server]'` (./scripts/test does) to test S3 targets"
                );
                return None;
            }
        };
        // Flask announces the address on stderr once the socket listens.
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let ready = tokio::time::timeout(common::START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains(&format!("127.0.0.1:{port}")) {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(matches!(ready, Ok(true)), "moto_server did not start");
        // Keep draining its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Some(Self {
            _child: child,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }
}

#[tokio::test]
async fn s3_target_round_trip_with_a_real_s3_server() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    let http = common::http();
    let created = http
        .put(format!("{}/shop-backups", moto.endpoint))
        .send()
        .await
        .expect("create the bucket");
    assert!(created.status().is_success(), "{created:?}");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let env = [
        ("SHOP_BACKUP_TARGET", "s3://shop-backups/nightly"),
        ("SHOP_BACKUP_S3_ENDPOINT", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    assert_ok(
        &run(shop_api(dir.path(), &env, &["seed", "--demo"]), None).await,
        "seed",
    );
    let db = dir.path().join("shop.db");
    place_an_order(&format!("sqlite://{}", db.display())).await;
    let before = sqlite_contents(&db).await;

    let first = run(shop_api(dir.path(), &env, &["backup", "create"]), None).await;
    assert_ok(&first, "backup create to S3");
    let first = created_id(&first);
    let second = run(
        shop_api(
            dir.path(),
            &env,
            &["backup", "create", "--prune", "--keep-last", "1"],
        ),
        None,
    )
    .await;
    assert_ok(&second, "backup create --prune to S3");
    let second = created_id(&second);
    let listing = run(
        shop_api(dir.path(), &env, &["backup", "list", "--json"]),
        None,
    )
    .await;
    assert_ok(&listing, "backup list");
    let manifests: Vec<serde_json::Value> = serde_json::from_str(&listing.stdout).expect("JSON");
    let ids: Vec<&str> = manifests.iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, [second.as_str()], "{first} was pruned");

    let restored = dir.path().join("restored.db");
    let to = format!("sqlite://{}", restored.display());
    let restore = run(
        shop_api(
            dir.path(),
            &env,
            &["backup", "restore", &second, "--to", &to],
        ),
        None,
    )
    .await;
    assert_ok(&restore, "backup restore from S3");
    assert_eq!(sqlite_contents(&restored).await, before);
    let verify = run(
        shop_api(dir.path(), &env, &["backup", "verify", &second]),
        None,
    )
    .await;
    assert_ok(&verify, "backup verify from S3");

    // A corrupted object is refused.
    let object = format!("{}/shop-backups/nightly/{second}.sqlite.zst", moto.endpoint);
    let mut bytes = http
        .get(&object)
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("the object")
        .to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    let put = http.put(&object).body(bytes).send().await.expect("upload");
    assert!(put.status().is_success(), "{put:?}");
    let refused = run(
        shop_api(dir.path(), &env, &["backup", "verify", &second]),
        None,
    )
    .await;
    assert_eq!(refused.code, Some(1), "{}", refused.transcript());
    assert!(
        refused.stderr.contains("checksum mismatch"),
        "{}",
        refused.transcript()
    );
}
