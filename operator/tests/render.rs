//! `shop-operator render -f FILE…` on the real binary: every sample renders into objects the
//! official Kubernetes schemas accept (`k8s-validate --strict`), and an invalid resource is
//! refused with exit code 2 and a message naming the file and field, printing nothing.

mod common;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use common::{repo, tool};
use serde_json::Value;

fn render(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shop-operator"))
        .arg("render")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("write stdin");
    drop(input);
    child.wait_with_output().expect("the binary finishes")
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|document| serde::Deserialize::deserialize(document).expect("YAML"))
        .collect()
}

fn sample(name: &str) -> String {
    repo()
        .join("manifests/samples")
        .join(name)
        .to_str()
        .expect("UTF-8 path")
        .to_owned()
}

/// Renders `files` into the namespace `shop`, which must succeed.
fn rendered(files: &[String]) -> String {
    let mut args = vec!["--namespace".to_owned(), "shop".to_owned()];
    for file in files {
        args.extend(["-f".to_owned(), file.clone()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = render(&args, None);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_sample_renders_into_objects_the_kubernetes_schemas_accept() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // The email and invoice Worker samples need a Shop with SMTP and invoice storage: the full
    // sample's settings under the name `demo` they refer to.
    let full = std::fs::read_to_string(sample("shop-full.yaml")).expect("sample");
    let demo_with_settings = dir.path().join("demo-with-settings.yaml");
    std::fs::write(
        &demo_with_settings,
        full.replace("\n  name: shop\n", "\n  name: demo\n"),
    )
    .expect("write");
    let groups = [
        vec![
            sample("shop-minimal.yaml"),
            sample("worker-analytics.yaml"),
            sample("worker-notification.yaml"),
            sample("backup-scheduled.yaml"),
            sample("backup-once.yaml"),
            sample("backup-verified.yaml"),
            sample("restore-in-place.yaml"),
        ],
        vec![sample("restore-into-new-shop.yaml")],
        vec![sample("shop-full.yaml")],
        vec![sample("shop-cloudnativepg.yaml")],
        vec![
            demo_with_settings.to_str().expect("UTF-8 path").to_owned(),
            sample("worker-email.yaml"),
            sample("worker-invoice.yaml"),
            sample("worker-media.yaml"),
        ],
    ];
    let covered: Vec<String> = groups.iter().flatten().cloned().collect();
    for file in std::fs::read_dir(repo().join("manifests/samples")).expect("samples") {
        let file = file.expect("entry").path();
        let file = file.to_str().expect("UTF-8 path").to_owned();
        assert!(covered.contains(&file), "{file} is rendered by this test");
    }
    let stdout: String = groups.iter().map(|files| rendered(files)).collect();
    let objects = documents(&stdout);
    let names: Vec<String> = objects
        .iter()
        .map(|object| {
            format!(
                "{}/{}",
                object["kind"].as_str().unwrap_or("?"),
                object["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    // What each kind of resource becomes.
    for expected in [
        "ConfigMap/demo-config",
        "StatefulSet/demo-postgres",
        "Job/demo-migrate-",
        "Deployment/demo-api",
        "Deployment/demo-analytics-worker",
        "Deployment/demo-email-worker",
        "Deployment/shop-api",
        "HorizontalPodAutoscaler/shop-api",
        "CronJob/demo-nightly-backup",
        "CronJob/demo-verified-backup",
        "Job/demo-once-backup-",
        "Cluster/prod-pg",
        "RabbitmqCluster/prod-mq",
    ] {
        assert!(
            names.iter().any(|name| name.starts_with(expected)),
            "{expected} not in {names:?}"
        );
    }
    assert!(
        objects
            .iter()
            .all(|object| object["metadata"]["namespace"] == "shop")
    );

    let rendered = dir.path().join("rendered.yaml");
    std::fs::write(&rendered, &stdout).expect("write");
    let mut validate = Command::new(tool("k8s-validate"));
    validate.arg("--strict");
    for crd in [
        "shop.dev_shops.yaml",
        "shop.dev_workers.yaml",
        "shop.dev_backups.yaml",
    ] {
        validate.arg("--crd").arg(repo().join("crds").join(crd));
    }
    validate
        .arg("--crd")
        .arg(repo().join("tests/packaging/servicemonitor-crd.yaml"))
        .arg("--crd")
        .arg(repo().join("tests/packaging/prometheusrule-crd.yaml"))
        .arg("--crd")
        .arg(repo().join("operator/tests/fixtures/cnpg-cluster-crd.yaml"))
        .arg("--crd")
        .arg(repo().join("operator/tests/fixtures/rabbitmqcluster-crd.yaml"))
        .arg(&rendered);
    let report = validate.output().expect("k8s-validate runs");
    assert!(
        report.status.success(),
        "{}{}",
        String::from_utf8_lossy(&report.stdout),
        String::from_utf8_lossy(&report.stderr)
    );
}

fn refused(input: &str, expected: &[&str]) {
    let output = render(&["-f", "-"], Some(input));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing is printed on failure");
    for fragment in expected {
        assert!(stderr.contains(fragment), "{fragment:?} not in {stderr}");
    }
}

#[test]
fn an_invalid_resource_exits_2_naming_the_file_and_field() {
    let shop = |spec: &str| {
        format!(
            "apiVersion: shop.dev/v1alpha1\nkind: Shop\nmetadata: {{name: demo}}\nspec: {spec}\n"
        )
    };
    // A misspelt field, which the API server would prune without a word.
    refused(
        &shop(r#"{version: "1.0.0", databse: {managed: {}}}"#),
        &["-, document 1 (Shop demo)", "unknown field spec.databse"],
    );
    // A CEL rule of the CRD.
    refused(
        &shop(r#"{version: "1.0.0", api: {service: {grpcPort: 9090}}}"#),
        &["spec.api.service", "9090"],
    );
    // A wrong type.
    refused(&shop("{version: 3}"), &["expected a string"]);
    // A name that cannot become Service names.
    refused(
        "apiVersion: shop.dev/v1alpha1\nkind: Shop\nmetadata: {name: 2shop}\nspec: {version: \"1.0.0\"}\n",
        &["Shop 2shop"],
    );
    // Not ours.
    refused(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
        &["only shop.dev/v1alpha1"],
    );
    // A Worker whose Shop is not given.
    refused(
        "apiVersion: shop.dev/v1alpha1\nkind: Worker\nmetadata: {name: mail}\nspec: {shopRef: demo, type: analytics}\n",
        &["spec.shopRef", "Shop demo"],
    );
    // A Worker whose Shop lacks what its type needs.
    refused(
        &format!(
            "{}---\napiVersion: shop.dev/v1alpha1\nkind: Worker\nmetadata: {{name: mail}}\nspec: {{shopRef: demo, type: email}}\n",
            shop(r#"{version: "1.0.0"}"#)
        ),
        &["spec.smtp"],
    );
    // A file that does not exist.
    let output = render(&["-f", "/nonexistent/shop.yaml"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/shop.yaml"));
}
