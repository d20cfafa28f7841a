//! What surrounds the shop's calls: server reflection (as `grpcurl` uses it), the health service,
//! request ids, per-method metrics, the rate limit REST and gRPC share, and shutting down with
//! streams open.

use std::time::Duration;

use prost::Message as _;
use shop_api::grpc::pb;
use tonic::{Code, Request, metadata::MetadataValue};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::{v1, v1alpha};
use tonic_types::StatusExt as _;

use crate::support::{Backend, expect_code, start, start_with, within};

on_both_backends!(
    reflection_lists_and_describes_every_service,
    health_reports_serving,
    request_ids_are_echoed,
    calls_are_counted_per_method_and_code,
    rest_and_grpc_share_one_rate_limit,
);

mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn health_follows_the_database() {
        super::health_follows_the_database().await;
    }
}

mod embedded_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutting_down_ends_open_streams() {
        super::shutting_down_ends_open_streams().await;
    }
}

const SHOP_SERVICES: [&str; 4] = [
    "shop.v1.UserService",
    "shop.v1.ProductService",
    "shop.v1.CartService",
    "shop.v1.OrderService",
];

/// One request on the v1 reflection stream, one answer.
async fn reflect(
    client: &mut v1::server_reflection_client::ServerReflectionClient<tonic::transport::Channel>,
    request: v1::server_reflection_request::MessageRequest,
) -> v1::server_reflection_response::MessageResponse {
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("ServerReflectionInfo")
        .into_inner();
    within(answers.message())
        .await
        .expect("a healthy stream")
        .expect("an answer")
        .message_response
        .expect("a response")
}

async fn reflection_lists_and_describes_every_service(backend: Backend) {
    let server = start(backend).await;
    let mut client =
        v1::server_reflection_client::ServerReflectionClient::new(server.channel.clone());
    let v1::server_reflection_response::MessageResponse::ListServicesResponse(listed) = reflect(
        &mut client,
        v1::server_reflection_request::MessageRequest::ListServices(String::new()),
    )
    .await
    else {
        panic!("not a service list");
    };
    let names: Vec<&str> = listed.service.iter().map(|s| s.name.as_str()).collect();
    for expected in SHOP_SERVICES.into_iter().chain([
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ]) {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }

    // What `grpcurl describe shop.v1.OrderService` asks: the file that declares it, and then
    // the files it imports.
    let v1::server_reflection_response::MessageResponse::FileDescriptorResponse(files) = reflect(
        &mut client,
        v1::server_reflection_request::MessageRequest::FileContainingSymbol(
            "shop.v1.OrderService".to_owned(),
        ),
    )
    .await
    else {
        panic!("not a file descriptor");
    };
    let files: Vec<prost_types::FileDescriptorProto> = files
        .file_descriptor_proto
        .iter()
        .map(|bytes| prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("a file"))
        .collect();
    let order_file = files
        .iter()
        .find(|file| file.name() == "shop/v1/order.proto")
        .expect("order.proto");
    let service = order_file
        .service
        .iter()
        .find(|service| service.name() == "OrderService")
        .expect("OrderService");
    let methods: Vec<&str> = service.method.iter().map(|m| m.name()).collect();
    assert_eq!(
        methods,
        [
            "CreateOrder",
            "GetOrder",
            "GetUserOrders",
            "CancelOrder",
            "UpdateOrderStatus",
            "WatchOrder",
            "StartPayment",
            "ListPayments",
            "RefundOrder"
        ]
    );
    let watch = service
        .method
        .iter()
        .find(|m| m.name() == "WatchOrder")
        .expect("WatchOrder");
    assert!(watch.server_streaming());
    for import in &order_file.dependency {
        let v1::server_reflection_response::MessageResponse::FileDescriptorResponse(found) =
            reflect(
                &mut client,
                v1::server_reflection_request::MessageRequest::FileByFilename(import.clone()),
            )
            .await
        else {
            panic!("{import} is not served");
        };
        assert!(!found.file_descriptor_proto.is_empty(), "{import}");
    }
    // The health service is described too.
    let described = reflect(
        &mut client,
        v1::server_reflection_request::MessageRequest::FileContainingSymbol(
            "grpc.health.v1.Health".to_owned(),
        ),
    )
    .await;
    assert!(
        matches!(
            described,
            v1::server_reflection_response::MessageResponse::FileDescriptorResponse(_)
        ),
        "{described:?}"
    );

    // The older v1alpha protocol, which some tools still speak.
    let mut alpha =
        v1alpha::server_reflection_client::ServerReflectionClient::new(server.channel.clone());
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let answer = within(
        alpha
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect("ServerReflectionInfo, v1alpha")
            .into_inner()
            .message(),
    )
    .await
    .expect("a healthy stream")
    .expect("an answer");
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(listed)) =
        answer.message_response
    else {
        panic!("not a service list");
    };
    assert!(
        listed
            .service
            .iter()
            .any(|service| service.name == "shop.v1.OrderService")
    );
}

