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

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use kube_fake_client::ClientBuilder;
use serde_json::json;
use shop_operator::build::service_monitor::ServiceMonitor;
use shop_operator::context::Context;
use shop_operator::crd::{Backup, Shop, Worker};

const NAMESPACE: &str = "bench";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count: usize = std::env::args().nth(1).map_or(Ok(1000), |n| n.parse())?;
    let client = ClientBuilder::new()
        .with_resource::<Shop>()
        .with_resource::<Worker>()
        .with_resource::<Backup>()
        .with_resource::<ServiceMonitor>()
        .build()
        .await?;
    let shops: Api<Shop> = Api::namespaced(client.clone(), NAMESPACE);
    for index in 0..count {
        let shop: Shop = serde_json::from_value(json!({
            "apiVersion": "shop.dev/v1alpha1", "kind": "Shop",
            "metadata": {"name": format!("shop-{index:04}"), "namespace": NAMESPACE},
            "spec": {"version": "1.0.0"},
        }))?;
        shops.create(&PostParams::default(), &shop).await?;
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
        play_the_cluster(&client).await?;
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

/// What the cluster's own controllers would do between rounds.
async fn play_the_cluster(client: &Client) -> anyhow::Result<()> {
    let status = |value| Patch::Merge(json!({ "status": value }));
    let params = PatchParams::default();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), NAMESPACE);
    for set in sets.list(&ListParams::default()).await?.items {
        sets.patch_status(
            &set.name_any(),
            &params,
            &status(json!({"replicas": 1, "readyReplicas": 1})),
        )
        .await?;
    }
    let jobs: Api<Job> = Api::namespaced(client.clone(), NAMESPACE);
    for job in jobs.list(&ListParams::default()).await?.items {
        let done = json!({"conditions": [{"type": "Complete", "status": "True"}]});
        jobs.patch_status(&job.name_any(), &params, &status(done))
            .await?;
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    for deployment in deployments.list(&ListParams::default()).await?.items {
        let replicas = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.replicas)
            .unwrap_or(1);
        let available = json!({
            "observedGeneration": deployment.metadata.generation, "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
        });
        deployments
            .patch_status(&deployment.name_any(), &params, &status(available))
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
