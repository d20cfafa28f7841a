//! Traces across processes: the real `shop-api serve` (relay included) on Postgres and RabbitMQ
//! and the real `shop-workers` (all four workers) export OTLP/HTTP to an in-test receiver. A
//! checkout is one trace from its HTTP request through the relay's publish to every worker that
//! handles the event; so is the payment that follows, through the invoice worker and the events
//! it writes in turn. Parent links are checked span by span. With tracing off nothing is
//! exported and no trace context is written.
//!
//! `shop-workers` is the binary built next to this test's (a workspace build builds it; alone:
//! `cargo build -p shop-workers`), or `SHOP_WORKERS_BIN`.

mod common;

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use common::{Server, journey, shop_api};
use serde_json::Value;
use shop_api::grpc::pb::{self, product_service_client::ProductServiceClient};
use shop_testing::{
    PgDatabase, RabbitVhost,
    otlp::{OtlpReceiver, ReceivedSpan},
};
use sqlx::Connection as _;
use tokio::{
    io::{AsyncBufReadExt as _, BufReader},
    process::{Child, Command},
};

const JWT_SECRET: (&str, &str) = ("SHOP_JWT_SECRET", "tracing-tests-secret-at-least-32-bytes!");
/// Spans leave each process within this (the batch exporter's delay), so the test is quick.
const EXPORT_DELAY: (&str, &str) = ("OTEL_BSP_SCHEDULE_DELAY", "100");
const WAIT: Duration = Duration::from_secs(60);

const SERVER: i32 = 2;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

fn workers_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SHOP_WORKERS_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<this test> → target/<profile>/shop-workers
    let exe = std::env::current_exe().expect("the test's path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("shop-workers"))
        .expect("the target folder");
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build -p shop-workers) or set SHOP_WORKERS_BIN",
        path.display()
    );
    path
}

/// `shop-workers` (every worker) started, once it announced its metrics address.
async fn start_workers(dir: &Path, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(workers_binary());
    command
        .env_clear()
        .current_dir(dir)
        .envs(env.iter().copied())
        .env("SHOP_WORKERS_METRICS_ADDR", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("start shop-workers");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let started = tokio::time::timeout(WAIT, async {
        while let Ok(Some(line)) = stdout.next_line().await {
            if line.starts_with("metrics listening on ") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(started, Ok(true), "shop-workers did not start");
    // Keep reading so the pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    child
}

fn by_trace(spans: &[ReceivedSpan], trace_id: &str) -> Vec<ReceivedSpan> {
    spans
        .iter()
        .filter(|span| span.trace_id == trace_id)
        .cloned()
        .collect()
}

/// The server span of the request to `route` (a route template) with `method`.
fn request_span<'a>(
    spans: &'a [ReceivedSpan],
    method: &str,
    route: &str,
) -> Option<&'a ReceivedSpan> {
    spans.iter().find(|span| {
        span.kind == SERVER
            && span.service == "shop-api"
            && span.attribute("http.route") == Some(route)
            && span.name == format!("{method} {route}")
    })
}

/// The workers that handled `event_type` in `trace`.
fn handled_by(trace: &[ReceivedSpan], event_type: &str) -> HashSet<String> {
    trace
        .iter()
        .filter(|span| {
            span.kind == CONSUMER
                && span.service == "shop-workers"
                && span.name.ends_with(&format!(" process {event_type}"))
        })
        .filter_map(|span| span.attribute("worker").map(str::to_owned))
        .collect()
}

/// Every span's parent is in the trace, except the root's; returns the orphans.
fn orphans(trace: &[ReceivedSpan]) -> Vec<String> {
    let ids: HashSet<&str> = trace.iter().map(|span| span.span_id.as_str()).collect();
    trace
        .iter()
        .filter(|span| {
            !span.parent_span_id.is_empty() && !ids.contains(span.parent_span_id.as_str())
        })
        .map(|span| {
            format!(
                "{} ({}) → missing parent {}",
                span.name, span.service, span.parent_span_id
            )
        })
        .collect()
}

fn names(spans: &[ReceivedSpan]) -> Vec<String> {
    spans
        .iter()
        .map(|span| {
            format!(
                "{}:{} [{}→{}]",
                span.service, span.name, span.parent_span_id, span.span_id
            )
        })
        .collect()
}

/// The trace of the request to `route`, once `complete` holds for it and no span lacks its
/// parent (a parent ends, and so is exported, before or after its children).
async fn trace_of(
    receiver: &OtlpReceiver,
    method: &str,
    route: &str,
    complete: impl Fn(&[ReceivedSpan]) -> bool,
) -> Vec<ReceivedSpan> {
    let spans = receiver
        .wait_for(WAIT, |spans| {
            request_span(spans, method, route).is_some_and(|root| {
                let trace = by_trace(spans, &root.trace_id);
                complete(&trace) && orphans(&trace).is_empty()
            })
        })
        .await;
    let root = request_span(&spans, method, route)
        .unwrap_or_else(|| panic!("no span for {method} {route}: {:#?}", names(&spans)));
    by_trace(&spans, &root.trace_id)
}

/// The span that `span` is a child of.
fn parent<'a>(trace: &'a [ReceivedSpan], span: &ReceivedSpan) -> Option<&'a ReceivedSpan> {
    trace
        .iter()
        .find(|other| other.span_id == span.parent_span_id)
}

