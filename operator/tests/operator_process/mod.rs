//! The real `shop-operator` binary run against the API double (a module of the test suites
//! only: `env!("CARGO_BIN_EXE_…")` exists for them, not for the examples that share
//! `apiserver/`): started with a kubeconfig for
//! it, its JSON log lines collected, killed when dropped unless the test stopped it.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::apiserver::ApiServer;
use crate::apiserver::controllers::eventually;

#[derive(Debug)]
pub struct OperatorProcess {
    /// For tests that signal it themselves.
    pub child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl OperatorProcess {
    /// `identity` is the pod name it holds the Lease in `lease_namespace` as.
    pub fn start(server: &ApiServer, dir: &Path, lease_namespace: &str, identity: &str) -> Self {
        let kubeconfig = server.write_kubeconfig(dir).expect("kubeconfig");
        let mut child = Command::new(env!("CARGO_BIN_EXE_shop-operator"))
            .args(["run", "--metrics-addr", "127.0.0.1:0"])
            .args(["--lease-namespace", lease_namespace, "--log-format", "json"])
            .env_clear()
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", dir)
            .env("POD_NAME", identity)
            .env("SHOP_LOG", "info,kube=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start shop-operator");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr piped");
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut sink) = sink.lock() {
                    sink.push(line);
                }
            }
        });
        Self { child, logs }
    }

    pub fn logs(&self) -> String {
        self.logs
            .lock()
            .map(|logs| logs.join("\n"))
            .unwrap_or_default()
    }

    /// The address of /metrics, if the log line that announces it is out.
    pub fn announced_metrics_address(&self) -> Option<SocketAddr> {
        self.logs.lock().ok()?.iter().find_map(|line| {
            let line: Value = serde_json::from_str(line).ok()?;
            if !line["message"].as_str()?.starts_with("serving /metrics") {
                return None;
            }
            line["addr"].as_str()?.parse().ok()
        })
    }

    /// The address of /metrics, once the log line that announces it is out.
    pub async fn metrics_address(&self) -> SocketAddr {
        eventually(
            Duration::from_secs(30),
            || format!("the operator never served /metrics; logs:\n{}", self.logs()),
            || async { self.announced_metrics_address() },
        )
        .await
    }
}
