//! The in-memory Kubernetes API (kube-fake-client) served over HTTP on loopback, so that a
//! benchmark can run the operator in a process of its own and measure its memory alone.
//!
//! `cargo run --release -p shop-operator --example fake_apiserver -- 127.0.0.1:18443`
//! prints `listening on ADDR` once it accepts requests. No watch (the fake has none), no TLS,
//! no authentication: for benchmarks on loopback only.

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use kube_fake_client::ClientBuilder;
use shop_operator::build::service_monitor::ServiceMonitor;
use shop_operator::crd::{Backup, Shop, Worker};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18443".to_owned());
    let fake = ClientBuilder::new()
        .with_resource::<Shop>()
        .with_resource::<Worker>()
        .with_resource::<Backup>()
        .with_resource::<ServiceMonitor>()
        .build()
        .await?;
    let app = axum::Router::new().fallback(move |request: Request| {
        let fake = fake.clone();
        async move { forward(&fake, request).await }
    });
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn forward(fake: &kube::Client, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let request = http::Request::from_parts(parts, kube::client::Body::from(bytes));
    match fake.send(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            match body.collect_bytes().await {
                Ok(bytes) => Response::from_parts(parts, Body::from(bytes)),
                Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
            }
        }
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}
