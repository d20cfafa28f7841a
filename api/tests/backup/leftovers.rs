//! What killed runs leave behind (a hidden `.partial` file, a `shop_verify_*` scratch database)
//! is removed by the next run, and what a run still in progress is writing or restoring into is
//! left alone (real binary, real Postgres).

use std::{os::unix::fs::PermissionsExt as _, path::Path, process::Stdio, time::Duration};

use chrono::Utc;
use shop_testing::PgDatabase;
use sqlx::{Connection as _, Executor as _, PgConnection};

use crate::common::{run, shop_api};
use crate::support::{JWT_SECRET, assert_ok, created_id, run_ok, scratch_exists, target_url};

/// A stand-in for pg_dump: answers `--version`, writes part of a dump, then runs `ending`.
fn fake_pg_dump(dir: &Path, name: &str, ending: &str) -> String {
    let path = dir.join(name);
    let script = format!(
        "#!/bin/sh\n\
         if [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 15.0'; exit 0; fi\n\
         head -c 200000 /dev/urandom\n\
         {ending}\n"
    );
    std::fs::write(&path, script).expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_str().expect("UTF-8").to_owned()
}

fn partials(store: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(store)
        .expect("the store")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".partial"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_killed_backups_partial_file_is_removed_by_the_next_run_but_not_while_one_runs() {
    let database = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("backups");
    let target = target_url(&store);
    let env = [("DATABASE_URL", database.url()), JWT_SECRET];
    run_ok(dir.path(), &env, &["migrate"]).await;
    let create = ["backup", "create", "--target", target.as_str()];

    // A backup killed mid-stream leaves its hidden partial file.
    let killer = fake_pg_dump(dir.path(), "killing-pg_dump", "kill -KILL $PPID; exit 0");
    let env_killed = [
        ("DATABASE_URL", database.url()),
        JWT_SECRET,
        ("SHOP_PG_DUMP", killer.as_str()),
    ];
    let killed = run(shop_api(dir.path(), &env_killed, &create), None).await;
    assert_eq!(killed.code, None, "killed\n{}", killed.transcript());
    let dead = partials(&store);
    assert_eq!(dead.len(), 1, "{dead:?}");

    // The next run (its pg_dump is slow) removes it, then writes its own.
    let slow = fake_pg_dump(dir.path(), "slow-pg_dump", "sleep 60");
    let env_slow = [
        ("DATABASE_URL", database.url()),
        JWT_SECRET,
        ("SHOP_PG_DUMP", slow.as_str()),
    ];
    let mut running = shop_api(dir.path(), &env_slow, &create);
    running.stdout(Stdio::null()).stderr(Stdio::null());
    let mut running = running.spawn().expect("start the slow backup");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let in_progress = loop {
        let now = partials(&store);
        if now.len() == 1 && now != dead {
            break now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dead run's partial file is still there, or the slow backup never started \
             writing: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // While it runs, another backup is killed, and one more completes: no partial file is
    // removed, since the run alive cannot be told from the dead one.
    let killed = run(shop_api(dir.path(), &env_killed, &create), None).await;
    assert_eq!(killed.code, None, "killed\n{}", killed.transcript());
    let both = partials(&store);
    assert_eq!(both.len(), 2, "{both:?}");
    assert!(both.contains(&in_progress[0]));
    let during = run(shop_api(dir.path(), &env, &create), None).await;
    assert_ok(&during, "a backup while another runs");
    created_id(&during);
    assert_eq!(
        partials(&store),
        both,
        "the file of the run in progress is left alone"
    );

    // Once the slow one is dead too, the next run removes both.
    running.kill().await.expect("kill the slow backup");
    let after = run(shop_api(dir.path(), &env, &create), None).await;
    assert_ok(&after, "the next backup");
    assert!(partials(&store).is_empty(), "{:?}", partials(&store));
    assert!(
        after
            .stdout
            .contains("removed 2 file(s) a stopped run left"),
        "{}",
        after.transcript()
    );
    // The finished backups are untouched: both restore-able ones are listed.
    let listed = crate::support::listed(dir.path(), &env, &store).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
}

async fn create_scratch(admin: &mut PgConnection, name: &str) {
    admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
        .expect("create a scratch database");
}

#[tokio::test]
async fn a_killed_verifications_scratch_database_is_dropped_by_the_next_one_but_not_one_in_use() {
    let database = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("backups");
    let target = target_url(&store);
    let env = [("DATABASE_URL", database.url()), JWT_SECRET];
    run_ok(dir.path(), &env, &["migrate"]).await;
    let created = run_ok(dir.path(), &env, &["backup", "create", "--target", &target]).await;
    let id = created_id(&created);

    // What verifications left: two killed an hour ago (one from before names carried their
    // time), one started a moment ago, and one an hour ago that is still connected to its
    // scratch database (a long restore).
    let random = || uuid::Uuid::new_v4().simple().to_string();
    let hour_ago = (Utc::now() - chrono::TimeDelta::hours(1)).timestamp();
    let stale = format!("shop_verify_{hour_ago}_{}", random());
    let legacy = format!("shop_verify_{}", random());
    let fresh = format!("shop_verify_{}_{}", Utc::now().timestamp(), random());
    let in_use = format!("shop_verify_{hour_ago}_{}", random());
    let admin_url = shop_testing::pg_admin_url();
    let mut admin = PgConnection::connect(&admin_url).await.expect("admin");
    for name in [&stale, &legacy, &fresh, &in_use] {
        create_scratch(&mut admin, name).await;
    }
    let in_use_url = shop_core::config::DatabaseUrl::parse(&admin_url)
        .expect("a URL")
        .with_database(&in_use)
        .expose()
        .to_owned();
    let restoring = PgConnection::connect(&in_use_url)
        .await
        .expect("connect to the scratch database in use");

    let verified = run(
        shop_api(
            dir.path(),
            &env,
            &["backup", "verify", &id, "--target", &target],
        ),
        None,
    )
    .await;
    assert_ok(&verified, "backup verify");
    assert!(
        verified.stdout.contains("verified"),
        "{}",
        verified.transcript()
    );

    assert!(
        !scratch_exists(&stale).await,
        "a dead run's database is dropped"
    );
    assert!(
        !scratch_exists(&legacy).await,
        "an old-style name is dropped too"
    );
    assert!(
        scratch_exists(&fresh).await,
        "one just created may be a run's in progress"
    );
    assert!(scratch_exists(&in_use).await, "one in use is left alone");
    assert!(
        verified.stdout.contains(&stale),
        "says what it dropped\n{}",
        verified.transcript()
    );

    let _ = restoring.close().await;
    for name in [&fresh, &in_use] {
        admin
            .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
            .await
            .expect("clean up");
    }
    let _ = admin.close().await;
}
