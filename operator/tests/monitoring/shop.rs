//! The shop's real binaries, `shop-api serve` and `shop-workers`, on Postgres and RabbitMQ, and a
//! customer's short journey through them over REST and gRPC.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;

/// A shop binary built beside `shop-operator` in the same target folder: `cargo nextest run
/// --workspace` (what `scripts/test` and CI run) builds every binary of the workspace first.
pub fn sibling_binary(name: &str) -> PathBuf {
    let operator = Path::new(env!("CARGO_BIN_EXE_shop-operator"));
    let path = operator.with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: build it first (cargo build -p {name}), or run the workspace's tests",
        path.display()
    );
    path
}

/// A process started by the test, killed when dropped; its first stdout lines up to the one it
/// was started for, and its stderr (drained all along so it can never block on a full pipe).
#[derive(Debug)]
pub struct Process {
    child: Child,
    pub lines: Vec<String>,
    _stdout: BufReader<ChildStdout>,
    stderr: JoinHandle<String>,
}

impl Process {
    /// Starts `command` and reads its stdout until `is_ready` says a line announced readiness.
    async fn start(mut command: Command, what: &str, is_ready: impl Fn(&str) -> bool) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("start {what}: {error}"));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text).await;
            text
        });
        let mut lines = Vec::new();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let mut line = String::new();
                if stdout.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return false;
                }
                let line = line.trim_end().to_owned();
                let done = is_ready(&line);
                lines.push(line);
                if done {
                    return true;
                }
            }
        })
        .await;
        if ready != Ok(true) {
            let _ = child.start_kill();
            let _ = child.wait().await;
            panic!(
                "{what} did not start; stdout:\n{}\nstderr:\n{}",
                lines.join("\n"),
                stderr.await.unwrap_or_default()
            );
        }
        Self {
            child,
            lines,
            _stdout: stdout,
            stderr,
        }
    }

    /// The value of the first stdout line starting with `prefix`.
    pub fn value(&self, prefix: &str) -> Option<&str> {
        self.lines.iter().find_map(|line| line.strip_prefix(prefix))
    }

    /// Stops the process and returns what it logged.
    pub async fn stop(mut self) -> String {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.stderr.await.unwrap_or_default()
    }
}

