//! Test support shared by the workspace's test suites, and only by them (a dev-dependency; never
//! published): a fresh Postgres database per test, dropped when the test ends even on panic, and
//! Redis URLs and key prefixes of their own.
//!
//! Postgres is reached at `SHOP_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), Redis at `SHOP_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`).

pub mod fake_http;
pub mod fake_midtrans;
pub mod fake_stripe;
pub mod otlp;
pub mod read_only;
pub mod smtp;
pub mod tls_redis;

use shop_core::config::DatabaseUrl;
use std::{
    str::FromStr as _,
    sync::Once,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use sqlx::{Connection as _, Executor as _, PgConnection};
use uuid::Uuid;

const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Test databases older than this are leftovers of killed runs and are dropped.
const STALE_AFTER: Duration = Duration::from_secs(60 * 60);

/// Leftover databases are looked for once per test process, not once per test.
static DROP_STALE: Once = Once::new();

/// A fresh, empty Postgres database `shop_test_<UUIDv7>` for one test, dropped `WITH (FORCE)`
/// (connections and all) when this goes out of scope, also when the test panics.
#[derive(Debug)]
pub struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// Creates the database through the admin URL (`SHOP_TEST_PG_URL`); first drops the
    /// leftovers of killed runs, once per process.
    ///
    /// # Panics
    ///
    /// When Postgres cannot be reached or the database cannot be created.
    pub async fn create() -> Self {
        let admin_url = pg_admin_url();
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|error| {
                panic!("Postgres must run at {admin_url} (set SHOP_TEST_PG_URL): {error}")
            });
        let mut first = false;
        DROP_STALE.call_once(|| first = true);
        if first {
            drop_stale_databases(&mut admin).await;
        }
        // UUIDv7: the name tells when a leftover was created.
        let name = format!("shop_test_{}", Uuid::now_v7().simple());
        // Production databases usually sort text linguistically (ICU or glibc locales), not by
        // bytes like SQLite and the `C` locale; the tests run on such a database so that anything
        // left to the database's collation shows up as a difference between the backends.
        let linguistic = format!(
            "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' \
             LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
        );
        if let Err(error) = admin.execute(linguistic.as_str()).await {
            eprintln!("no ICU collation ({error}); the test database sorts text by bytes");
            admin
                .execute(format!("CREATE DATABASE \"{name}\"").as_str())
                .await
                .expect("create the test database");
        }
        admin.close().await.expect("close the admin connection");
        let url = DatabaseUrl::parse(&admin_url)
            .expect("SHOP_TEST_PG_URL is a postgres:// URL")
            .with_database(&name)
            .expose()
            .to_owned();
        Self {
            admin_url,
            name,
            url,
        }
    }

    /// The database's name, `shop_test_<UUIDv7 without hyphens>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The admin URL with its database replaced by this one, keeping any query string.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's URL with a password added: trust authentication ignores it, so it shows
    /// whether the password would leak into output.
    pub fn url_with_password(&self, password: &str) -> String {
        with_password(&self.url, password)
    }

    /// A connection to the database.
    ///
    /// # Panics
    ///
    /// When it cannot connect.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    /// Drops the database now, cutting every connection to it.
    ///
    /// # Panics
    ///
    /// When the database cannot be dropped.
    pub async fn drop_now(&self) {
        let mut admin = PgConnection::connect(&self.admin_url)
            .await
            .expect("connect as admin");
        admin
            .execute(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name).as_str())
            .await
            .expect("drop the test database");
        let _ = admin.close().await;
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with a
        // runtime of its own can.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// Where a test of the API runs, for harnesses that run each test on both (see
/// [`on_both_backends!`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in a temporary directory and the in-process key-value store.
    Embedded,
    /// A fresh Postgres database and Redis under a unique key prefix.
    PostgresRedis,
}

