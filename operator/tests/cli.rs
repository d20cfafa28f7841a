//! The real binary: its flags, its error messages and exit codes, and the `crd` subcommand.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The binary with none of the operator's settings or any cluster configuration inherited from
/// the environment the tests run in.
fn operator() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shop-operator"));
    for variable in [
        "SHOP_OPERATOR_NAMESPACES",
        "SHOP_OPERATOR_METRICS_ADDR",
        "SHOP_OPERATOR_LEASE_NAME",
        "POD_NAMESPACE",
        "POD_NAME",
        "SHOP_LOG_FORMAT",
        "SHOP_LOG",
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
    ] {
        command.env_remove(variable);
    }
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("the binary starts")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn help_lists_every_flag_and_its_environment_variable() {
    let output = run(operator().arg("--help"));
    assert!(output.status.success());
    let help = stdout(&output);
    for expected in [
        "--namespaces",
        "SHOP_OPERATOR_NAMESPACES",
        "--metrics-addr",
        "SHOP_OPERATOR_METRICS_ADDR",
        "0.0.0.0:8081",
        "--lease-name",
        "SHOP_OPERATOR_LEASE_NAME",
        "--lease-namespace",
        "POD_NAMESPACE",
        "--log-format",
        "SHOP_LOG_FORMAT",
        "SHOP_LOG",
        "crd",
        "run",
    ] {
        assert!(help.contains(expected), "{expected} missing from\n{help}");
    }
}

#[test]
fn a_bad_metrics_address_fails_with_status_2_naming_the_flag() {
    for output in [
        run(operator().args(["run", "--metrics-addr", "localhost"])),
        run(operator().env("SHOP_OPERATOR_METRICS_ADDR", "8081")),
    ] {
        assert_eq!(output.status.code(), Some(2));
        let message = stderr(&output);
        assert!(message.contains("--metrics-addr"), "{message}");
        assert!(!message.contains("panicked"), "{message}");
    }
}

#[test]
fn a_bad_log_format_or_namespace_fails_with_status_2() {
    let output = run(operator().env("SHOP_LOG_FORMAT", "yaml"));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--log-format"),
        "{}",
        stderr(&output)
    );

    let output = run(operator().args(["--namespaces", "shop-a,Shop_B"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("Shop_B"), "{}", stderr(&output));
}

#[test]
fn run_without_any_cluster_configuration_fails_quickly_and_clearly() {
    let home = tempfile::tempdir().expect("temporary home");
    let started = Instant::now();
    let output = run(operator()
        .arg("run")
        .env("KUBECONFIG", home.path().join("missing-kubeconfig"))
        .env("HOME", home.path())
        .env("SHOP_LOG_FORMAT", "text"));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("cannot configure a Kubernetes client"),
        "{message}"
    );
    assert!(message.contains("missing-kubeconfig"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
}

/// A kubeconfig for an HTTPS API server on a local port nothing listens on.
fn unreachable_kubeconfig(dir: &Path) -> std::path::PathBuf {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let path = dir.join("kubeconfig");
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
         clusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:{closed_port}\n\
         contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n\
         users:\n- name: test\n  user:\n    token: not-a-real-token\n"
    );
    std::fs::write(&path, kubeconfig).expect("write kubeconfig");
    path
}

#[test]
fn run_against_an_unreachable_api_server_fails_in_the_crd_check_without_panicking() {
    // Also proves the TLS stack has a crypto provider: building the HTTPS client would panic
    // here if rustls could not pick one.
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = run(operator()
        .env("KUBECONFIG", unreachable_kubeconfig(dir.path()))
        .args(["--metrics-addr", "127.0.0.1:0", "--log-format", "text"]));
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("cannot read CRD shops.shop.dev"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
}

#[test]
fn crd_prints_the_four_crds_whatever_the_run_settings() {
    let output = run(operator()
        .arg("crd")
        .env("SHOP_OPERATOR_METRICS_ADDR", "not-an-address"));
    assert!(output.status.success(), "{}", stderr(&output));
    let yaml = stdout(&output);
    assert_eq!(yaml.matches("kind: CustomResourceDefinition").count(), 4);
    for name in [
        "shops.shop.dev",
        "workers.shop.dev",
        "backups.shop.dev",
        "restores.shop.dev",
    ] {
        assert!(yaml.contains(&format!("name: {name}")), "{name} missing");
    }
}
