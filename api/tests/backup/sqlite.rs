//! SQLite: a round trip through `VACUUM INTO` and a cron-style prune.

use crate::common::{run, shop_api};
use crate::support::{
    assert_ok, created_id, listed, place_an_order, run_ok, sqlite_contents, target_url,
};

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

    let first = run_ok(dir.path(), &env, &["backup", "create"]).await;
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