/// Instantiates each test once per backend, as `<module>::embedded::<name>` and
/// `<module>::postgres_redis::<name>`; the test function takes the [`Backend`].
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::Embedded).await
                }
            )*
        }

        mod postgres_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Backend::PostgresRedis).await
                }
            )*
        }
    };
}

/// The URL test databases are created and dropped through: `SHOP_TEST_PG_URL`, or the local
/// server as `postgres`.
pub fn pg_admin_url() -> String {
    env_or("SHOP_TEST_PG_URL", DEFAULT_PG_ADMIN_URL)
}

/// The Redis the tests use: `SHOP_TEST_REDIS_URL`, or the local server.
pub fn redis_url() -> String {
    env_or("SHOP_TEST_REDIS_URL", DEFAULT_REDIS_URL)
}

/// A key prefix no other test uses, for a Redis-backed store (or two that share one Redis).
pub fn unique_redis_prefix() -> String {
    format!("shop-test:{}:", Uuid::now_v7().simple())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// `url` with `password` as its user's password (user `postgres` when it names none).
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let (userinfo, host) = rest.rsplit_once('@').unwrap_or(("postgres", rest));
    let user = userinfo.split(':').next().unwrap_or(userinfo);
    format!("{scheme}://{user}:{password}@{host}")
}

/// Drops `shop_test_*` databases left behind by runs that were killed before their guards ran.
/// Their names are UUIDv7s, which carry their creation time, so running tests are left alone.
async fn drop_stale_databases(admin: &mut PgConnection) {
    let Ok(names) = sqlx::query_as::<_, (String,)>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'shop\\_test\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    else {
        return;
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    for (name,) in names {
        let Some(created_ms) = name
            .strip_prefix("shop_test_")
            .and_then(|id| Uuid::from_str(id).ok())
            .and_then(|id| id.get_timestamp())
            .map(|ts| {
                let (secs, nanos) = ts.to_unix();
                u128::from(secs) * 1_000 + u128::from(nanos / 1_000_000)
            })
        else {
            continue;
        };
        if now_ms.saturating_sub(created_ms) > STALE_AFTER.as_millis() {
            // Another process may be dropping it at the same time: failures don't matter.
            let _ = admin
                .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_password;

    #[test]
    fn with_password_sets_the_users_password() {
        assert_eq!(
            with_password("postgres://postgres@127.0.0.1:5432/t", "hunter2"),
            "postgres://postgres:hunter2@127.0.0.1:5432/t"
        );
        assert_eq!(
            with_password("postgres://u:old@db/t", "new"),
            "postgres://u:new@db/t"
        );
        assert_eq!(
            with_password("postgres://db/t", "pw"),
            "postgres://postgres:pw@db/t"
        );
    }
}

/// A RabbitMQ virtual host of its own for one test, deleted when dropped, so that tests running
/// in parallel on one broker never see each other's exchanges, queues or messages while using
/// the real names (`shop.events`, `email`, ...).
///
/// Created with `rabbitmqctl` (the broker on this machine has no management plugin); the broker
/// is the one at `AMQP_TEST_URL`'s host, by default `amqp://guest:guest@127.0.0.1:5672`.
#[derive(Debug)]
pub struct RabbitVhost {
    name: String,
    url: String,
}

impl RabbitVhost {
    /// Creates `test_<uuidv7>` and grants the `guest` user everything in it.
    pub fn create() -> Self {
        let name = format!("test_{}", Uuid::now_v7().simple());
        rabbitmqctl(&["add_vhost", &name]);
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"]);
        let base = std::env::var("AMQP_TEST_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".to_owned());
        let url = format!("{}/{name}", base.trim_end_matches('/'));
        Self { name, url }
    }

    /// The vhost's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// An `amqp://` URL that connects to this vhost.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for RabbitVhost {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["delete_vhost", &self.name])
            .output();
    }
}

fn rabbitmqctl(args: &[&str]) {
    let output = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs (is RabbitMQ installed and started?)");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
