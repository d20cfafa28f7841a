//! A real Prometheus (Debian's `prometheus` package) scraping the test's processes every second.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::dashboards::{NAMESPACE, SHOP};

/// The `prometheus` binary: on the PATH, else installed with apt-get when this runs as root (as
/// `scripts/test` and CI do); `None` when neither works.
pub fn binary() -> Option<PathBuf> {
    let found = || {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("prometheus"))
                .find(|candidate| candidate.is_file())
        })
    };
    if let Some(path) = found() {
        return Some(path);
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.starts_with(b"0\n"));
    if !root {
        return None;
    }
    eprintln!("prometheus is not installed; trying apt-get install -y prometheus");
    let installed = Command::new("apt-get")
        .args(["install", "-y", "-q", "prometheus"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    installed.then(found).flatten()
}

/// Where Prometheus scrapes what.
#[derive(Debug)]
pub struct Targets {
    /// `shop-api`, scraped as job `<shop>-api` (the API Service's name, the job a ServiceMonitor
    /// gives its targets); labelled `namespace` and `shop` as the operator's ServiceMonitors do.
    pub api: SocketAddr,
    /// `shop-workers`, job `<shop>-workers`, labelled the same.
    pub workers: SocketAddr,
    /// The operator: its backup series carry their own `namespace` and `shop` (honor_labels).
    pub operator: SocketAddr,
}

fn config(targets: &Targets, rule_files: &[PathBuf]) -> String {
    let rules: String = rule_files
        .iter()
        .map(|path| format!("  - '{}'\n", path.display()))
        .collect();
    let shop_job = |name: &str, address: SocketAddr| {
        format!(
            "- job_name: {SHOP}-{name}\n  static_configs:\n  - targets: ['{address}']\n    \
             labels: {{namespace: '{NAMESPACE}', shop: '{SHOP}'}}\n"
        )
    };
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n{rules}\
         scrape_configs:\n{api}{workers}\
         - job_name: shop-operator\n  honor_labels: true\n  static_configs:\n  \
           - targets: ['{operator}']\n",
        rules = if rules.is_empty() { "  []\n" } else { &rules },
        api = shop_job("api", targets.api),
        workers = shop_job("workers", targets.workers),
        operator = targets.operator,
    )
}

/// A running Prometheus, killed when dropped.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    address: SocketAddr,
    client: reqwest::Client,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a query returned.
#[derive(Debug)]
pub enum Answer {
    /// Parsed and evaluated; how many series (or 1 for a scalar).
    Data(usize),
    /// Refused: the error Prometheus gave.
    Error(String),
}

impl Prometheus {
    /// Writes the configuration (and the rule files) into `dir` and starts Prometheus on a free
    /// loopback port; returns once it is ready, or panics with what it logged.
    pub async fn start(
        binary: &Path,
        dir: &Path,
        targets: &Targets,
        rule_files: &BTreeMap<String, String>,
    ) -> Self {
        let mut rule_paths = Vec::new();
        for (name, text) in rule_files {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write a rule file");
            rule_paths.push(path);
        }
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config(targets, &rule_paths)).expect("write the config");
        let address = free_address();
        let log = dir.join("prometheus.log");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create the log"))
            .spawn()
            .expect("start prometheus");
        let mut prometheus = Self {
            child,
            address,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = prometheus
                .client
                .get(format!("http://{address}/-/ready"))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if ready {
                return prometheus;
            }
            let exited = prometheus.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "prometheus did not become ready (exit: {exited:?}); config:\n{}\nlog:\n{}",
                    std::fs::read_to_string(&config_path).unwrap_or_default(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs an instant query.
    pub async fn query(&self, expr: &str) -> Answer {
        let response = match self
            .client
            .get(format!("http://{}/api/v1/query", self.address))
            .query(&[("query", expr)])
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => return Answer::Error(format!("no answer: {error}")),
        };
        let body: Value = match response.json().await {
            Ok(body) => body,
            Err(error) => return Answer::Error(format!("not JSON: {error}")),
        };
        if body["status"] != "success" {
            return Answer::Error(format!(
                "{}: {}",
                body["errorType"].as_str().unwrap_or("error"),
                body["error"].as_str().unwrap_or("?")
            ));
        }
        let result = &body["data"]["result"];
        Answer::Data(match body["data"]["resultType"].as_str() {
            Some("scalar" | "string") => 1,
            _ => result.as_array().map_or(0, Vec::len),
        })
    }

    /// The scrape targets that are not up, with their last error.
    pub async fn unhealthy_targets(&self) -> Vec<String> {
        let Ok(response) = self
            .client
            .get(format!("http://{}/api/v1/targets", self.address))
            .send()
            .await
        else {
            return vec!["the targets API did not answer".to_owned()];
        };
        let body: Value = response.json().await.unwrap_or_default();
        body["data"]["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|target| target["health"] != "up")
            .map(|target| {
                format!(
                    "{} {}: {}",
                    target["scrapeUrl"].as_str().unwrap_or("?"),
                    target["health"].as_str().unwrap_or("?"),
                    target["lastError"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    /// Rule groups whose last evaluation failed.
    pub async fn rule_errors(&self) -> Vec<String> {
        let Ok(response) = self
            .client
            .get(format!("http://{}/api/v1/rules", self.address))
            .send()
            .await
        else {
            return vec!["the rules API did not answer".to_owned()];
        };
        let body: Value = response.json().await.unwrap_or_default();
        body["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
            .filter(|rule| rule["health"] == "err")
            .map(|rule| {
                format!(
                    "{}: {}",
                    rule["name"].as_str().unwrap_or("?"),
                    rule["lastError"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }
}

/// A loopback address nothing listens on right now.
fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}
