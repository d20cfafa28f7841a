//! Typed configuration of `shop-api` and `shop-workers`, from the environment (`SHOP_*`, plus the
//! conventional `DATABASE_URL`, `REDIS_URL` and `AMQP_URL`) and an optional TOML file named by
//! `SHOP_CONFIG_FILE`, whose keys are the variable names in lower case without the prefix
//! (`http_addr`, `database_url`, ...). The environment wins over the file. A bad value fails with
//! an error naming where it came from. Every setting is read here, once, into a typed field:
//! [`Config::settings`] lists them (the file's keys are checked against that list, and a test
//! checks the README's tables against it).

mod payments;
mod source;
mod workers;

use std::{collections::HashMap, fmt, net::SocketAddr, path::PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::domain::{ImageLimits, TaxRate};
use source::{CONFIG_FILE, Source};

pub use payments::{
    MidtransEnvironment, MidtransSettings, PaymentSettings, StripeSettings, parse_duration,
};
pub use source::{Setting, SettingDefault};
pub use workers::{
    DEFAULT_INVOICE_DIR, DEFAULT_MAIL_DIR, DEFAULT_SELLER, EmailSettings, InvoiceSettings,
    NotificationSettings, WorkerSettings, WorkersProcess,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    /// The variable (or file key) at fault, e.g. `SHOP_HTTP_ADDR`.
    pub origin: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A database URL; may hold a password, so it never prints in full.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub const EMBEDDED_DEFAULT: &'static str = "sqlite://shop.db";

    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.starts_with("postgres://")
            || raw.starts_with("postgresql://")
            || raw.starts_with("sqlite:")
        {
            Ok(Self(SecretString::from(raw.to_owned())))
        } else {
            Err("must start with postgres://, postgresql:// or sqlite:".to_owned())
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self.0.expose_secret().starts_with("sqlite:")
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The same server and credentials with another database (Postgres URLs; the query string
    /// is kept): for scratch and test databases created next to the configured one.
    #[must_use]
    pub fn with_database(&self, database: &str) -> Self {
        let url = self.expose();
        let (base, query) = url
            .split_once('?')
            .map_or((url, None), |(base, query)| (base, Some(query)));
        let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
        let host = rest.split_once('/').map_or(rest, |(host, _)| host);
        let replaced = match query {
            Some(query) => format!("{scheme}://{host}/{database}?{query}"),
            None => format!("{scheme}://{host}/{database}"),
        };
        Self(SecretString::from(replaced))
    }

    /// The file an SQLite URL names (`sqlite://shop.db?mode=rwc` → `shop.db`); `None` for
    /// Postgres and for in-memory SQLite.
    pub fn sqlite_file(&self) -> Option<&str> {
        let raw = self.expose();
        let location = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))?;
        let location = location.split_once('?').map_or(location, |(path, _)| path);
        (!location.is_empty() && location != ":memory:").then_some(location)
    }

    /// Scheme, host and database, without credentials: safe for logs.
    pub fn redacted(&self) -> String {
        redact_url(self.expose())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// Drops `user:password@` and the query string from a URL.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
    if scheme.is_empty() {
        rest.to_owned()
    } else {
        format!("{scheme}://{rest}")
    }
}

/// The largest `SHOP_IMAGE_MAX_BYTES` allowed: uploads are held in memory while checked.
pub const MAX_IMAGE_BYTES: usize = 100 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub database_url: DatabaseUrl,
    /// Whether `database_url` was left to the embedded default.
    pub database_is_default: bool,
    pub db_max_connections: u32,
    pub redis_url: Option<SecretString>,
    /// A PEM file of the CA to trust for a `rediss://` REDIS_URL instead of the public roots
    /// (`SHOP_REDIS_CA_FILE`).
    pub redis_ca_file: Option<PathBuf>,
    pub amqp_url: Option<SecretString>,
    pub jwt_secret: Option<SecretString>,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub tax_rate: TaxRate,
    /// A sale leaving a product with at most this many units emits `StockLow`.
    pub low_stock_threshold: i64,
    /// Seed the demo catalog and admin into an empty embedded database.
    pub demo_seed: bool,
    pub shutdown_grace_seconds: u64,
    /// `SHOP_MAINTENANCE=read-only`: the API answers writes with 503 and `Retry-After` while a
    /// restore replaces the database (the operator sets it); reads and readiness stay up.
    pub maintenance_read_only: bool,
    /// Requests per minute per client IP on `/api/v1`; 0 turns the limit off.
    pub rate_limit_per_minute: u64,
    /// Requests per minute per client IP on the payment webhooks, counted apart from
    /// `rate_limit_per_minute` so a provider's burst of retries never eats the customers' budget;
    /// 0 turns the limit off.
    pub webhook_rate_limit_per_minute: u64,
    /// Use the first `X-Forwarded-For` address as the client IP (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Checkout needs an account whose e-mail address is verified.
    pub require_verified_email: bool,
    /// What a product image upload may be (`SHOP_IMAGE_MAX_BYTES`, `SHOP_IMAGE_MAX_PIXELS`).
    pub image_limits: ImageLimits,
    /// Origins allowed by CORS; empty means no cross-origin access.
    pub cors_allowed_origins: Vec<String>,
    pub request_timeout_seconds: u64,
    /// Where `shop-api backup` stores backups when `--target` is not given: `file:///dir` or
    /// `s3://bucket/prefix`. Unset means `file://backups`, in the working directory.
    pub backup_target: Option<String>,
    /// The S3 endpoint for `s3://` backup targets (MinIO, Ceph, ...); unset means AWS. An
    /// `http://` endpoint is allowed (a local or in-cluster object store). Credentials and
    /// region come from the usual `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`.
    pub backup_s3_endpoint: Option<String>,
    /// The `pg_dump` and `pg_restore` programs backups run (a name on `PATH` or a path).
    pub pg_dump: String,
    pub pg_restore: String,
    /// Where `shop-api backup create` writes its one-line JSON report (`--report-file` wins).
    pub backup_report_file: Option<PathBuf>,
    /// The workers' settings, for `shop-workers` and the workers embedded in `shop-api`.
    pub workers: WorkerSettings,
    /// The payment provider, its keys and the time an order may wait for its payment.
    pub payments: PaymentSettings,
}

impl Config {
    /// From the process environment. A variable that is not valid UTF-8 is an error naming it.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut env = HashMap::new();
        for setting in Self::settings() {
            match std::env::var(setting.name) {
                Ok(value) => {
                    env.insert(setting.name.to_owned(), value);
                }
                Err(std::env::VarError::NotPresent) => {}
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(ConfigError {
                        origin: setting.name.to_owned(),
                        message: "must be valid UTF-8".into(),
                    });
                }
            }
        }
        Self::from_vars(env)
    }

    /// From a given set of variables; `SHOP_CONFIG_FILE` among them names the optional file.
    pub fn from_vars(env: HashMap<String, String>) -> Result<Self, ConfigError> {
        let source = Source::new(env)?;
        source.reject_unknown_keys(&Self::settings())?;
        Self::read(&source)
    }

    /// Every setting of `shop-api` and `shop-workers`, in the order they are read, with its
    /// default: what the optional file may hold, and what the README documents. Derived by
    /// reading the defaults, so it cannot drift from the code that reads the values.
    pub fn settings() -> Vec<Setting> {
        let source = Source::default();
        // The defaults are valid (a test proves it), so every setting is read and recorded.
        let _ = Self::read(&source);
        let mut settings = vec![Setting {
            name: CONFIG_FILE,
            default: SettingDefault::Unset,
        }];
        settings.extend(source.into_settings());
        settings
    }

    /// The known variables that `get` answers, as a map for [`from_vars`](Self::from_vars).
    pub(crate) fn lookup(get: impl Fn(&str) -> Option<String>) -> HashMap<String, String> {
        Self::settings()
            .into_iter()
            .filter_map(|setting| get(setting.name).map(|value| (setting.name.to_owned(), value)))
            .collect()
    }

    fn read(source: &Source) -> Result<Self, ConfigError> {
        let database = source.get(
            "DATABASE_URL",
            SettingDefault::Value(DatabaseUrl::EMBEDDED_DEFAULT),
        );
        let database_is_default = database.is_none();
        let database_url = match database {
            Some((raw, origin)) => {
                DatabaseUrl::parse(&raw).map_err(|message| ConfigError { origin, message })?
            }
            None => DatabaseUrl(SecretString::from(DatabaseUrl::EMBEDDED_DEFAULT.to_owned())),
        };
        Ok(Self {
            http_addr: source.parse("SHOP_HTTP_ADDR", "0.0.0.0:8080")?,
            grpc_addr: source.parse("SHOP_GRPC_ADDR", "0.0.0.0:50051")?,
            demo_seed: source.parse_or(
                "SHOP_DEMO_SEED",
                SettingDefault::Described("`true` without `DATABASE_URL`, else `false`"),
                database_is_default,
            )?,
            database_url,
            database_is_default,
            db_max_connections: source.parse_in("SHOP_DB_MAX_CONNECTIONS", "10", 1..=1_000)?,
            redis_url: source.url(
                "REDIS_URL",
                SettingDefault::Unset,
                &["redis://", "rediss://"],
            )?,
            redis_ca_file: source.optional("SHOP_REDIS_CA_FILE").map(PathBuf::from),
            amqp_url: source.url("AMQP_URL", SettingDefault::Unset, &["amqp://", "amqps://"])?,
            jwt_secret: source.secret("SHOP_JWT_SECRET", SettingDefault::Unset, 32)?,
            log_format: match source.string("SHOP_LOG_FORMAT", "text") {
                (format, _) if format == "text" => LogFormat::Text,
                (format, _) if format == "json" => LogFormat::Json,
                (_, origin) => {
                    return Err(ConfigError {
                        origin,
                        message: "must be text or json".into(),
                    });
                }
            },
            log_filter: source.string("SHOP_LOG", "info").0,
            tax_rate: {
                let basis_points: u32 = source.parse("SHOP_TAX_RATE_BPS", "0")?;
                TaxRate::from_basis_points(basis_points).map_err(|error| ConfigError {
                    origin: source.origin("SHOP_TAX_RATE_BPS"),
                    message: error.0,
                })?
            },
            low_stock_threshold: source.parse_in(
                "SHOP_LOW_STOCK_THRESHOLD",
                "5",
                0..=1_000_000_000,
            )?,
            shutdown_grace_seconds: source.parse_in(
                "SHOP_SHUTDOWN_GRACE_SECONDS",
                "25",
                0..=3_600,
            )?,
            maintenance_read_only: match source.string("SHOP_MAINTENANCE", "off") {
                (mode, _) if mode == "off" => false,
                (mode, _) if mode == "read-only" => true,
                (_, origin) => {
                    return Err(ConfigError {
                        origin,
                        message: "must be off or read-only".into(),
                    });
                }
            },
            rate_limit_per_minute: source.parse_in(
                "SHOP_RATE_LIMIT_PER_MINUTE",
                "100",
                0..=1_000_000,
            )?,
            webhook_rate_limit_per_minute: source.parse_in(
                "SHOP_WEBHOOK_RATE_LIMIT_PER_MINUTE",
                "600",
                0..=1_000_000,
            )?,
            trust_forwarded_for: source.parse("SHOP_TRUST_FORWARDED_FOR", "false")?,
            require_verified_email: source.parse("SHOP_REQUIRE_VERIFIED_EMAIL", "false")?,
            image_limits: ImageLimits {
                max_bytes: source.parse_in(
                    "SHOP_IMAGE_MAX_BYTES",
                    "10485760",
                    1_024..=MAX_IMAGE_BYTES,
                )?,
                max_pixels: source.parse_in(
                    "SHOP_IMAGE_MAX_PIXELS",
                    "25000000",
                    1..=200_000_000,
                )?,
                max_per_product: ImageLimits::MAX_PER_PRODUCT,
            },
            cors_allowed_origins: {
                let (origins, origin) = source.list("SHOP_CORS_ALLOWED_ORIGINS");
                if let Some(bad) = origins
                    .iter()
                    .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
                {
                    return Err(ConfigError {
                        origin,
                        message: format!("{bad:?} is not an origin like https://shop.example.com"),
                    });
                }
                origins
            },
            request_timeout_seconds: source.parse_in(
                "SHOP_REQUEST_TIMEOUT_SECONDS",
                "30",
                1..=3_600,
            )?,
            backup_target: match source.get(
                "SHOP_BACKUP_TARGET",
                SettingDefault::Described("`file://backups`"),
            ) {
                None => None,
                Some((raw, origin)) => Some(
                    validate_backup_target(&raw)
                        .map_err(|message| ConfigError { origin, message })?,
                ),
            },
            backup_s3_endpoint: source
                .url(
                    "SHOP_BACKUP_S3_ENDPOINT",
                    SettingDefault::Described("unset (AWS)"),
                    &["http://", "https://"],
                )?
                .map(|url| url.expose_secret().to_owned()),
            backup_report_file: source
                .optional("SHOP_BACKUP_REPORT_FILE")
                .map(PathBuf::from),
            pg_dump: source.string("SHOP_PG_DUMP", "pg_dump").0,
            pg_restore: source.string("SHOP_PG_RESTORE", "pg_restore").0,
            workers: WorkerSettings::read(source)?,
            payments: PaymentSettings::read(source, !database_is_default)?,
        })
    }
}