async fn health_reports_serving(backend: Backend) {
    let server = start(backend).await;
    let mut health = HealthClient::new(server.channel.clone());
    for service in std::iter::once("").chain(SHOP_SERVICES) {
        let answer = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("Health/Check")
            .into_inner();
        assert_eq!(answer.status(), ServingStatus::Serving, "{service:?}");
    }
    expect_code(
        health
            .check(HealthCheckRequest {
                service: "no.such.Service".to_owned(),
            })
            .await,
        Code::NotFound,
    );
}

async fn request_ids_are_echoed(backend: Backend) {
    let server = start(backend).await;
    let mut products = server.products();
    let mut request = Request::new(pb::ListProductsRequest::default());
    request
        .metadata_mut()
        .insert("x-request-id", MetadataValue::from_static("trace-me-42"));
    let response = products.list_products(request).await.expect("ListProducts");
    assert_eq!(
        response
            .metadata()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok()),
        Some("trace-me-42")
    );
    // Without one, or with an unusable one, the server makes one up.
    for given in [None, Some("has spaces in it")] {
        let mut request = Request::new(pb::GetProductRequest { product: None });
        if let Some(given) = given {
            request.metadata_mut().insert(
                "x-request-id",
                MetadataValue::try_from(given).expect("a metadata value"),
            );
        }
        // Errors carry it as well.
        let status = expect_code(products.get_product(request).await, Code::InvalidArgument);
        let made_up = status
            .metadata()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .expect("a request id");
        assert!(uuid::Uuid::parse_str(made_up).is_ok(), "{made_up}");
    }
}

