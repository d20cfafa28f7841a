//! A `redis-server` that speaks TLS only (plain TCP off), as managed Redis services run, with a
//! throwaway CA and a server certificate for `localhost` and 127.0.0.1 made by the `openssl`
//! command. Debian's `redis-server` 7 has TLS built in. Killed, and its files removed, on drop.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::process::{Child, Command};

/// A running TLS-only Redis and the files of its certificates.
#[derive(Debug)]
pub struct TlsRedis {
    dir: PathBuf,
    port: u16,
    _child: Child,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `ca.pem` and `other-ca.pem` (which signed nothing), and `server.pem`/`server.key` signed by
/// `ca.pem` for `localhost` and 127.0.0.1.
fn certificates(dir: &Path) {
    for ca in ["ca", "other-ca"] {
        let subject = format!("/CN=shop test {ca}");
        let (key, cert) = (format!("{ca}.key"), format!("{ca}.pem"));
        openssl(
            dir,
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", &subject,
                "-keyout", &key, "-out", &cert,
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("write the extension file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}

impl TlsRedis {
    /// Makes the certificates and starts the server on a free port; returns once it accepts
    /// connections.
    ///
    /// # Panics
    ///
    /// When openssl or redis-server is missing, or the server does not start.
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("shop-tls-redis-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a folder for the certificates");
        certificates(&dir);
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("its address")
            .port();
        let child = Command::new("redis-server")
            .current_dir(&dir)
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args([
                "--tls-cert-file",
                "server.pem",
                "--tls-key-file",
                "server.key",
            ])
            .args(["--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server with TLS did not start on port {port} (is it built with TLS?)"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            dir,
            port,
            _child: child,
        }
    }

    /// `rediss://localhost:<port>`: the name the server's certificate carries.
    pub fn url(&self) -> String {
        format!("rediss://localhost:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A CA that signed nothing the server has.
    pub fn other_ca_file(&self) -> PathBuf {
        self.dir.join("other-ca.pem")
    }

    /// The folder of the certificates (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