/// A backup target URL: `file:///absolute/dir`, `file://relative/dir` or `s3://bucket[/prefix]`.
pub fn validate_backup_target(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let ok = match (raw.strip_prefix("file://"), raw.strip_prefix("s3://")) {
        (Some(path), _) => !path.is_empty(),
        (_, Some(bucket)) => !bucket.is_empty() && !bucket.starts_with('/'),
        _ => false,
    };
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "invalid value {raw:?}: must be file:///directory or s3://bucket/prefix"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(
            vars.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn defaults_to_the_embedded_shop() {
        let config = config(&[]).expect("defaults are valid");
        assert_eq!(config.http_addr.port(), 8080);
        assert_eq!(config.grpc_addr.port(), 50051);
        assert!(config.database_url.is_sqlite() && config.database_is_default && config.demo_seed);
    }

    #[test]
    fn errors_name_the_variable() {
        let error = config(&[("SHOP_HTTP_ADDR", "nowhere")]).expect_err("invalid");
        assert_eq!(error.origin, "SHOP_HTTP_ADDR");
        assert!(
            error
                .to_string()
                .starts_with("SHOP_HTTP_ADDR: invalid value \"nowhere\"")
        );
        for (name, value) in [
            ("DATABASE_URL", "mysql://x"),
            ("REDIS_URL", "http://x"),
            ("SHOP_DB_MAX_CONNECTIONS", "0"),
            ("SHOP_LOG_FORMAT", "xml"),
            ("SHOP_TAX_RATE_BPS", "20000"),
            ("SHOP_JWT_SECRET", "short"),
            ("SHOP_DEMO_SEED", "maybe"),
            ("SHOP_RATE_LIMIT_PER_MINUTE", "-1"),
            ("SHOP_CORS_ALLOWED_ORIGINS", "example.com"),
            ("SHOP_REQUEST_TIMEOUT_SECONDS", "0"),
            ("SHOP_BACKUP_TARGET", "/backups"),
            ("SHOP_BACKUP_S3_ENDPOINT", "minio:9000"),
            ("SHOP_MAINTENANCE", "on"),
        ] {
            assert_eq!(config(&[(name, value)]).expect_err(name).origin, name);
        }
    }

    #[test]
    fn maintenance_is_off_unless_read_only_is_asked_for() {
        assert!(!config(&[]).expect("valid").maintenance_read_only);
        let read_only = config(&[("SHOP_MAINTENANCE", "read-only")]).expect("valid");
        assert!(read_only.maintenance_read_only);
        let off = config(&[("SHOP_MAINTENANCE", "off")]).expect("valid");
        assert!(!off.maintenance_read_only);
    }

    #[test]
    fn backup_targets_are_file_or_s3_urls() {
        assert_eq!(config(&[]).expect("valid").backup_target, None);
        let config_with = |target| config(&[("SHOP_BACKUP_TARGET", target)]);
        assert_eq!(
            config_with("file:///backups")
                .expect("valid")
                .backup_target
                .as_deref(),
            Some("file:///backups")
        );
        assert!(config_with("s3://bucket/shop").is_ok());
        for bad in ["file://", "s3://", "s3:///x", "ftp://host/x", "backups"] {
            let error = config_with(bad).expect_err(bad);
            assert_eq!(error.origin, "SHOP_BACKUP_TARGET");
            assert!(error.message.contains("file:///directory"), "{error}");
        }
        let tools = config(&[("SHOP_PG_DUMP", "/opt/pg/bin/pg_dump")]).expect("valid");
        assert_eq!(
            (tools.pg_dump.as_str(), tools.pg_restore.as_str()),
            ("/opt/pg/bin/pg_dump", "pg_restore")
        );
    }

    #[test]
    fn postgres_does_not_seed_demo_data_unless_asked() {
        let url = ("DATABASE_URL", "postgres://shop:hunter2@db:5432/shop");
        assert!(!config(&[url]).expect("valid").demo_seed);
        assert!(
            config(&[url, ("SHOP_DEMO_SEED", "true")])
                .expect("valid")
                .demo_seed
        );
    }

    #[test]
    fn another_database_on_the_same_server() {
        let other = |url: &str, name: &str| {
            DatabaseUrl::parse(url)
                .expect("valid")
                .with_database(name)
                .expose()
                .to_owned()
        };
        assert_eq!(
            other("postgres://u:p@db:5432/admin?sslmode=disable", "t"),
            "postgres://u:p@db:5432/t?sslmode=disable"
        );
        assert_eq!(
            other("postgres://postgres@127.0.0.1:5432/postgres", "shop_test_1"),
            "postgres://postgres@127.0.0.1:5432/shop_test_1"
        );
        assert_eq!(other("postgres://db", "t"), "postgres://db/t");
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        let file = |url: &str| {
            DatabaseUrl::parse(url)
                .expect("valid")
                .sqlite_file()
                .map(str::to_owned)
        };
        assert_eq!(
            file("sqlite://shop.db?mode=rwc").as_deref(),
            Some("shop.db")
        );
        assert_eq!(
            file("sqlite:/var/lib/shop.db").as_deref(),
            Some("/var/lib/shop.db")
        );
        assert_eq!(file("sqlite::memory:"), None);
        assert_eq!(file("postgres://db/shop"), None);
    }

    #[test]
    fn secrets_never_print() {
        let config = config(&[
            (
                "DATABASE_URL",
                "postgres://shop:hunter2@db:5432/shop?sslmode=require",
            ),
            (
                "SHOP_JWT_SECRET",
                "0123456789abcdef0123456789abcdef-top-secret",
            ),
        ])
        .expect("valid");
        let printed = format!("{config:?}");
        assert!(
            !printed.contains("hunter2") && !printed.contains("top-secret"),
            "{printed}"
        );
        assert_eq!(config.database_url.redacted(), "postgres://db:5432/shop");
    }

    #[test]
    fn reads_a_file_and_lets_the_environment_win() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("shop.toml");
        std::fs::write(
            &path,
            "http_addr = \"127.0.0.1:9000\"\ndb_max_connections = 3\ntax_rate_bps = 700\n",
        )
        .expect("write");
        let file = path.to_str().expect("utf-8");
        let config =
            config(&[("SHOP_CONFIG_FILE", file), ("SHOP_DB_MAX_CONNECTIONS", "5")]).expect("valid");
        assert_eq!(config.http_addr.port(), 9000);
        assert_eq!(config.db_max_connections, 5);
        assert_eq!(config.tax_rate.basis_points(), 700);
    }

    #[test]
    fn file_errors_name_the_key_and_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("shop.toml");
        std::fs::write(&path, "grpc_addr = \"oops\"\n").expect("write");
        let error =
            config(&[("SHOP_CONFIG_FILE", path.to_str().expect("utf-8"))]).expect_err("invalid");
        assert!(
            error.origin.contains("grpc_addr") && error.origin.contains("shop.toml"),
            "{error}"
        );
        std::fs::write(&path, "colour = \"blue\"\n").expect("write");
        let error = config(&[("SHOP_CONFIG_FILE", path.to_str().expect("utf-8"))])
            .expect_err("unknown key");
        assert!(error.message.contains("unknown key `colour`"), "{error}");
    }

    #[test]
    fn settings_list_every_variable_once_with_its_default() {
        let settings = Config::settings();
        let default_of = |name: &str| {
            let found: Vec<&Setting> = settings.iter().filter(|s| s.name == name).collect();
            assert_eq!(found.len(), 1, "{name} is listed once: {settings:?}");
            found[0].documented_default()
        };
        assert_eq!(default_of("SHOP_CONFIG_FILE"), "unset");
        assert_eq!(default_of("SHOP_HTTP_ADDR"), "`0.0.0.0:8080`");
        assert_eq!(default_of("DATABASE_URL"), "`sqlite://shop.db`");
        assert_eq!(default_of("SHOP_CORS_ALLOWED_ORIGINS"), "empty");
        assert_eq!(default_of("SHOP_SMTP_PORT"), "`587`");
        assert_eq!(default_of("SHOP_WORKER_CONCURRENCY"), "`10`");
        assert_eq!(
            default_of("SHOP_NOTIFY_WEBHOOK_SECRET"),
            "required with URLs"
        );
    }

    #[test]
    fn worker_settings_are_typed_and_named_in_errors() {
        let workers = config(&[]).expect("defaults are valid").workers;
        assert_eq!(workers.process.concurrency, 10);
        assert_eq!(workers.process.metrics_addr.port(), 9100);
        assert_eq!(workers.invoice.dir, PathBuf::from("./var/invoices"));
        assert_eq!(workers.email.mail_dir, PathBuf::from("./var/mail"));
        assert!(workers.email.smtp_starttls && workers.email.smtp_port == 587);
        assert!(workers.notification.webhook_urls.is_empty());
        let urls = config(&[(
            "SHOP_NOTIFY_WEBHOOK_URLS",
            " https://a.example/hook , ,http://b.example ",
        )])
        .expect("valid");
        assert_eq!(
            urls.workers.notification.webhook_urls,
            ["https://a.example/hook", "http://b.example"]
        );
        for (name, value) in [
            ("SHOP_WORKER_CONCURRENCY", "0"),
            ("SHOP_WORKERS_METRICS_ADDR", "nowhere"),
            ("SHOP_SMTP_PORT", "smtp"),
            ("SHOP_SMTP_PORT", "0"),
            ("SHOP_SMTP_STARTTLS", "yes"),
        ] {
            assert_eq!(config(&[(name, value)]).expect_err(name).origin, name);
        }
    }

    #[test]
    fn the_file_holds_worker_settings_but_not_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("shop.toml");
        let file = path.to_str().expect("utf-8");
        std::fs::write(&path, "mail_dir = \"/tmp/mail\"\nsmtp_port = 2525\n").expect("write");
        let workers = config(&[("SHOP_CONFIG_FILE", file)])
            .expect("valid")
            .workers;
        assert_eq!(workers.email.mail_dir, PathBuf::from("/tmp/mail"));
        assert_eq!(workers.email.smtp_port, 2525);
        let from_lookup = WorkerSettings::from_lookup(|name| {
            (name == "SHOP_CONFIG_FILE").then(|| file.to_owned())
        })
        .expect("valid");
        assert_eq!(from_lookup.email.smtp_port, 2525);
        std::fs::write(&path, "smtp_port = 0\n").expect("write");
        let error = config(&[("SHOP_CONFIG_FILE", file)]).expect_err("invalid");
        assert!(
            error
                .origin
                .starts_with("SHOP_SMTP_PORT (key `smtp_port` in "),
            "{error}"
        );
        std::fs::write(&path, "config_file = \"other.toml\"\n").expect("write");
        let error = config(&[("SHOP_CONFIG_FILE", file)]).expect_err("unknown key");
        assert!(
            error.message.contains("unknown key `config_file`"),
            "{error}"
        );
    }
}
