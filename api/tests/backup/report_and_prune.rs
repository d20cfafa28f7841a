//! The one-line JSON report `create` writes for the termination message, and the retention policy
//! `prune` applies.

use std::path::PathBuf;

use crate::common::{run, shop_api};
use crate::support::{assert_ok, created_id, listed, run_ok, target_url};

#[tokio::test]
async fn create_writes_a_one_line_json_report_for_the_termination_message() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = dir.path().join("backups");
    let target = target_url(&store);
    let env = [("SHOP_BACKUP_TARGET", target.as_str())];
    run_ok(dir.path(), &env, &["migrate"]).await;

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
    run_ok(dir.path(), &env, &["migrate"]).await;
    let real = run_ok(dir.path(), &env, &["backup", "create"]).await;
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
