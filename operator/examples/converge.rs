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
        let ready = shops
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
            .count();
        if ready == count {
            break;
        }
        play_the_cluster(&client, count).await?;
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
async fn play_the_cluster(client: &Client, count: usize) -> anyhow::Result<()> {
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
    for index in 0..count {
        let shop = format!("shop-{index:04}");
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
            continue;
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
    }
    Ok(())
}

/// Peak resident set size of this process (Linux `VmHWM`).
fn peak_resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
