//! The API server double of the tests (`operator/tests/apiserver/`: the in-memory Kubernetes API
//! of kube-fake-client behind HTTP, with watches), on its own, so that a benchmark can run the
//! operator in a process of its own and measure its memory alone, or so that `shop-operator run`
//! can be tried without a cluster.
//!
//! `cargo run --release -p shop-operator --example fake_apiserver -- 127.0.0.1:18443`
//! prints `listening on ADDR` once it accepts requests. No TLS, no authentication: loopback only.
//! With `--log-requests`, prints every request (method, path, query) as it arrives.

#[allow(dead_code)]
#[path = "../tests/apiserver/mod.rs"]
mod apiserver;

use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let address = std::env::args()
        .nth(1)
        .filter(|arg| !arg.starts_with("--"))
        .unwrap_or_else(|| "127.0.0.1:18443".to_owned());
    let log_requests = std::env::args().any(|arg| arg == "--log-requests");
    let server = apiserver::ApiServer::start_on(&address).await?;
    println!("listening on {}", server.address());
    let mut printed = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            () = tokio::time::sleep(Duration::from_millis(200)), if log_requests => {
                let requests = server.requests();
                for request in requests.iter().skip(printed) {
                    println!("{request}");
                }
                printed = requests.len();
            }
        }
    }
}
