//! The real `shop-api` binary serves gRPC next to HTTP: it announces the address it bound
//! (port 0 works), answers on it, and stops on SIGTERM with the HTTP server.

use shop_api::grpc::pb::{self, product_service_client::ProductServiceClient};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use crate::{
    common::{Server, shop_api},
    support::channel,
};

#[tokio::test]
async fn the_binary_serves_grpc_on_the_address_it_prints() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(shop_api(
        dir.path(),
        &[
            ("SHOP_HTTP_ADDR", "127.0.0.1:0"),
            ("SHOP_GRPC_ADDR", "127.0.0.1:0"),
        ],
        &[],
    ))
    .await;
    let banner = server.banner.join("\n");
    let address: std::net::SocketAddr = server
        .banner_value("grpc listening on ")
        .expect("the gRPC address is announced")
        .parse()
        .expect("a socket address");
    assert_ne!(address.port(), 0, "{banner}");
    assert_ne!(address, server.address, "{banner}");

    let channel = channel(address).await;
    let listed = ProductServiceClient::new(channel.clone())
        .list_products(pb::ListProductsRequest {
            page_size: 5,
            ..Default::default()
        })
        .await
        .expect("ListProducts")
        .into_inner();
    assert_eq!(listed.products.len(), 5, "the demo catalog");
    assert!(!listed.next_page_token.is_empty());
    let health = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .expect("Health/Check")
        .into_inner();
    assert_eq!(health.status(), ServingStatus::Serving);

    let stopped = server.terminate().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.transcript());
    assert!(
        stopped.stdout.contains("stopped"),
        "{}",
        stopped.transcript()
    );
    assert!(
        !stopped.stderr.contains("panicked"),
        "{}",
        stopped.transcript()
    );
}
