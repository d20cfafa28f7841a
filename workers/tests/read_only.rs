//! The real `shop-workers` binary with a read-only working directory, as on Kubernetes
//! (`readOnlyRootFilesystem: true`, only `/tmp` writable): it either starts, because its settings
//! point at writable storage, or stops at once with exit code 2 and a message naming the setting
//! to fix — never a crash loop or a message retried until it is dead-lettered.
//!
//! The working directory is made read-only for real: the binary runs under `unshare --mount
//! --map-root-user` (a mount namespace of its own; no privilege needed where unprivileged user
//! namespaces are allowed, and it works as root too) in a temporary folder bind-mounted onto
//! itself and remounted read-only. Root ignores permission bits (`chmod 555`), but not a
//! read-only mount: writes fail with EROFS, as they do in the pod. Where the sandbox cannot be
//! made, the tests fail and say why; they never pass without having run.

mod support;

use std::{path::Path, time::Duration};

use chrono::Utc;
use shop_core::domain::UserId;
use shop_testing::read_only;
use support::running::Running;
use support::{broker, database, event, eventually, publish};
use tokio::process::Command;

/// A database that is never reachable: settings must be judged before the database is waited for.
const NO_DATABASE: &str = "postgres://postgres@127.0.0.1:1/nowhere";
const SOME_BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// `shop-workers ARGS` with only `env` set, its working directory the read-only `cwd`.
fn in_read_only_cwd(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = read_only::command(cwd, env!("CARGO_BIN_EXE_shop-workers"));
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

async fn finish(mut command: Command) -> (Option<i32>, String) {
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("shop-workers stops at once")
        .expect("run unshare (util-linux) for the read-only sandbox");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    read_only::assert_sandbox_ran(output.status.code(), &stderr);
    (output.status.code(), stderr)
}

fn read_only_folder() -> tempfile::TempDir {
    tempfile::tempdir().expect("a folder to mount read-only")
}

#[tokio::test]
async fn the_invoice_worker_with_its_default_folder_exits_2_naming_the_setting() {
    let cwd = read_only_folder();
    let env = [("AMQP_URL", SOME_BROKER), ("DATABASE_URL", NO_DATABASE)];
    let (code, stderr) = finish(in_read_only_cwd(cwd.path(), &env, &["--only", "invoice"])).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "error: SHOP_INVOICE_DIR: cannot create ./var/invoices: Read-only file system \
             (os error 30); point it at a writable volume or set SHOP_INVOICE_BUCKET"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_existing_read_only_invoice_folder_is_refused_too() {
    // The folder exists, so only writing into it tells that it cannot be used.
    let cwd = read_only_folder();
    let env = [
        ("AMQP_URL", SOME_BROKER),
        ("DATABASE_URL", NO_DATABASE),
        ("SHOP_INVOICE_DIR", "."),
    ];
    let (code, stderr) = finish(in_read_only_cwd(cwd.path(), &env, &["--only", "invoice"])).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("SHOP_INVOICE_DIR: cannot write in .: Read-only file system"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_email_worker_without_smtp_exits_2_naming_the_settings() {
    let cwd = read_only_folder();
    let env = [("AMQP_URL", SOME_BROKER), ("DATABASE_URL", NO_DATABASE)];
    let (code, stderr) = finish(in_read_only_cwd(cwd.path(), &env, &["--only", "email"])).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "error: SHOP_MAIL_DIR: cannot create ./var/mail: Read-only file system \
             (os error 30); point it at a writable volume or set SHOP_SMTP_HOST"
        ),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_default_sqlite_database_in_a_read_only_folder_exits_2_naming_database_url() {
    // Unset DATABASE_URL means `sqlite://shop.db` in the working directory; it cannot be created,
    // and waiting would not change that.
    let cwd = read_only_folder();
    let env = [
        ("AMQP_URL", SOME_BROKER),
        ("SHOP_WORKERS_METRICS_ADDR", "127.0.0.1:0"),
    ];
    let (code, stderr) = finish(in_read_only_cwd(cwd.path(), &env, &["--only", "analytics"])).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("error: DATABASE_URL: cannot open sqlite://shop.db (the default"),
        "{stderr}"
    );
}

/// Starts `command` in the sandbox; a failure to start says whether the sandbox was the cause.
async fn start(command: Command) -> Running {
    match Running::start(command).await {
        Ok(running) => running,
        Err(failed) => {
            read_only::assert_sandbox_ran(failed.code, &failed.stderr);
            panic!(
                "shop-workers did not start (exit code {:?}): {}",
                failed.code, failed.stderr
            );
        }
    }
}

/// Adds a customer to `users` (Postgres).
async fn user(db: &shop_core::adapters::sql::Db, email: &str) -> UserId {
    let shop_core::adapters::sql::Db::Postgres(pool) = db else {
        panic!("a Postgres test database")
    };
    let id = UserId::new();
    sqlx::query(
        "INSERT INTO users (id, email, full_name, role, password_hash, disabled, created_at, \
         updated_at) VALUES ($1, $2, 'Ada Lovelace', 'customer', 'not a hash', false, $3, $3)",
    )
    .bind(id.as_uuid())
    .bind(email)
    .bind(Utc::now())
    .execute(pool)
    .await
    .expect("insert a user");
    id
}

/// Names in `dir` (empty when it does not exist).
fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_folders_on_a_writable_volume_every_worker_starts_and_writes_there() {
    let (database, db) = database().await;
    let (vhost, _connection, channel) = broker().await;
    let cwd = read_only_folder();
    // What `/tmp` (an emptyDir) is in the pod.
    let volume = tempfile::tempdir().expect("a writable folder");
    let invoices = volume.path().join("invoices");
    let mail = volume.path().join("mail");
    let (invoices_dir, mail_dir) = (invoices.display().to_string(), mail.display().to_string());
    let env = [
        ("AMQP_URL", vhost.url()),
        ("DATABASE_URL", database.url()),
        ("SHOP_WORKERS_METRICS_ADDR", "127.0.0.1:0"),
        ("SHOP_INVOICE_DIR", invoices_dir.as_str()),
        ("SHOP_MAIL_DIR", mail_dir.as_str()),
        ("SHOP_LOG", "info"),
    ];
    let workers = start(in_read_only_cwd(cwd.path(), &env, &[])).await;
    let http = reqwest::Client::new();
    let live = http
        .get(workers.url("/healthz"))
        .send()
        .await
        .expect("/healthz");
    assert_eq!(live.status(), 200);
    eventually(Duration::from_secs(30), "/readyz to answer 200", || {
        let request = http.get(workers.url("/readyz")).send();
        async move {
            request
                .await
                .ok()
                .filter(|answer| answer.status() == 200)
                .map(|_| ())
        }
    })
    .await;
    // Checked and left clean: the folders exist, without the write probes.
    // (`images/` is the media worker's: product images are kept beside the invoices.)
    let mut made = names(&invoices);
    made.sort();
    assert_eq!(made, ["images", "invoices"]);
    assert!(names(&invoices.join("images")).is_empty());
    assert!(names(&invoices.join("invoices")).is_empty());
    assert!(names(&mail).is_empty(), "{:?}", names(&mail));

    // A message is written where the setting says, not retried for want of `./var/mail`.
    let customer = user(&db, "ada@example.com").await;
    let welcome = event(
        "dev.shop.user.registered.v1",
        format!("users/{customer}"),
        Utc::now(),
        serde_json::json!({ "user_id": customer }),
    );
    publish(&channel, &welcome).await;
    let written = eventually(Duration::from_secs(30), "the welcome .eml", || {
        let mail = mail.clone();
        async move { Some(names(&mail)).filter(|names| !names.is_empty()) }
    })
    .await;
    assert_eq!(written, vec![format!("{}-welcome.eml", welcome.id)]);

    let (code, stderr) = workers.terminate().await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_bucket_and_smtp_the_workers_need_no_folder_at_all() {
    let cwd = read_only_folder();
    // Neither the bucket nor the SMTP server is contacted before a message arrives.
    let env = [
        ("AMQP_URL", SOME_BROKER),
        ("DATABASE_URL", NO_DATABASE),
        ("SHOP_WORKERS_METRICS_ADDR", "127.0.0.1:0"),
        ("SHOP_INVOICE_BUCKET", "shop-invoices"),
        ("SHOP_INVOICE_S3_ENDPOINT", "http://127.0.0.1:9"),
        ("AWS_REGION", "us-east-1"),
        ("SHOP_SMTP_HOST", "127.0.0.1"),
        ("SHOP_SMTP_PORT", "2525"),
        ("SHOP_SMTP_STARTTLS", "false"),
        ("SHOP_SMTP_FROM", "Shop <orders@shop.test>"),
    ];
    let workers = start(in_read_only_cwd(
        cwd.path(),
        &env,
        &["--only", "invoice,email"],
    ))
    .await;
    let live = reqwest::get(workers.url("/healthz"))
        .await
        .expect("/healthz");
    assert_eq!(live.status(), 200);
    let (code, stderr) = workers.terminate().await;
    assert_eq!(code, Some(0), "{stderr}");
}