/// Walks up from `span` to the root; the names on the way, innermost first.
fn ancestry(trace: &[ReceivedSpan], span: &ReceivedSpan) -> Vec<String> {
    let mut chain = Vec::new();
    let mut current = parent(trace, span);
    while let Some(span) = current {
        chain.push(span.name.clone());
        current = parent(trace, span);
        if chain.len() > 64 {
            break;
        }
    }
    chain
}

/// One root, the request; every other span's parent in the trace; every consumer span a child of
/// a publish span of the API.
fn assert_well_formed(trace: &[ReceivedSpan], root_name: &str) {
    let roots: Vec<&ReceivedSpan> = trace
        .iter()
        .filter(|span| span.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "one root: {:#?}", names(trace));
    assert_eq!(roots[0].name, root_name);
    assert_eq!(roots[0].kind, SERVER);
    assert!(
        orphans(trace).is_empty(),
        "{:#?}\n{:#?}",
        orphans(trace),
        names(trace)
    );
    for span in trace.iter().filter(|span| span.kind == CONSUMER) {
        let publish = parent(trace, span).expect("a parent");
        assert_eq!(
            (publish.kind, publish.service.as_str()),
            (PRODUCER, "shop-api"),
            "{} is a child of the relay's publish, not of {}",
            span.name,
            publish.name
        );
        let chain = ancestry(trace, span);
        assert_eq!(
            chain.last().map(String::as_str),
            Some(root_name),
            "{chain:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_and_its_payment_are_traces_through_the_relay_and_every_worker() {
    let db = PgDatabase::create().await;
    let vhost = RabbitVhost::create();
    let receiver = OtlpReceiver::start().await;
    let endpoint = receiver.endpoint();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.0"),
        EXPORT_DELAY,
    ];
    let mut api_env = vec![
        ("DATABASE_URL", db.url()),
        ("AMQP_URL", vhost.url()),
        ("SHOP_HTTP_ADDR", "127.0.0.1:0"),
        ("SHOP_DEMO_SEED", "true"),
        ("SHOP_LOG_FORMAT", "json"),
        // tower-http's request lines are written inside the request span.
        ("SHOP_LOG", "info,shop_api::http=debug"),
        JWT_SECRET,
    ];
    api_env.extend(otel);
    let server = Server::start(shop_api(dir.path(), &api_env, &["serve"])).await;
    let mut workers_env = vec![
        ("DATABASE_URL", db.url()),
        ("AMQP_URL", vhost.url()),
        ("SHOP_LOG", "info"),
        ("OTEL_SERVICE_NAME", "shop-workers"),
    ];
    workers_env.extend(otel);
    let mut workers = start_workers(dir.path(), &workers_env).await;

    let admin = journey::admin(&server).await;
    let customer = journey::customer(&server, "ada@example.com").await;
    let order = journey::buy(&server, &customer, &admin).await;
    assert!(order["id"].is_string());

    // The checkout: request → checkout → outbox → publish → email, notification, analytics.
    let checkout = trace_of(&receiver, "POST", "/api/v1/orders", |trace| {
        handled_by(trace, "dev.shop.order.placed.v1")
            == HashSet::from(["email", "notification", "analytics"].map(str::to_owned))
    })
    .await;
    assert_well_formed(&checkout, "POST /api/v1/orders");
    let checkout_span = checkout
        .iter()
        .find(|span| span.name == "checkout" && span.service == "shop-api")
        .unwrap_or_else(|| panic!("a checkout span: {:#?}", names(&checkout)));
    assert_eq!(
        parent(&checkout, checkout_span).map(|span| span.name.as_str()),
        Some("POST /api/v1/orders")
    );
    assert!(
        checkout.iter().any(|span| span.name == "db transaction"
            && ancestry(&checkout, span).contains(&"checkout".to_owned())),
        "the checkout's transaction is a span under it: {:#?}",
        names(&checkout)
    );
    let publish = checkout
        .iter()
        .find(|span| span.name == "publish dev.shop.order.placed.v1")
        .unwrap_or_else(|| panic!("a publish span: {:#?}", names(&checkout)));
    assert_eq!(publish.kind, PRODUCER);
    assert_eq!(publish.attribute("messaging.system"), Some("rabbitmq"));
    // Linked to the request through the outbox row written inside the checkout span.
    assert!(ancestry(&checkout, publish).contains(&"checkout".to_owned()));

    // The payment: its own trace, through the invoice worker and the event that writes.
    let payment = trace_of(&receiver, "POST", "/api/v1/admin/payments", |trace| {
        handled_by(trace, "dev.shop.order.paid.v1")
            == HashSet::from(["email", "invoice", "notification", "analytics"].map(str::to_owned))
            && handled_by(trace, "dev.shop.invoice.created.v1").contains("email")
    })
    .await;
    assert_well_formed(&payment, "POST /api/v1/admin/payments");
    let invoice_created = payment
        .iter()
        .find(|span| span.name == "publish dev.shop.invoice.created.v1")
        .unwrap_or_else(|| panic!("the invoice event is published: {:#?}", names(&payment)));
    assert!(
        ancestry(&payment, invoice_created)
            .contains(&"invoice process dev.shop.order.paid.v1".to_owned()),
        "written while the invoice worker handled the payment: {:?}",
        ancestry(&payment, invoice_created)
    );
    assert_ne!(checkout[0].trace_id, payment[0].trace_id);

    // The outbox keeps the context it was written in.
    let mut connection = sqlx::PgConnection::connect(db.url())
        .await
        .expect("connect");
    let traced: Vec<String> = sqlx::query_scalar(
        "SELECT traceparent FROM outbox WHERE event_type = 'dev.shop.order.placed.v1'",
    )
    .fetch_all(&mut connection)
    .await
    .expect("read the outbox");
    assert_eq!(traced.len(), 1);
    assert!(
        traced[0].starts_with(&format!(
            "00-{}-{}-",
            checkout[0].trace_id, checkout_span.span_id
        )),
        "{traced:?}"
    );

    // A caller's `traceparent` is continued: its trace, its span as the request's parent.
    let (caller_trace, caller_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let listed = common::http()
        .get(server.url("/api/v1/products?limit=1"))
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .send()
        .await
        .expect("list products");
    assert_eq!(listed.status(), 200);
    let continued = receiver
        .wait_for(WAIT, |spans| {
            spans.iter().any(|span| span.trace_id == caller_trace)
        })
        .await;
    let continued = continued
        .iter()
        .find(|span| span.trace_id == caller_trace)
        .expect("the request span");
    assert_eq!(continued.name, "GET /api/v1/products");
    assert_eq!(continued.kind, SERVER);
    assert_eq!(
        (
            continued.trace_id.as_str(),
            continued.parent_span_id.as_str()
        ),
        (caller_trace, caller_span)
    );
    assert_eq!(
        continued.attribute("http.response.status_code"),
        Some("200")
    );

    // So is a gRPC caller's.
    let grpc_trace = "0af7651916cd43dd8448eb211c80319c";
    let address = server
        .banner_value("grpc listening on ")
        .expect("the gRPC address");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .expect("an endpoint")
        .connect()
        .await
        .expect("connect over gRPC");
    let mut request = tonic::Request::new(pb::ListProductsRequest {
        page_size: 1,
        ..Default::default()
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{grpc_trace}-{caller_span}-01")
            .parse()
            .expect("metadata"),
    );
    ProductServiceClient::new(channel)
        .list_products(request)
        .await
        .expect("list products over gRPC");
    let spans = receiver
        .wait_for(WAIT, |spans| {
            spans.iter().any(|span| span.trace_id == grpc_trace)
        })
        .await;
    let call = spans
        .iter()
        .find(|span| span.trace_id == grpc_trace)
        .expect("the call's span");
    assert_eq!(
        (call.name.as_str(), call.kind, call.parent_span_id.as_str()),
        ("shop.v1.ProductService/ListProducts", SERVER, caller_span)
    );
    assert_eq!(call.attribute("rpc.grpc.status_code"), Some("OK"));

    // JSON log lines inside the request carry its trace and span ids.
    let stopped = server.terminate().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.transcript());
    let root = &checkout
        .iter()
        .find(|span| span.parent_span_id.is_empty())
        .expect("a root");
    let lines: Vec<Value> = stopped
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|line: &Value| line["trace_id"] == root.trace_id.as_str())
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line["span_id"] == root.span_id.as_str()),
        "a log line of the checkout request names its span: {}",
        stopped.stderr
    );
    let _ = workers.start_kill();
    let _ = workers.wait().await;
}

