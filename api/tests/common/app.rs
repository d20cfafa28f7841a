//! The test application, shared by the REST and gRPC suites: [`shop_api::app::Application`],
//! what `shop-api serve` runs, built from a typed configuration over a fresh store and served
//! in-process on 127.0.0.1 (port 0 for HTTP and gRPC), with an HTTP client, a gRPC channel and
//! the `Shop` for setup the API does not offer. Each suite adds its own helpers (requests, sign
//! in) in `support.rs`.
//!
//! Two backends: **embedded** (SQLite in a temporary directory, in-process key-value store) and
//! **postgres_redis** (a Postgres database of its own, dropped WITH (FORCE) when the test ends,
//! even on panic, and Redis under a key prefix of its own). On both the workers run embedded, as
//! under `serve` without `AMQP_URL`, their invoice and mail folders in the temporary directory.

#![allow(dead_code)] // Each suite uses its own subset.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use reqwest::Client;
use shop_api::{app::Application, grpc::GrpcSettings, server::AppState};
use shop_core::{
    app::{Actor, RegisterUser, Shop},
    config::Config,
};
pub use shop_testing::Backend;
use shop_testing::{PgDatabase, redis_url, unique_redis_prefix};
use tempfile::TempDir;
use tokio::{sync::watch, task::JoinHandle};
use tonic::transport::{Channel, Endpoint};

/// Every password the helpers register with.
pub const PASSWORD: &str = "correct horse battery";
/// What the test apps sign access tokens with.
pub const JWT_SECRET: &str = "api-tests-secret-long-enough-for-hs256-signing";
/// Bounds every request, call and wait, so a hang fails the test instead of stalling the run.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Short, so status changes reach `WatchOrder` streams and health changes `Watch` quickly.
const GRPC_SETTINGS: GrpcSettings = GrpcSettings {
    watch_poll_interval: Duration::from_millis(50),
    health_check_interval: Duration::from_millis(100),
};

/// How to build a [`TestApp`]: the settings tests vary, as configuration variables.
#[derive(Debug, Clone)]
pub struct TestAppBuilder {
    backend: Backend,
    rate_limit_per_minute: u64,
    tax_basis_points: u32,
    redis_prefix: Option<String>,
    cors_allowed_origins: Vec<String>,
    /// Further settings, as configuration variables (payment provider, its fake's URLs, ...).
    vars: Vec<(String, String)>,
}

impl TestAppBuilder {
    /// Sets any configuration variable, e.g. `SHOP_PAYMENT_PROVIDER`; wins over the defaults.
    #[must_use]
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Requests per minute per client under `/api/v1`; 0 (the default) turns the limit off.
    #[must_use]
    pub fn rate_limit(mut self, per_minute: u64) -> Self {
        self.rate_limit_per_minute = per_minute;
        self
    }

    #[must_use]
    pub fn tax_basis_points(mut self, basis_points: u32) -> Self {
        self.tax_basis_points = basis_points;
        self
    }

    /// Keeps sessions, rate limits and the catalog cache in Redis under `prefix`; two apps given
    /// the same prefix share them like two replicas of one deployment.
    #[must_use]
    pub fn redis_prefix(mut self, prefix: &str) -> Self {
        self.redis_prefix = Some(prefix.to_owned());
        self
    }

    #[must_use]
    pub fn cors_allowed_origins(mut self, origins: &[&str]) -> Self {
        self.cors_allowed_origins = origins.iter().map(|&origin| origin.to_owned()).collect();
        self
    }