fn address(text: Option<&str>, what: &str) -> SocketAddr {
    text.and_then(|text| text.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address for {what}"))
}

/// `shop-api serve` on Postgres and RabbitMQ with the demo catalog, paid through the sandbox.
#[derive(Debug)]
pub struct Api {
    process: Process,
    pub http: SocketAddr,
    pub grpc: SocketAddr,
}

impl Api {
    pub async fn start(dir: &Path, database: &str, amqp: &str) -> Self {
        let mut command = Command::new(sibling_binary("shop-api"));
        command
            .env_clear()
            .current_dir(dir)
            .arg("serve")
            .env("DATABASE_URL", database)
            .env("AMQP_URL", amqp)
            .env(
                "SHOP_JWT_SECRET",
                "monitoring-test-secret-of-at-least-32-bytes",
            )
            .env("SHOP_DEMO_SEED", "true")
            // The journey pays on the sandbox page, which a shop on Postgres must ask for.
            .env("SHOP_PAYMENT_PROVIDER", "sandbox")
            .env("SHOP_HTTP_ADDR", "127.0.0.1:0")
            .env("SHOP_GRPC_ADDR", "127.0.0.1:0")
            .env("SHOP_LOG", "warn");
        let process = Process::start(command, "shop-api serve", |line| {
            line.starts_with("listening on http://")
        })
        .await;
        let http = address(process.value("listening on http://"), "HTTP");
        let grpc = address(process.value("grpc listening on "), "gRPC");
        Self {
            process,
            http,
            grpc,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    pub async fn stop(self) -> String {
        self.process.stop().await
    }
}

/// `shop-workers` (all four workers) on the same database and broker.
#[derive(Debug)]
pub struct Workers {
    process: Process,
    pub metrics: SocketAddr,
}

impl Workers {
    pub async fn start(dir: &Path, database: &str, amqp: &str) -> Self {
        let mut command = Command::new(sibling_binary("shop-workers"));
        command
            .env_clear()
            .current_dir(dir)
            .args(["--metrics-addr", "127.0.0.1:0"])
            .env("DATABASE_URL", database)
            .env("AMQP_URL", amqp)
            .env("SHOP_LOG", "warn");
        let process = Process::start(command, "shop-workers", |line| {
            line.starts_with("metrics listening on ")
        })
        .await;
        let metrics = address(
            process.value("metrics listening on "),
            "the workers' metrics",
        );
        Self { process, metrics }
    }

    pub async fn stop(self) -> String {
        self.process.stop().await
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("an HTTP client")
}

/// POSTs JSON (with a bearer token when given) and returns the status and body.
async fn post(
    url: String,
    token: Option<&str>,
    body: &Value,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = http().post(url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("a POST");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn login(api: &Api, email: &str, password: &str) -> String {
    let (status, body) = post(
        api.url("/api/v1/auth/login"),
        None,
        &json!({ "email": email, "password": password }),
        &[],
    )
    .await;
    assert_eq!(status, 200, "login {email}: {body}");
    body["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// A customer registers, browses (twice: once computed, once from the cache), tries to check out
/// an empty cart (refused), fills the cart, checks out and pays on the sandbox's page; a gRPC
/// client asks for the server's health. Returns the order.
pub async fn journey(api: &Api) -> Value {
    let (status, body) = post(
        api.url("/api/v1/auth/register"),
        None,
        &json!({ "email": "ada@example.com", "password": "correct horse battery", "full_name": "Ada Lovelace" }),
        &[],
    )
    .await;
    assert_eq!(status, 201, "register: {body}");
    let customer = login(api, "ada@example.com", "correct horse battery").await;

    let mut products = Value::Null;
    for _ in 0..2 {
        let response = http()
            .get(api.url("/api/v1/products?limit=1"))
            .send()
            .await
            .expect("list products");
        assert_eq!(response.status(), 200);
        products = response.json().await.expect("products");
    }
    let product = products["items"][0]["id"].clone();

    let (status, body) = post(
        api.url("/api/v1/orders"),
        Some(&customer),
        &json!({}),
        &[("idempotency-key", "monitoring-empty-cart")],
    )
    .await;
    assert!(
        (400..500).contains(&status),
        "an empty cart is refused: {status} {body}"
    );
    let (status, body) = post(
        api.url("/api/v1/cart/items"),
        Some(&customer),
        &json!({ "product_id": product, "quantity": 1 }),
        &[],
    )
    .await;
    assert_eq!(status, 201, "add to cart: {body}");
    let (status, order) = post(
        api.url("/api/v1/orders"),
        Some(&customer),
        &json!({}),
        &[("idempotency-key", "monitoring-checkout")],
    )
    .await;
    assert_eq!(status, 201, "checkout: {order}");
    // Paid through the built-in sandbox provider: its pay page posts the signed notification
    // through the same handling as a provider's webhook.
    let order_id = order["id"].as_str().expect("an order id");
    let (status, session) = post(
        api.url(&format!("/api/v1/orders/{order_id}/payment")),
        Some(&customer),
        &json!({}),
        &[],
    )
    .await;
    assert_eq!(status, 201, "start the payment: {session}");
    let token = session["token"].as_str().expect("a sandbox token");
    let paid = http()
        .post(api.url(&format!("/pay/{token}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("decision=pay")
        .send()
        .await
        .expect("pay on the sandbox page");
    assert_eq!(paid.status(), 200, "the sandbox records the payment");

    let channel = tonic::transport::Channel::from_shared(format!("http://{}", api.grpc))
        .expect("a gRPC URL")
        .connect()
        .await
        .expect("connect over gRPC");
    let health = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("a gRPC health check");
    assert_eq!(
        health.into_inner().status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    order
}

/// GETs `/metrics` of a process.
pub async fn scrape(address: SocketAddr) -> String {
    http()
        .get(format!("http://{address}/metrics"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("GET /metrics")
        .text()
        .await
        .expect("the metrics text")
}
