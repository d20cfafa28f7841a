//! A `shop-workers` process started by a test, and the metrics address it announced.

use std::{net::SocketAddr, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader},
    process::{Child, ChildStdout, Command},
    task::JoinHandle,
};

/// A running `shop-workers`.
pub struct Running {
    child: Child,
    address: SocketAddr,
    _stdout: BufReader<ChildStdout>,
    stderr: JoinHandle<String>,
}

/// Why it did not start: its exit code and what it logged.
pub struct NotStarted {
    pub code: Option<i32>,
    pub stderr: String,
}

impl Running {
    /// Starts `command` and waits (up to a minute) for `metrics listening on ADDRESS`.
    pub async fn start(mut command: Command) -> Result<Self, NotStarted> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the command");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut stderr_pipe = child.stderr.take().expect("stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text).await;
            text
        });
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let mut line = String::new();
                if stdout.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return None;
                }
                if let Some(address) = line.trim().strip_prefix("metrics listening on ") {
                    return address.parse::<SocketAddr>().ok();
                }
            }
        })
        .await;
        if let Ok(Some(address)) = address {
            return Ok(Self {
                child,
                address,
                _stdout: stdout,
                stderr,
            });
        }
        let _ = child.start_kill();
        let code = child.wait().await.ok().and_then(|status| status.code());
        let stderr = stderr.await.unwrap_or_default();
        Err(NotStarted { code, stderr })
    }

    /// A URL of its metrics server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// SIGTERM, as Kubernetes sends it; the exit code and what it logged.
    pub async fn terminate(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().expect("running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("shop-workers stops after SIGTERM")
            .expect("wait");
        (status.code(), self.stderr.await.unwrap_or_default())
    }
}
