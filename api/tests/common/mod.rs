//! Helpers for driving the real `shop-api` binary: run a command to completion, or start the
//! server, wait for the line that announces its address, and stop it with SIGTERM. Postgres tests
//! each get a fresh database from `shop_testing::PgDatabase`, dropped afterwards.

#![allow(dead_code)] // Each test binary uses its own subset.

pub mod journey;

use std::{net::SocketAddr, path::Path, process::Stdio, time::Duration};

use shop_core::{
    adapters,
    app::{Actor, ListProducts, Shop, ShopSettings},
    config::DatabaseUrl,
};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    process::{Child, ChildStdout, Command},
    task::JoinHandle,
};

/// Generous: a cold debug build on a busy 2-core machine is slow to migrate and seed.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
/// A shutdown with no requests in flight should be near-instant; this only bounds a hang.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// `shop-api` with a clean environment (no stray `DATABASE_URL` or `SHOP_*` from the caller, no
/// `RUST_BACKTRACE`), run in `dir`, with the given variables (and gRPC on a free port).
pub fn shop_api(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shop-api"));
    command
        .env_clear()
        .current_dir(dir)
        .args(args)
        .kill_on_drop(true);
    // Tests run in parallel: the gRPC server gets a free port unless a test picks one.
    command.env("SHOP_GRPC_ADDR", "127.0.0.1:0");
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Everything the command said, for assertion messages.
    pub fn transcript(&self) -> String {
        format!(
            "exit code {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a command to completion; `stdin` is piped in when given, `/dev/null` otherwise.
pub async fn run(mut command: Command, stdin: Option<&str>) -> Finished {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start shop-api");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(input.as_bytes())
            .await
            .expect("write to stdin");
        drop(pipe);
    }
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .expect("shop-api finishes in time")
        .expect("wait for shop-api");
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A running `shop-api serve`.
pub struct Server {
    child: Child,
    pub address: SocketAddr,
    /// Lines printed up to and including `listening on ...`.
    pub banner: Vec<String>,
    stdout: BufReader<ChildStdout>,
    stderr: JoinHandle<String>,
}

impl Server {
    /// Starts the server and returns once it has announced its address (no sleeping: the line
    /// is printed after the socket is bound, so the server accepts connections from then on).
    pub async fn start(mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start shop-api serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        // Drained all along, so a chatty log can never fill the pipe and stall the server.
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text).await;
            text
        });
        let mut banner = Vec::new();
        let found = tokio::time::timeout(START_TIMEOUT, async {
            loop {
                let mut line = String::new();
                match stdout.read_line(&mut line).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
                let line = line.trim_end().to_owned();
                let address = line
                    .strip_prefix("listening on http://")
                    .map(|address| address.parse::<SocketAddr>().expect("a socket address"));
                banner.push(line);
                if address.is_some() {
                    return address;
                }
            }
        })
        .await;
        match found {
            Ok(Some(address)) => Self {
                child,
                address,
                banner,
                stdout,
                stderr,
            },
            outcome => {
                let _ = child.start_kill();
                let status = child.wait().await;
                let stderr = stderr.await.unwrap_or_default();
                panic!(
                    "shop-api did not announce its address ({}); status {status:?}\n\
                     --- stdout\n{}\n--- stderr\n{stderr}",
                    if outcome.is_err() {
                        "timed out"
                    } else {
                        "stdout closed"
                    },
                    banner.join("\n")
                );
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The banner line that starts with `prefix`, without the prefix.
    pub fn banner_value(&self, prefix: &str) -> Option<&str> {
        self.banner
            .iter()
            .find_map(|line| line.strip_prefix(prefix))
    }

    /// Sends SIGTERM, as Kubernetes does, and waits for the process to end.
    pub async fn terminate(mut self) -> Finished {
        let pid = self.child.id().expect("the server is still running");
        // The shell's built-in `kill`: no extra crate, and no need for procps to be installed.
        let sent = std::process::Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let status = tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .expect("the server stops promptly after SIGTERM")
            .expect("wait for the server");
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest).await;
        Finished {
            code: status.code(),
            stdout: rest,
            stderr: self.stderr.await.unwrap_or_default(),
        }
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

/// Opens a database the way the server does, to check what a command left in it.
pub async fn open_shop(url: &str) -> Shop {
    let url = DatabaseUrl::parse(url).expect("a database URL");
    let store = adapters::connect(&url, 2)
        .await
        .expect("connect to the test database");
    Shop::new(store, ShopSettings::default())
}

/// Every product, active or not, paging through the listing.
pub async fn count_products(shop: &Shop) -> usize {
    let mut count = 0;
    let mut cursor = None;
    loop {
        let page = shop
            .list_products(
                &Actor::System,
                ListProducts {
                    include_inactive: Some(true),
                    limit: Some(100),
                    cursor: cursor.take(),
                    ..ListProducts::default()
                },
            )
            .await
            .expect("list products");
        count += page.items.len();
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return count,
        }
    }
}

pub async fn count_users(shop: &Shop) -> u64 {
    shop.store().count_users().await.expect("count users")
}
