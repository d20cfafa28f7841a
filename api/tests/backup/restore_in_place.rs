//! What a `Restore` in place runs, step for step, against real PostgreSQL: `backup verify` with
//! the Shop's own `DATABASE_URL` (the verify Job), `backup restore --to <that URL> --force` over
//! the live database (the restore Job), then `migrate` (the migrate Job). The database ends up
//! exactly as backed up; what was written after the backup is gone. A corrupt backup is refused
//! by the verify step, the database untouched.

use shop_testing::PgDatabase;

use crate::common::{run, shop_api};
use crate::support::{
    JWT_SECRET, assert_ok, created_id, pg_contents, place_an_order, run_ok, target_url,
};

#[tokio::test]
async fn the_restore_jobs_put_the_live_database_back_to_the_backup() {
    let shop = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("backups");
    let target = target_url(&store);
    let env = [("DATABASE_URL", shop.url()), JWT_SECRET];
    assert_ok(
        &run(shop_api(dir.path(), &env, &["seed", "--demo"]), None).await,
        "seed",
    );
    let backup = run_ok(dir.path(), &env, &["backup", "create", "--target", &target]).await;
    let id = created_id(&backup);
    let backed_up = pg_contents(shop.url()).await;

    // Life goes on after the backup: an order the restore is to take back.
    place_an_order(shop.url()).await;
    let later = pg_contents(shop.url()).await;
    assert_ne!(later, backed_up);

    // The verify Job: the Shop's own server, a scratch database.
    let verify = run(
        shop_api(
            dir.path(),
            &env,
            &["backup", "verify", &id, "--target", &target],
        ),
        None,
    )
    .await;
    assert_ok(&verify, "backup verify");
    assert_eq!(
        pg_contents(shop.url()).await,
        later,
        "verify changes nothing"
    );

    // The restore Job: over the live database, replacing its tables.
    let restore = run(
        shop_api(
            dir.path(),
            &env,
            &[
                "backup",
                "restore",
                &id,
                "--to",
                shop.url(),
                "--force",
                "--target",
                &target,
            ],
        ),
        None,
    )
    .await;
    assert_ok(&restore, "backup restore --force");
    assert!(
        restore.stdout.contains("row counts match"),
        "{}",
        restore.transcript()
    );
    // The migrate Job: the schema is already current, nothing to do, and it says so by success.
    run_ok(dir.path(), &env, &["migrate"]).await;
    assert_eq!(pg_contents(shop.url()).await, backed_up);

    // A corrupt backup: the verify step refuses it, and the database is as it was.
    let data = store.join(format!("{id}.dump.zst"));
    let mut bytes = std::fs::read(&data).expect("read the backup");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&data, bytes).expect("corrupt the backup");
    place_an_order(shop.url()).await;
    let before = pg_contents(shop.url()).await;
    let refused = run(
        shop_api(
            dir.path(),
            &env,
            &["backup", "verify", &id, "--target", &target],
        ),
        None,
    )
    .await;
    assert_eq!(refused.code, Some(1), "{}", refused.transcript());
    assert!(
        refused.stderr.contains("checksum mismatch"),
        "{}",
        refused.transcript()
    );
    assert_eq!(pg_contents(shop.url()).await, before);
}
