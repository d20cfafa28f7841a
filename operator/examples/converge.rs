//! Benchmark: converge N Shops against the in-memory Kubernetes API (kube-fake-client).
//!
//! Each round reconciles every Shop (16 at a time, as the controller would), then plays the part
//! of the cluster's own controllers: StatefulSets become ready, migration Jobs complete and API
//! Deployments become available. Rounds repeat until every Shop is `Ready` and a final round
//! changes nothing. Prints wall time, reconcile count and the process's peak resident memory
//! (which includes the in-memory API server's copy of every object: an upper bound for the
//! operator alone).
//!
//! `cargo run --release -p shop-operator --example converge -- 1000`
//!
//! With `--baseline`, the same objects (every child of every Shop, as the builders make them)
//! are stored in the in-memory API directly, without the operator: its time and memory are what
//! the API double alone costs, to subtract from the full run.
//!
//! With `--api-server URL --operator PID`, the Shops are created in the API server double at
//! URL and the `shop-operator run` process PID (started against the same double) converges them
//! through its watches; this process only plays the cluster and reports the time until every
//! Shop is Ready and the operator's peak resident memory.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use kube_fake_client::ClientBuilder;
use serde_json::json;
use shop_operator::build::service_monitor::ServiceMonitor;
use shop_operator::context::Context;
use shop_operator::crd::{Backup, Shop, Worker};

const NAMESPACE: &str = "bench";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args().nth(1).map_or(Ok(1000), |n| n.parse())?;
    let baseline = std::env::args().any(|arg| arg == "--baseline");
    // `--api-server URL`: talk to an in-memory API served by another process (the
    // `fake_apiserver` example), so that this process's memory is the operator's alone.
    let server = std::env::args()
        .skip_while(|arg| arg != "--api-server")
        .nth(1);
    let client = match server {
        Some(url) => {
            // As in the operator's main: the test build links two rustls providers; pick ring.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = kube::Config::new(url.parse()?);
            Client::try_from(config)?
        }
        None => {
            ClientBuilder::new()
                .with_resource::<Shop>()
                .with_resource::<Worker>()
                .with_resource::<Backup>()
                .with_resource::<ServiceMonitor>()
                .build()
                .await?
        }
    };
    let shops: Api<Shop> = Api::namespaced(client.clone(), NAMESPACE);
    let creating = Instant::now();
    for index in 0..count {
        let shop: Shop = serde_json::from_value(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": format!("shop-{index:04}"), "namespace": NAMESPACE},
            "spec": {"version": "1.0.0"},
        }))?;
        shops.create(&PostParams::default(), &shop).await?;
    }
    if baseline {
        return store_objects_directly(&client, count).await;
    }
    // `--operator PID`: the real `shop-operator run` (process PID) reconciles, driven by its
    // watches; this process only plays the cluster and waits for every Shop to be Ready.
    let operator = std::env::args()
        .skip_while(|arg| arg != "--operator")
        .nth(1)
        .map(|pid| pid.parse::<u32>())
        .transpose()?;
    if let Some(pid) = operator {
        return watch_the_operator(&client, count, pid, creating).await;
    }
    let ctx = Arc::new(Context::new(client.clone()));

    let started = Instant::now();
    let mut rounds = 0;
    let mut reconciles = 0;
    loop {
        rounds += 1;
        let all = shops.list(&ListParams::default()).await?.items;
        reconciles += all.len();
        let results: Vec<_> = futures::stream::iter(all)
            .map(|shop| shop_operator::reconcile::shop::reconcile(Arc::new(shop), ctx.clone()))
            .buffer_unordered(16)
            .collect()
            .await;
        for result in results {
            result?;
        }
        let ready = count_ready(&shops).await?;
        if ready == count {
            break;
        }
        // One Shop at a time, as the first measurements did: this harness's time between
        // rounds is part of the figure.
        play_the_cluster(&client, count, 1).await?;
        anyhow::ensure!(
            rounds < 10,
            "not converged after {rounds} rounds ({ready}/{count} ready)"
        );
    }
    let elapsed = started.elapsed();
    let peak = peak_resident_kib().unwrap_or(0);
    println!(
        "converged {count} shops in {:.2} s: {rounds} rounds, {reconciles} reconciles \
         ({:.2} ms each), peak RSS {:.1} MiB",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / reconciles as f64,
        peak as f64 / 1024.0
    );
    Ok(())
}