async fn calls_are_counted_per_method_and_code(backend: Backend) {
    let server = start(backend).await;
    let admin = server.admin().await;
    let product = server.product(&admin, "Blue Mug", 1_250, 5).await;
    let customer = server.customer("mia").await;
    let order = server.order(&customer, &product, 1, "key").await;
    let mut products = server.products();
    for _ in 0..2 {
        products
            .list_products(pb::ListProductsRequest::default())
            .await
            .expect("ListProducts");
    }
    expect_code(
        products
            .get_product(pb::GetProductRequest {
                product: Some(pb::get_product_request::Product::Slug("nothing".to_owned())),
            })
            .await,
        Code::NotFound,
    );
    // A stream that ends by itself counts as OK once it is over.
    server
        .orders()
        .cancel_order(customer.request(pb::CancelOrderRequest {
            order_id: order.id.clone(),
        }))
        .await
        .expect("CancelOrder");
    let mut stream = server
        .orders()
        .watch_order(customer.request(pb::WatchOrderRequest {
            order_id: order.id.clone(),
        }))
        .await
        .expect("WatchOrder")
        .into_inner();
    while within(stream.message())
        .await
        .expect("a healthy stream")
        .is_some()
    {}

    let expected = [
        r#"shop_grpc_requests_total{method="shop.v1.ProductService/ListProducts",code="OK"} 2"#,
        r#"shop_grpc_requests_total{method="shop.v1.ProductService/GetProduct",code="NOT_FOUND"} 1"#,
        r#"shop_grpc_requests_total{method="shop.v1.OrderService/CreateOrder",code="OK"} 1"#,
        r#"shop_grpc_requests_total{method="shop.v1.UserService/Login",code="OK"} 2"#,
        r#"shop_grpc_request_duration_seconds_count{method="shop.v1.ProductService/ListProducts"} 2"#,
    ];
    for line in expected {
        assert!(
            server.state.metrics.render().lines().any(|l| l == line),
            "{line} in\n{}",
            server.state.metrics.render()
        );
    }
    // The stream's status is recorded when its trailers go out, just after the last message:
    // poll for it rather than assume the order of two events in different tasks.
    let streamed =
        r#"shop_grpc_requests_total{method="shop.v1.OrderService/WatchOrder",code="OK"} 1"#;
    within(async {
        while !server.state.metrics.render().lines().any(|l| l == streamed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // Probes are counted under their own method; made-up methods share one label instead of
    // adding series.
    let mut health = HealthClient::new(server.channel.clone());
    health
        .check(HealthCheckRequest::default())
        .await
        .expect("Health/Check");
    let mut raw = tonic::client::Grpc::new(server.channel.clone());
    raw.ready().await.expect("a ready channel");
    let made_up: Result<tonic::Response<pb::ClearCartResponse>, _> = raw
        .unary(
            Request::new(pb::ClearCartRequest {}),
            http::uri::PathAndQuery::from_static("/shop.v1.NoSuchService/Nothing"),
            tonic_prost::ProstCodec::default(),
        )
        .await;
    expect_code(made_up, Code::Unimplemented);
    let text = server.state.metrics.render();
    for line in [
        r#"shop_grpc_requests_total{method="grpc.health.v1.Health/Check",code="OK"} 1"#,
        r#"shop_grpc_requests_total{method="unknown",code="UNIMPLEMENTED"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    // And the whole registry still renders from the HTTP endpoint.
    let scraped = reqwest::get(server.http_url("/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("the metrics");
    assert!(
        scraped.contains("shop_grpc_request_duration_seconds_bucket"),
        "{scraped}"
    );
}

async fn rest_and_grpc_share_one_rate_limit(backend: Backend) {
    let server = start_with(backend, 3).await;
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let response = client
            .get(server.http_url("/api/v1/products"))
            .send()
            .await
            .expect("GET /api/v1/products");
        assert_eq!(response.status(), 200);
    }
    let mut products = server.products();
    products
        .list_products(pb::ListProductsRequest::default())
        .await
        .expect("the third call of the minute");
    let status = expect_code(
        products
            .list_products(pb::ListProductsRequest::default())
            .await,
        Code::ResourceExhausted,
    );
    let details = status.get_error_details();
    assert_eq!(
        details.error_info().map(|info| info.reason.as_str()),
        Some("RATE_LIMITED")
    );
    assert!(details.retry_info().is_some(), "{status:?}");
    let response = client
        .get(server.http_url("/api/v1/products"))
        .send()
        .await
        .expect("GET /api/v1/products");
    assert_eq!(response.status(), 429);
    // Probes are never limited.
    let mut health = HealthClient::new(server.channel.clone());
    let answer = health
        .check(HealthCheckRequest::default())
        .await
        .expect("Health/Check")
        .into_inner();
    assert_eq!(answer.status(), ServingStatus::Serving);
    assert!(
        server.state.metrics.render().contains(
            r#"shop_grpc_requests_total{method="shop.v1.ProductService/ListProducts",code="RESOURCE_EXHAUSTED"} 1"#
        )
    );
}

async fn health_follows_the_database() {
    let server = start(Backend::PostgresRedis).await;
    let mut health = HealthClient::new(server.channel.clone());
    let status = || async {
        HealthClient::new(server.channel.clone())
            .check(HealthCheckRequest::default())
            .await
            .expect("Health/Check")
            .into_inner()
            .status()
    };
    assert_eq!(status().await, ServingStatus::Serving);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: "shop.v1.OrderService".to_owned(),
        })
        .await
        .expect("Health/Watch")
        .into_inner();
    let first = within(watch.message())
        .await
        .expect("a healthy stream")
        .expect("the current status");
    assert_eq!(first.status(), ServingStatus::Serving);
    server.drop_database().await;
    // The next periodic check notices; Watch sends the change as it happens.
    let changed = within(watch.message())
        .await
        .expect("a healthy stream")
        .expect("the change");
    assert_eq!(changed.status(), ServingStatus::NotServing);
    assert_eq!(status().await, ServingStatus::NotServing);
}

async fn shutting_down_ends_open_streams() {
    let mut server = start(Backend::Embedded).await;
    let admin = server.admin().await;
    let product = server.product(&admin, "Blue Mug", 1_250, 5).await;
    let customer = server.customer("sam").await;
    let order = server.order(&customer, &product, 1, "key").await;
    let mut stream = server
        .orders()
        .watch_order(customer.request(pb::WatchOrderRequest {
            order_id: order.id.clone(),
        }))
        .await
        .expect("WatchOrder")
        .into_inner();
    within(stream.message())
        .await
        .expect("a healthy stream")
        .expect("the current status");
    // Shutting down does not wait for the order to change: the stream ends, and the client
    // is told to watch again (elsewhere).
    let stopped = server.shut_down();
    let (stopped, ended) = within(async { tokio::join!(stopped, stream.message()) }).await;
    stopped.expect("the gRPC server stops cleanly");
    let status = ended.expect_err("the stream ends with a status");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}