/// The `traceparent` of the order's outbox row after a checkout with `env` (the embedded
/// default: no broker), and what the server said.
async fn checkout_with(env: &[(&str, &str)]) -> (Vec<Option<String>>, common::Finished) {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut all = vec![
        ("DATABASE_URL", db.url()),
        ("SHOP_HTTP_ADDR", "127.0.0.1:0"),
        ("SHOP_DEMO_SEED", "true"),
        ("SHOP_LOG_FORMAT", "json"),
        ("SHOP_LOG", "info,shop_api::http=debug"),
        JWT_SECRET,
    ];
    all.extend_from_slice(env);
    let server = Server::start(shop_api(dir.path(), &all, &["serve"])).await;
    let customer = journey::customer(&server, "ada@example.com").await;
    journey::place_order(&server, &customer).await;
    let stopped = server.terminate().await;
    assert_eq!(stopped.code, Some(0), "{}", stopped.transcript());
    let mut connection = sqlx::PgConnection::connect(db.url())
        .await
        .expect("connect");
    let rows = sqlx::query_scalar(
        "SELECT traceparent FROM outbox WHERE event_type = 'dev.shop.order.placed.v1'",
    )
    .fetch_all(&mut connection)
    .await
    .expect("read the outbox");
    (rows, stopped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tracing_nothing_is_exported_and_no_context_is_written() {
    let receiver = OtlpReceiver::start().await;
    let endpoint = receiver.endpoint();
    // The standard switch wins over an endpoint; no endpoint at all is the default.
    for env in [
        vec![("OTEL_SERVICE_NAME", "shop-api")],
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SDK_DISABLED", "true"),
            EXPORT_DELAY,
        ],
    ] {
        let (rows, stopped) = checkout_with(&env).await;
        assert!(!rows.is_empty());
        assert!(rows.iter().all(Option::is_none), "{rows:?} with {env:?}");
        assert!(
            !stopped.stderr.contains("trace_id"),
            "no trace ids in logs: {}",
            stopped.stderr
        );
        // The request lines are there, just without ids.
        assert!(
            stopped.stderr.contains("finished processing request"),
            "{}",
            stopped.stderr
        );
    }
    // The server flushed at exit: anything exported would have arrived by now.
    assert_eq!(receiver.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_of_the_last_requests_are_exported_at_sigterm() {
    let receiver = OtlpReceiver::start().await;
    let endpoint = receiver.endpoint();
    // A long export delay: only the flush at shutdown can deliver the spans in time.
    let (rows, _) = checkout_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ])
    .await;
    assert!(
        !rows.is_empty() && rows.iter().all(Option::is_some),
        "{rows:?}"
    );
    let spans = receiver.spans();
    let traced: HashMap<&str, usize> = spans.iter().fold(HashMap::new(), |mut count, span| {
        *count.entry(span.name.as_str()).or_default() += 1;
        count
    });
    assert!(
        request_span(&spans, "POST", "/api/v1/orders").is_some() && traced.contains_key("checkout"),
        "{:#?}",
        names(&spans)
    );
    assert!(spans.iter().all(|span| span.service == "shop-api"));
}
