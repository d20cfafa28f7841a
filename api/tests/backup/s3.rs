//! An S3 target, against a real S3-compatible server (moto) on loopback.

use crate::common::{self, run, shop_api};
use crate::support::{assert_ok, created_id, place_an_order, sqlite_contents};

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
