//! The real `shop-api serve` with a read-only working directory, as on Kubernetes
//! (`readOnlyRootFilesystem: true`): under the embedded default (no `AMQP_URL`) the workers run
//! in the process, and a worker folder that cannot be written to is a configuration error like
//! any other: exit code 2 and a message naming the setting, before anything is served.
//!
//! The working directory is made read-only for real, as in `shop-workers`' own tests: the binary
//! runs under `unshare --mount --map-root-user` in a temporary folder bind-mounted onto itself
//! and remounted read-only. Where the sandbox cannot be made, the tests fail and say why.

use std::{path::Path, time::Duration};

use shop_testing::read_only;

/// `shop-api serve` with only `env` set, its working directory the read-only `cwd`; exit code
/// and standard error.
async fn serve_in_read_only_cwd(cwd: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = read_only::command(cwd, env!("CARGO_BIN_EXE_shop-api"));
    command
        .arg("serve")
        .env("SHOP_HTTP_ADDR", "127.0.0.1:0")
        .env("SHOP_GRPC_ADDR", "127.0.0.1:0");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(90), command.output())
        .await
        .expect("shop-api stops at once")
        .expect("run unshare (util-linux) for the read-only sandbox");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    read_only::assert_sandbox_ran(output.status.code(), &stderr);
    (output.status.code(), stderr)
}

#[tokio::test]
async fn embedded_workers_with_default_folders_exit_2_naming_the_setting() {
    let cwd = tempfile::tempdir().expect("a folder to mount read-only");
    let data = tempfile::tempdir().expect("a writable folder");
    let database = format!("sqlite://{}/shop.db", data.path().display());
    let mail = data.path().join("mail").display().to_string();
    let base = [
        ("DATABASE_URL", database.as_str()),
        (
            "SHOP_JWT_SECRET",
            "read-only-tests-secret-long-enough-for-hs256",
        ),
    ];

    let (code, stderr) = serve_in_read_only_cwd(cwd.path(), &base).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "error: SHOP_MAIL_DIR: cannot create ./var/mail: Read-only file system \
             (os error 30); point it at a writable volume or set SHOP_SMTP_HOST"
        ),
        "{stderr}"
    );

    // With the mail on a writable volume, the invoices are next.
    let with_mail = [base[0], base[1], ("SHOP_MAIL_DIR", mail.as_str())];
    let (code, stderr) = serve_in_read_only_cwd(cwd.path(), &with_mail).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "error: SHOP_INVOICE_DIR: cannot create ./var/invoices: Read-only file system \
             (os error 30); point it at a writable volume or set SHOP_INVOICE_BUCKET"
        ),
        "{stderr}"
    );
}