    pub async fn spawn(self) -> TestApp {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let in_dir = |name: &str| dir.path().join(name).display().to_string();
        let (database, database_url) = match self.backend {
            Backend::Embedded => (None, format!("sqlite://{}", in_dir("shop.db"))),
            Backend::PostgresRedis => {
                let database = PgDatabase::create().await;
                let url = database.url().to_owned();
                (Some(database), url)
            }
        };
        let redis_prefix = match (self.redis_prefix, self.backend) {
            (Some(prefix), _) => Some(prefix),
            (None, Backend::PostgresRedis) => Some(unique_redis_prefix()),
            (None, Backend::Embedded) => None,
        };
        let mut vars: HashMap<String, String> = [
            ("DATABASE_URL", database_url),
            ("SHOP_JWT_SECRET", JWT_SECRET.to_owned()),
            // Named, as a shop on a database of its own must for the sandbox (see
            // `PaymentSettings::enabled`).
            ("SHOP_PAYMENT_PROVIDER", "sandbox".to_owned()),
            ("SHOP_HTTP_ADDR", "127.0.0.1:0".to_owned()),
            ("SHOP_GRPC_ADDR", "127.0.0.1:0".to_owned()),
            ("SHOP_DB_MAX_CONNECTIONS", "5".to_owned()),
            ("SHOP_DEMO_SEED", "false".to_owned()),
            ("SHOP_SHUTDOWN_GRACE_SECONDS", "5".to_owned()),
            (
                "SHOP_REQUEST_TIMEOUT_SECONDS",
                TIMEOUT.as_secs().to_string(),
            ),
            (
                "SHOP_RATE_LIMIT_PER_MINUTE",
                self.rate_limit_per_minute.to_string(),
            ),
            ("SHOP_TAX_RATE_BPS", self.tax_basis_points.to_string()),
            (
                "SHOP_CORS_ALLOWED_ORIGINS",
                self.cors_allowed_origins.join(","),
            ),
            ("SHOP_INVOICE_DIR", in_dir("invoices")),
            ("SHOP_MAIL_DIR", in_dir("mail")),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        if redis_prefix.is_some() {
            vars.insert("REDIS_URL".to_owned(), redis_url());
        }
        vars.extend(self.vars);
        let config = Config::from_vars(vars).expect("a valid test configuration");
        // The embedded workers run as in production, their folders in the temporary directory.
        let mut application = Application::builder(config).grpc_settings(GRPC_SETTINGS);
        if let Some(prefix) = redis_prefix {
            application = application.redis_prefix(prefix);
        }
        let application = application.build().await.expect("the application builds");
        let (http_address, grpc_address) = (application.http_addr(), application.grpc_addr());
        let state = application.state().clone();
        let (stop, stopping) = watch::channel(false);
        // Both listeners are bound already: requests queue in the backlog until it accepts them.
        let server = tokio::spawn(application.run_until_stopped(async move {
            let mut stopping = stopping;
            let _ = stopping.wait_for(|stopping| *stopping).await;
        }));
        let client = Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()
            .expect("an HTTP client");
        TestApp {
            base_url: format!("http://{http_address}"),
            http_address,
            grpc_address,
            client,
            shop: state.shop.clone(),
            state,
            channel: channel(grpc_address),
            stop,
            server: Some(server),
            database,
            _dir: dir,
        }
    }
}

/// The application, served until this is dropped.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    pub http_address: SocketAddr,
    pub grpc_address: SocketAddr,
    pub client: Client,
    /// The same shop the servers run, for setup the API does not offer and for reading state.
    pub shop: Shop,
    pub state: AppState,
    /// A connection to the gRPC server, made at the first call.
    pub channel: Channel,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    // Last, so the data goes after the servers and their pools.
    database: Option<PgDatabase>,
    _dir: TempDir,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("base_url", &self.base_url)
            .field("grpc_address", &self.grpc_address)
            .finish_non_exhaustive()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// A connection to a gRPC server, opened at the first call.
pub fn channel(address: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{address}"))
        .expect("an endpoint")
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .connect_lazy()
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            rate_limit_per_minute: 0,
            tax_basis_points: 0,
            redis_prefix: None,
            cors_allowed_origins: Vec::new(),
            vars: Vec::new(),
        }
    }

    /// The app with default settings: no rate limit, no tax, no CORS origins.
    pub async fn spawn(backend: Backend) -> Self {
        Self::builder(backend).spawn().await
    }

    pub fn shop(&self) -> &Shop {
        &self.shop
    }

    /// An absolute URL for a path outside the API (`/healthz`, `/metrics`, ...).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// An administrator with [`PASSWORD`], registered directly (the system's own tool, like
    /// `shop-api user create --admin`); returns the e-mail address to sign in with.
    pub async fn register_admin(&self) -> String {
        let email = format!("admin-{}@example.com", uuid::Uuid::new_v4().simple());
        let command = RegisterUser {
            email: email.clone(),
            password: PASSWORD.to_owned(),
            full_name: "Test Admin".to_owned(),
            role: Some("admin".to_owned()),
        };
        self.shop
            .register_user(&Actor::System, command)
            .await
            .expect("register an administrator");
        email
    }

    /// Tells both servers to shut down, as a signal would, and waits for the application to
    /// stop; its result.
    pub async fn shut_down(&mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let server = self.server.take().expect("the application still runs");
        tokio::time::timeout(TIMEOUT, server)
            .await
            .expect("the application stops in time")
            .expect("the application's task ends normally")
    }

    /// Drops the Postgres database under the running servers (Postgres only).
    pub async fn drop_database(&self) {
        match &self.database {
            Some(database) => database.drop_now().await,
            None => panic!("only a Postgres database can be dropped"),
        }
    }
}
