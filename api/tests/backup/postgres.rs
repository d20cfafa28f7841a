//! Postgres: a full round trip through pg_dump/pg_restore, corruption, and backups that fail or
//! are killed mid-stream.

use std::{
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
};

use shop_testing::PgDatabase;

use crate::common::{run, shop_api};
use crate::support::{
    JWT_SECRET, assert_ok, created_id, listed, pg_contents, place_an_order, run_ok, scratch_exists,
    target_url,
};

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

    let backup = run_ok(dir.path(), &env, &["backup", "create", "--target", &target]).await;
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
    run_ok(dir.path(), &env, &["migrate"]).await;
    let good = run_ok(dir.path(), &env, &["backup", "create", "--target", &target]).await;
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

/// `create --verify`: the stored backup is restored into a scratch database right away; the
/// outcome reaches the report the operator reads, and a backup that fails is kept.
#[tokio::test]
async fn create_verify_reports_the_outcome_and_keeps_a_backup_that_fails() {
    let database = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("backups");
    let target = target_url(&store);
    let env = [("DATABASE_URL", database.url()), JWT_SECRET];
    assert_ok(
        &run(shop_api(dir.path(), &env, &["seed", "--demo"]), None).await,
        "seed",
    );
    let report = dir.path().join("report.json");
    let report_arg = report.display().to_string();
    let args = [
        "backup",
        "create",
        "--verify",
        "--target",
        &target,
        "--report-file",
        &report_arg,
    ];
    let read_report = || -> serde_json::Value {
        let text = std::fs::read_to_string(&report).expect("the report is written");
        assert_eq!(text.lines().count(), 1, "one line: {text:?}");
        serde_json::from_str(&text).expect("the report is JSON")
    };
    let scratch_of = |finished: &crate::common::Finished| {
        finished
            .stdout
            .split_whitespace()
            .find(|word| word.starts_with("shop_verify_"))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("names its scratch database\n{}", finished.transcript()))
    };

    let good = run(shop_api(dir.path(), &env, &args), None).await;
    assert_ok(&good, "backup create --verify");
    let good_id = created_id(&good);
    assert!(
        good.stdout
            .contains(&format!("backup {good_id}: verified: checksum ok")),
        "{}",
        good.transcript()
    );
    let json = read_report();
    assert_eq!(json["id"], good_id.as_str(), "{json}");
    assert_eq!(
        json["verification"],
        serde_json::json!({"outcome": "Verified"}),
        "{json}"
    );
    assert!(!scratch_exists(&scratch_of(&good)).await, "scratch dropped");

    // A "pg_dump" that succeeds with garbage: the backup is stored, but cannot be restored.
    let garbage = fake_pg_dump(dir.path(), "garbage-pg_dump", "exit 0");
    let garbage = garbage.to_str().expect("UTF-8");
    let env_garbage = [
        ("DATABASE_URL", database.url()),
        JWT_SECRET,
        ("SHOP_PG_DUMP", garbage),
    ];
    let bad = run(shop_api(dir.path(), &env_garbage, &args), None).await;
    assert_ok(
        &bad,
        "backup create --verify of a corrupt backup (stored, so exit 0)",
    );
    assert!(!bad.stderr.contains("panicked"), "{}", bad.transcript());
    let bad_id = created_id(&bad);
    let json = read_report();
    assert_eq!(json["id"], bad_id.as_str(), "{json}");
    assert_eq!(json["verification"]["outcome"], "Failed", "{json}");
    let message = json["verification"]["message"]
        .as_str()
        .expect("why it failed");
    assert!(
        message.contains(&format!("backup {bad_id}: verification failed"))
            && message.contains("pg_restore"),
        "the verify step's message: {message}"
    );
    assert!(
        bad.stdout.contains("VERIFICATION FAILED"),
        "{}",
        bad.transcript()
    );
    assert!(!scratch_exists(&scratch_of(&bad)).await, "scratch dropped");
    // Kept: both backups are listed, newest first.
    assert_eq!(
        listed(dir.path(), &env, &store).await,
        [bad_id.as_str(), good_id.as_str()]
    );
}
