//! The operator as it runs on a cluster: the real `shop-operator run` binary against an HTTP
//! double of the API server that lists and watches (`apiserver/`), and the wire its watches put
//! on the network.

#[allow(dead_code)]
mod apiserver;
#[allow(dead_code)]
mod operator_process;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apiserver::controllers::eventually;
use apiserver::{ApiServer, Recorded};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::PostParams;
use kube::{Api, Client};
use operator_process::OperatorProcess;
use serde_json::json;
use shop_operator::controller;
use shop_operator::crd::Shop;
use shop_operator::labels::MANAGER;
use shop_operator::metrics::Metrics;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const NAMESPACE: &str = "e2e";
const LEASE_NAMESPACE: &str = "shop-system";
const LEASE_NAME: &str = "shop-operator";
const IDENTITY: &str = "shop-operator-e2e-0";

/// `(group, plural)` of the collection a request path reads.
fn collection(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let (group, rest) = match parts.as_slice() {
        ["api", _, rest @ ..] => ("", rest),
        ["apis", group, _, rest @ ..] => (*group, rest),
        _ => return None,
    };
    let plural = match rest {
        ["namespaces", _, plural] | [plural] => plural,
        _ => return None,
    };
    Some((group.to_owned(), (*plural).to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_select_managed_children_and_lists_are_served_from_the_cache() {
    let server = ApiServer::start().await.expect("API server double");
    let metrics = Arc::new(Metrics::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(controller::run(
        server.client().expect("client"),
        Vec::new(),
        metrics,
        stopped,
    ));
    let watched: BTreeSet<(String, String)> = controller::watched_resources().into_iter().collect();
    let watching = |requests: &[Recorded]| -> BTreeSet<(String, String)> {
        requests
            .iter()
            .filter(|request| request.is_watch())
            .filter_map(|request| collection(&request.path))
            .collect()
    };
    eventually(
        Duration::from_secs(30),
        || {
            format!(
                "not every resource is watched: {:?}",
                watching(&server.requests())
            )
        },
        || async { (watching(&server.requests()) == watched).then_some(()) },
    )
    .await;
    stop.send(true).expect("controllers listening");
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the controllers stop in time")
        .expect("the controllers end cleanly");

    let own_kinds = ["shops", "workers", "backups", "restores"];
    let selector = format!("app.kubernetes.io/managed-by={MANAGER}");
    let reads: Vec<Recorded> = server
        .requests()
        .into_iter()
        .filter(Recorded::is_collection_get)
        .collect();
    for read in &reads {
        eprintln!("wire: {read}  (Accept: {})", read.accept);
    }
    for read in &reads {
        let (_, plural) = collection(&read.path).expect("a collection path");
        if own_kinds.contains(&plural.as_str()) {
            assert_eq!(read.param("labelSelector"), None, "{read}");
        } else {
            assert_eq!(
                read.param("labelSelector").as_deref(),
                Some(selector.as_str()),
                "{read}"
            );
            assert!(
                read.accept.contains("as=PartialObjectMetadata"),
                "metadata only: {read}"
            );
        }
        if !read.is_watch() {
            // Served from the watch cache: version 0, and no limit (kube drops the version
            // from a paged list, which then goes to etcd).
            assert_eq!(
                read.param("resourceVersion").as_deref(),
                Some("0"),
                "{read}"
            );
            assert_eq!(
                read.param("resourceVersionMatch").as_deref(),
                Some("NotOlderThan"),
                "{read}"
            );
            assert_eq!(read.param("limit"), None, "{read}");
        }
    }
    let listed: BTreeSet<(String, String)> = reads
        .iter()
        .filter(|read| !read.is_watch())
        .filter_map(|read| collection(&read.path))
        .collect();
    assert_eq!(listed, watched, "every watched resource is listed first");
}

async fn http_get(address: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to the operator's HTTP server");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("read answer");
    let code = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (code, answer)
}

async fn lease_holder(client: &Client) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    leases
        .get_opt(LEASE_NAME)
        .await
        .ok()
        .flatten()
        .and_then(|lease| lease.spec)
        .and_then(|spec| spec.holder_identity)
}

/// `Ready=True` for the Shop's current generation.
fn ready(shop: &Shop) -> bool {
    let shop = serde_json::to_value(shop).unwrap_or_default();
    let generation = &shop["metadata"]["generation"];
    shop["status"]["observedGeneration"] == *generation
        && shop["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|condition| condition["type"] == "Ready" && condition["status"] == "True")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_leads_drives_a_shop_to_ready_and_releases_its_lease_on_sigterm() {
    let server = ApiServer::start().await.expect("API server double");
    let client = server.client().expect("client of the double");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut operator = OperatorProcess::start(&server, dir.path(), LEASE_NAMESPACE, IDENTITY);

    // Startup: CRD check, then the Lease, then the controllers' watches.
    let holder = eventually(
        Duration::from_secs(30),
        || {
            format!(
                "the operator never took the Lease; logs:\n{}",
                operator.logs()
            )
        },
        || async { lease_holder(&client).await },
    )
    .await;
    assert_eq!(holder, IDENTITY);
    eventually(
        Duration::from_secs(30),
        || format!("the Shop watch never started; logs:\n{}", operator.logs()),
        || async {
            server
                .requests()
                .iter()
                .any(|request| request.is_watch() && request.path.ends_with("/shops"))
                .then_some(())
        },
    )
    .await;

    let shops: Api<Shop> = Api::namespaced(client.clone(), NAMESPACE);
    let shop: Shop = serde_json::from_value(json!({
        "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
        "metadata": {"name": "demo", "namespace": NAMESPACE},
        "spec": {"version": "1.0.0"},
    }))
    .expect("a valid Shop");
    shops
        .create(&PostParams::default(), &shop)
        .await
        .expect("create the Shop");

    let started = Instant::now();
    let shop = eventually(
        Duration::from_secs(60),
        || format!("the Shop never became Ready; logs:\n{}", operator.logs()),
        || async {
            apiserver::controllers::report_children_ready(&client, NAMESPACE)
                .await
                .expect("play the cluster");
            let shop = shops.get("demo").await.expect("the Shop");
            ready(&shop).then_some(shop)
        },
    )
    .await;
    eprintln!("Ready after {:.1} s", started.elapsed().as_secs_f64());
    let status = serde_json::to_value(&shop.status).expect("status");
    assert_eq!(
        status["observedGeneration"],
        json!(shop.metadata.generation)
    );

    // Everything the operator wrote is visible to its owned-object watches.
    let written = server.objects_written_by(MANAGER);
    assert!(
        written.len() > 5,
        "the operator created the Shop's children"
    );
    for object in written {
        let kind = object["kind"].as_str().unwrap_or_default();
        if matches!(kind, "Shop" | "Worker" | "Backup" | "Event" | "Lease") {
            continue;
        }
        assert_eq!(
            object["metadata"]["labels"]["app.kubernetes.io/managed-by"], MANAGER,
            "{kind} {} lacks the label its watch selects",
            object["metadata"]["name"]
        );
    }

    let address = operator
        .announced_metrics_address()
        .expect("the HTTP address is logged");
    let (code, _) = http_get(address, "/healthz").await;
    assert_eq!(code, 200);
    let (code, _) = http_get(address, "/readyz").await;
    assert_eq!(code, 200);
    let (code, metrics) = http_get(address, "/metrics").await;
    assert_eq!(code, 200);
    assert!(metrics.contains("shop_operator_leader 1"), "{metrics}");
    assert!(
        metrics.contains(r#"shop_operator_reconciliations_total{kind="shop"}"#),
        "{metrics}"
    );

    // SIGTERM: the reconciles in flight finish, the Lease is given up, exit 0.
    let pid = operator.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(killed.success());
    // Kubernetes' default terminationGracePeriodSeconds (the chart keeps it): SIGKILL after.
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = operator.child.try_wait().expect("wait for the operator") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "no exit within the grace period; logs:\n{}",
            operator.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit}; logs:\n{}", operator.logs());
    assert_eq!(lease_holder(&client).await, None, "the Lease is released");
}