async fn count_ready(shops: &Api<Shop>) -> anyhow::Result<usize> {
    Ok(shops
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|shop| {
            shop.status.as_ref().is_some_and(|status| {
                status
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
        .count())
}

/// The operator in its own process, as deployed: plays the cluster until every Shop is Ready.
/// `started`: when the first Shop was created, since the operator starts on it at once.
async fn watch_the_operator(
    client: &Client,
    count: usize,
    pid: u32,
    started: Instant,
) -> anyhow::Result<()> {
    let shops: Api<Shop> = Api::namespaced(client.clone(), NAMESPACE);
    let mut rounds = 0;
    loop {
        rounds += 1;
        let ready = count_ready(&shops).await?;
        if ready == count {
            break;
        }
        anyhow::ensure!(
            started.elapsed().as_secs() < 300,
            "not converged after {:.0} s ({ready}/{count} ready)",
            started.elapsed().as_secs_f64()
        );
        // In parallel: this harness runs while the operator works, and a serial pace here
        // would be measured instead of the operator's. The cluster's own controllers are
        // concurrent too.
        play_the_cluster(client, count, 16).await?;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    // utime + stime (fields 14 and 15 of /proc/PID/stat, in clock ticks of 1/100 s on Linux):
    // how much of the wall time the operator itself spent on a CPU.
    let cpu_seconds = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks = |index: usize| fields.get(index)?.parse::<u64>().ok();
            Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
        })
        .unwrap_or(0.0);
    let peak = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .unwrap_or(0);
    println!(
        "the shop-operator binary converged {count} shops through its watches in {:.2} s \
         from the first creation ({rounds} rounds of this harness), its peak RSS {:.1} MiB, \
         its CPU time {cpu_seconds:.1} s",
        elapsed.as_secs_f64(),
        peak as f64 / 1024.0
    );
    Ok(())
}

/// The baseline: every object the operator would create, stored without it.
async fn store_objects_directly(client: &Client, count: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    let shops: Api<Shop> = Api::namespaced(client.clone(), NAMESPACE);
    let mut stored = 0;
    for shop in shops.list(&ListParams::default()).await?.items {
        let secret = || "generated-secret-of-48-characters-000000000000000".to_owned();
        for object in shop_operator::build::shop::shop_objects(&shop, &shop.spec.version, &secret) {
            let mut object: kube::api::DynamicObject = serde_json::from_value(object)?;
            let types = object
                .types
                .clone()
                .ok_or_else(|| anyhow::anyhow!("no type"))?;
            let gvk = kube::api::GroupVersionKind::try_from(&types)?;
            let resource = kube::api::ApiResource::from_gvk(&gvk);
            object.metadata.namespace = Some(NAMESPACE.to_owned());
            let api: Api<kube::api::DynamicObject> =
                Api::namespaced_with(client.clone(), NAMESPACE, &resource);
            api.create(&PostParams::default(), &object).await?;
            stored += 1;
        }
    }
    let elapsed = started.elapsed();
    let peak = peak_resident_kib().unwrap_or(0);
    println!(
        "baseline: stored {stored} objects of {count} shops in {:.2} s without the operator, \
         peak RSS {:.1} MiB",
        elapsed.as_secs_f64(),
        peak as f64 / 1024.0
    );
    Ok(())
}

/// What the cluster's own controllers would do between rounds. Objects are addressed by name
/// (the operator's naming scheme) rather than listed, so that this harness holds no copies of
/// thousands of objects and the process's peak memory stays the operator's.
async fn play_the_cluster(client: &Client, count: usize, parallel: usize) -> anyhow::Result<()> {
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(0..count)
        .map(|index| play_one_shop(client, format!("shop-{index:04}")))
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

async fn play_one_shop(client: &Client, shop: String) -> anyhow::Result<()> {
    use shop_operator::names::{self, Backend};
    let status = |value| Patch::Merge(json!({ "status": value }));
    let params = PatchParams::default();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    fn ignore_missing<T>(result: kube::Result<T>) -> kube::Result<()> {
        match result {
            Err(kube::Error::Api(response)) if response.code == 404 => Ok(()),
            other => other.map(drop),
        }
    }
    for backend in Backend::ALL {
        let ready = status(json!({"replicas": 1, "readyReplicas": 1}));
        ignore_missing(
            sets.patch_status(&names::backend(&shop, backend), &params, &ready)
                .await,
        )?;
    }
    let done = status(json!({"conditions": [{"type": "Complete", "status": "True"}]}));
    let job = names::migration_job(&shop, "1.0.0");
    ignore_missing(jobs.patch_status(&job, &params, &done).await)?;
    let Some(deployment) = deployments.get_opt(&names::api(&shop)).await? else {
        return Ok(());
    };
    let replicas = deployment
        .spec
        .as_ref()
        .and_then(|spec| spec.replicas)
        .unwrap_or(1);
    let available = status(json!({
        "observedGeneration": deployment.metadata.generation, "replicas": replicas,
        "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
    }));
    deployments
        .patch_status(&names::api(&shop), &params, &available)
        .await?;
    Ok(())
}

/// Peak resident set size of this process (Linux `VmHWM`).
fn peak_resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
