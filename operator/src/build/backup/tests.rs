//! Builder tests of the Backup's objects.

use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStatus, PodStatus,
};

use super::*;

const VERSION: &str = "1.4.2";

fn shop() -> Shop {
    serde_yaml::from_str(
        r"
apiVersion: shop.dev/v1alpha1
kind: Shop
metadata:
  name: demo
  namespace: shop
  uid: 5b7c1a34-1111-4222-8333-000000000001
spec:
  version: 1.4.2
  payments:
    name: demo-payments
",
    )
    .expect("a valid Shop")
}

fn backup(yaml_spec: &str) -> Backup {
    let yaml = format!(
        "apiVersion: shop.dev/v1alpha1
kind: Backup
metadata:
  name: nightly
  namespace: shop
  uid: 5b7c1a34-3333-4222-8333-000000000003
  generation: 3
spec:
  shopRef: demo
{yaml_spec}"
    );
    serde_yaml::from_str(&yaml).expect("a valid Backup")
}

/// Scheduled, to a claim the operator creates, with retention.
fn scheduled_pvc() -> Backup {
    backup(
        "  schedule: 0 3 * * *
  retention:
    keepLast: 7
    maxAge: 30d
  storage:
    pvc:
      size: 20Gi
      storageClassName: standard
",
    )
}

/// One backup now, to MinIO.
fn one_shot_s3() -> Backup {
    backup(
        "  storage:
    s3:
      endpoint: http://minio.storage:9000
      bucket: shop-backups
      prefix: /demo/
      secretRef:
        name: minio-credentials
",
    )
}

fn container(template: &PodTemplateSpec) -> &Container {
    &template.spec.as_ref().expect("a pod spec").containers[0]
}

fn env_value<'a>(container: &'a Container, name: &str) -> Option<&'a str> {
    container
        .env
        .as_deref()?
        .iter()
        .find(|var| var.name == name)?
        .value
        .as_deref()
}

#[test]
fn pvc_storage_mounts_the_claim_and_targets_the_mount() {
    let template = backup_pod_template(&scheduled_pvc(), &shop(), VERSION);
    let pod = template.spec.as_ref().expect("a pod spec");
    let claim = pod
        .volumes
        .as_deref()
        .expect("volumes")
        .iter()
        .find_map(|volume| volume.persistent_volume_claim.as_ref())
        .expect("the claim is a volume");
    assert_eq!(claim.claim_name, "nightly-backups");
    let container = container(&template);
    let mounts = container.volume_mounts.as_deref().expect("mounts");
    assert!(
        mounts
            .iter()
            .any(|mount| mount.name == "backups" && mount.mount_path == "/backups")
    );
    let args = container.args.as_deref().expect("args");
    assert_eq!(
        args[..4],
        ["backup", "create", "--target", "file:///backups"]
    );
    assert_eq!(env_value(container, "AWS_REGION"), None);

    // An existing claim is mounted as it is, and not created.
    let existing = backup(
        "  storage:
    pvc:
      claimName: my-backups
",
    );
    assert_eq!(claim_name(&existing).as_deref(), Some("my-backups"));
    assert!(backup_claim(&existing).is_none());
}

#[test]
fn s3_storage_gets_the_bucket_endpoint_region_and_credentials_secret() {
    let template = backup_pod_template(&one_shot_s3(), &shop(), VERSION);
    let container = container(&template);
    let args = container.args.as_deref().expect("args");
    assert_eq!(
        args,
        ["backup", "create", "--target", "s3://shop-backups/demo"],
        "no retention, no pruning"
    );
    assert_eq!(
        env_value(container, "SHOP_BACKUP_S3_ENDPOINT"),
        Some("http://minio.storage:9000")
    );
    assert_eq!(env_value(container, "AWS_REGION"), Some("us-east-1"));
    let secrets: Vec<&str> = container
        .env_from
        .as_deref()
        .expect("envFrom")
        .iter()
        .filter_map(|source| source.secret_ref.as_ref())
        .map(|secret| secret.name.as_str())
        .collect();
    assert_eq!(secrets, ["demo-payments", "minio-credentials"]);
    let pod = template.spec.as_ref().expect("a pod spec");
    assert!(
        pod.volumes
            .as_deref()
            .expect("volumes")
            .iter()
            .all(|volume| volume.persistent_volume_claim.is_none())
    );
    assert!(backup_claim(&one_shot_s3()).is_none());

    let mut in_a_region = one_shot_s3();
    if let Some(s3) = in_a_region.spec.storage.s3.as_mut() {
        s3.region = Some("eu-central-1".to_owned());
        s3.prefix = None;
    }
    let template = backup_pod_template(&in_a_region, &shop(), VERSION);
    let container = self::container(&template);
    assert_eq!(env_value(container, "AWS_REGION"), Some("eu-central-1"));
    assert_eq!(
        container.args.as_deref().expect("args")[3],
        "s3://shop-backups"
    );
}

#[test]
fn retention_becomes_prune_flags() {
    let args = backup_args(&scheduled_pvc());
    assert_eq!(
        args[4..],
        ["--prune", "--keep-last", "7", "--max-age", "30d"]
    );
    let mut only_age = scheduled_pvc();
    only_age.spec.retention = serde_yaml::from_str("maxAge: 12h").expect("retention");
    assert_eq!(backup_args(&only_age)[4..], ["--prune", "--max-age", "12h"]);
}

#[test]
fn verify_adds_the_flag_to_the_cron_job_and_the_job() {
    let args_of = |template: &PodTemplateSpec| container(template).args.clone().expect("args");
    let mut scheduled = scheduled_pvc();
    let mut once = one_shot_s3();
    for backup in [&scheduled, &once] {
        let args = backup_args(backup);
        assert!(!args.contains(&"--verify".to_owned()), "{args:?}");
    }
    scheduled.spec.verify = true;
    once.spec.verify = true;
    let cron_job = backup_cron_job(&scheduled, &shop(), VERSION);
    let template = cron_job
        .spec
        .and_then(|spec| spec.job_template.spec)
        .map(|spec| spec.template)
        .expect("the CronJob's pod template");
    assert_eq!(
        args_of(&template)[4..],
        [
            "--prune",
            "--keep-last",
            "7",
            "--max-age",
            "30d",
            "--verify"
        ]
    );
    let job = backup_job(&once, &shop(), VERSION);
    let template = job.spec.map(|spec| spec.template).expect("the Job's pod");
    let args = args_of(&template);
    assert_eq!(args[..2], ["backup", "create"]);
    assert_eq!(
        args.last().map(String::as_str),
        Some("--verify"),
        "{args:?}"
    );
}

#[test]
fn no_credential_is_a_plain_env_value() {
    for backup in [scheduled_pvc(), one_shot_s3()] {
        let template = backup_pod_template(&backup, &shop(), VERSION);
        for var in container(&template).env.as_deref().expect("env") {
            match var.name.as_str() {
                "SHOP_BACKUP_REPORT_FILE" | "SHOP_BACKUP_S3_ENDPOINT" | "AWS_REGION" => {}
                name => {
                    assert!(var.value.is_none(), "{name} has a literal value");
                    assert!(
                        var.value_from
                            .as_ref()
                            .is_some_and(|from| from.secret_key_ref.is_some()),
                        "{name} comes from a Secret"
                    );
                }
            }
            assert!(!var.name.starts_with("AWS_ACCESS") && !var.name.starts_with("AWS_SECRET"));
        }
    }
}

#[test]
fn the_pod_reports_through_its_termination_message_and_never_restarts() {
    let template = backup_pod_template(&one_shot_s3(), &shop(), VERSION);
    let container = container(&template);
    assert_eq!(
        env_value(container, "SHOP_BACKUP_REPORT_FILE"),
        Some("/dev/termination-log")
    );
    assert_eq!(
        container.termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
    assert_eq!(
        container.termination_message_policy.as_deref(),
        Some("File")
    );
    assert_eq!(
        container.image.as_deref(),
        Some("ghcr.io/shop-platform/shop-api:1.4.2")
    );
    let pod = template.spec.as_ref().expect("a pod spec");
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
}

#[test]
fn suspend_reaches_the_cron_job_and_the_job() {
    let mut backup = scheduled_pvc();
    let cron_job = backup_cron_job(&backup, &shop(), VERSION);
    let spec = cron_job.spec.expect("a spec");
    assert_eq!(spec.suspend, Some(false));
    assert_eq!(spec.schedule, "0 3 * * *");
    assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
    backup.spec.suspend = true;
    let cron_job = backup_cron_job(&backup, &shop(), VERSION);
    assert_eq!(cron_job.spec.and_then(|spec| spec.suspend), Some(true));

    let mut one_shot = one_shot_s3();
    assert_eq!(
        backup_job(&one_shot, &shop(), VERSION)
            .spec
            .and_then(|spec| spec.suspend),
        None
    );
    one_shot.spec.suspend = true;
    assert_eq!(
        backup_job(&one_shot, &shop(), VERSION)
            .spec
            .and_then(|spec| spec.suspend),
        Some(true)
    );
}

#[test]
fn the_backup_owns_its_jobs_but_not_its_claim() {
    let backup = scheduled_pvc();
    let shop = shop();
    for meta in [
        backup_cron_job(&backup, &shop, VERSION).metadata,
        backup_job(&backup, &shop, VERSION).metadata,
    ] {
        let owners = meta.owner_references.expect("an owner");
        assert_eq!(owners.len(), 1);
        assert_eq!(
            (owners[0].kind.as_str(), owners[0].name.as_str()),
            ("Backup", "nightly")
        );
        assert_eq!(owners[0].controller, Some(true));
        let labels = meta.labels.expect("labels");
        assert_eq!(
            labels.get(labels::BACKUP_LABEL).map(String::as_str),
            Some("nightly")
        );
    }
    let claim = backup_claim(&backup).expect("a claim");
    assert_eq!(claim.metadata.name.as_deref(), Some("nightly-backups"));
    assert!(claim.metadata.owner_references.is_none());
    let spec = claim.spec.expect("a spec");
    assert_eq!(spec.access_modes, Some(vec!["ReadWriteOnce".to_owned()]));
    assert_eq!(spec.storage_class_name.as_deref(), Some("standard"));
}

#[test]
fn each_generation_of_a_one_shot_backup_gets_its_own_job() {
    let mut backup = one_shot_s3();
    let first = backup_job(&backup, &shop(), VERSION).metadata.name;
    assert_eq!(first.as_deref(), Some("nightly-backup-g3"));
    backup.metadata.generation = Some(4);
    assert_ne!(backup_job(&backup, &shop(), VERSION).metadata.name, first);
}

#[test]
fn schedules_kubernetes_accepts_are_valid() {
    for good in [
        "0 3 * * *",
        "*/15 * * * *",
        "5/15 * * * *",
        "0 0 1,15 * *",
        "30 2 * JAN-MAR MON-FRI",
        "0 12 ? * sun",
        "0 0 * * 0-6",
        "0 9-17/2 * * 1-5",
        "@daily",
        "@midnight",
        "@HOURLY",
        "@annually",
        "  0 3 * * *  ",
    ] {
        assert_eq!(validate_schedule(good), Ok(()), "{good}");
    }
}

#[test]
fn bad_schedules_are_refused_with_a_reason() {
    for bad in [
        "61 * * * *",
        "* * *",
        "0 0 3 * * *",
        "0 24 * * *",
        "0 0 32 * *",
        "0 0 * 13 *",
        "0 0 * * 7",
        "0 0 L * *",
        "0 0 * * 5#2",
        "0 0 * * FRIDAY",
        "*/ * * * *",
        "a * * * *",
        "@every 1h",
        "@often",
        "",
        "TZ=UTC 0 3 * * *",
    ] {
        let error = validate_schedule(bad).expect_err(bad);
        assert!(error.contains("invalid schedule"), "{bad}: {error}");
    }
    let error = validate_schedule("61 * * * *").expect_err("minute 61");
    assert!(error.contains("61"), "{error}");
    let error = validate_schedule("* * *").expect_err("three fields");
    assert!(error.contains("3 fields"), "{error}");
}

const REPORT: &str = r#"{"id":"20250301T030000Z-1a2b","location":"s3://shop-backups/demo/20250301T030000Z-1a2b.dump.zst","sizeBytes":1048576,"createdAt":"2025-03-01T03:00:00.123456789Z"}"#;

#[test]
fn a_report_is_parsed_from_a_termination_message() {
    let report = parse_report(&format!("{REPORT}\n")).expect("a report");
    assert_eq!(report.id, "20250301T030000Z-1a2b");
    assert_eq!(report.size_bytes, 1_048_576);
    assert!(report.location.ends_with(".dump.zst"));
    assert!(report.created_at.is_some());
    assert_eq!(parse_report(""), None);
    assert_eq!(parse_report("error: backup failed: pg_dump exited 1"), None);
    assert_eq!(parse_report(&REPORT[..40]), None, "truncated");
    assert_eq!(report.verification, None, "a report without --verify");
}

#[test]
fn a_report_carries_the_verification_into_the_run() {
    let failed = REPORT.replace(
        r#""createdAt""#,
        r#""verification":{"outcome":"Failed","message":"checksum mismatch"},"createdAt""#,
    );
    let report = parse_report(&failed).expect("a report with a verification");
    let expected = RunVerification {
        outcome: "Failed".to_owned(),
        message: Some("checksum mismatch".to_owned()),
    };
    assert_eq!(report.verification.as_ref(), Some(&expected));
    let jobs = [job(
        "nightly-backup-100",
        "2025-03-01T03:00:00Z",
        Some(("Complete", "2025-03-01T03:02:00Z")),
    )];
    let reports = BTreeMap::from([("nightly-backup-100".to_owned(), report)]);
    let runs = backup_runs(&jobs, &reports);
    assert_eq!(runs[0].verification, Some(expected));
    assert_eq!(runs[0].size_bytes, Some(1_048_576), "the backup is kept");
    let verified = REPORT.replace(
        r#""createdAt""#,
        r#""verification":{"outcome":"Verified"},"createdAt""#,
    );
    let report = parse_report(&verified).expect("a report");
    assert_eq!(
        report.verification.map(|v| (v.outcome, v.message)),
        Some(("Verified".to_owned(), None))
    );
}

fn time(text: &str) -> Time {
    Time(text.parse().expect("a timestamp"))
}

fn job(name: &str, started: &str, condition: Option<(&str, &str)>) -> Job {
    let conditions = condition.map(|(type_, at)| {
        vec![JobCondition {
            type_: type_.to_owned(),
            status: "True".to_owned(),
            last_transition_time: Some(time(at)),
            ..JobCondition::default()
        }]
    });
    let completion_time = match condition {
        Some(("Complete", at)) => Some(time(at)),
        _ => None,
    };
    Job {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            creation_timestamp: Some(time(started)),
            ..ObjectMeta::default()
        },
        status: Some(JobStatus {
            start_time: Some(time(started)),
            completion_time,
            conditions,
            ..JobStatus::default()
        }),
        ..Job::default()
    }
}

#[test]
fn runs_are_newest_first_with_outcome_time_and_report() {
    let jobs = [
        job(
            "nightly-backup-100",
            "2025-03-01T03:00:00Z",
            Some(("Complete", "2025-03-01T03:02:00Z")),
        ),
        job("nightly-backup-300", "2025-03-03T03:00:00Z", None),
        job(
            "nightly-backup-200",
            "2025-03-02T03:00:00Z",
            Some(("Failed", "2025-03-02T03:05:00Z")),
        ),
    ];
    let reports = BTreeMap::from([(
        "nightly-backup-100".to_owned(),
        parse_report(REPORT).expect("a report"),
    )]);
    let runs = backup_runs(&jobs, &reports);
    let summary: Vec<(&str, &str, String)> = runs
        .iter()
        .map(|run| {
            (
                run.job.as_str(),
                run.outcome.as_str(),
                run.time.0.to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "nightly-backup-300",
                "Running",
                "2025-03-03T03:00:00Z".to_owned()
            ),
            (
                "nightly-backup-200",
                "Failed",
                "2025-03-02T03:05:00Z".to_owned()
            ),
            (
                "nightly-backup-100",
                "Succeeded",
                "2025-03-01T03:02:00Z".to_owned()
            ),
        ]
    );
    assert_eq!(runs[2].size_bytes, Some(1_048_576));
    assert_eq!(
        runs[2].location.as_deref(),
        Some("s3://shop-backups/demo/20250301T030000Z-1a2b.dump.zst")
    );
    assert_eq!(
        (runs[0].size_bytes, runs[1].location.as_ref()),
        (None, None)
    );
    // From the Job's start to its completion or failure; none while it runs.
    let durations: Vec<Option<i64>> = runs.iter().map(|run| run.duration_seconds).collect();
    assert_eq!(durations, [None, Some(300), Some(120)]);
}

#[test]
fn at_most_ten_runs_are_kept() {
    let jobs: Vec<Job> = (0..15)
        .map(|day| {
            job(
                &format!("nightly-backup-{day:02}"),
                &format!("2025-03-{:02}T03:00:00Z", day + 1),
                Some(("Complete", &format!("2025-03-{:02}T03:01:00Z", day + 1))),
            )
        })
        .collect();
    let runs = backup_runs(&jobs, &BTreeMap::new());
    assert_eq!(runs.len(), 10);
    assert_eq!(runs[0].job, "nightly-backup-14");
    assert_eq!(runs[9].job, "nightly-backup-05");
    assert!(runs.iter().all(|run| run.size_bytes.is_none()));
}

#[test]
fn reports_come_from_backup_containers_that_exited_zero() {
    let pod = |job: &str, exit_code: i32, message: &str| Pod {
        metadata: ObjectMeta {
            name: Some(format!("{job}-x7k2p")),
            labels: Some(BTreeMap::from([(
                "batch.kubernetes.io/job-name".to_owned(),
                job.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        status: Some(PodStatus {
            container_statuses: Some(vec![ContainerStatus {
                name: CONTAINER.to_owned(),
                state: Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code,
                        message: Some(message.to_owned()),
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        }),
        ..Pod::default()
    };
    let reports = reports_from_pods(&[
        pod("nightly-backup-1", 0, REPORT),
        pod("nightly-backup-2", 1, REPORT),
        pod("nightly-backup-3", 0, "not json"),
    ]);
    assert_eq!(reports.keys().collect::<Vec<_>>(), ["nightly-backup-1"]);
}

#[test]
fn a_scheduled_backup_to_a_new_claim() {
    let backup = scheduled_pvc();
    insta::assert_yaml_snapshot!(
        "scheduled_pvc_cron_job",
        backup_cron_job(&backup, &shop(), VERSION)
    );
    insta::assert_yaml_snapshot!("scheduled_pvc_claim", backup_claim(&backup));
}

#[test]
fn a_one_shot_backup_to_s3() {
    insta::assert_yaml_snapshot!(
        "one_shot_s3_job",
        backup_job(&one_shot_s3(), &shop(), VERSION)
    );
}

#[test]
fn the_schedule_interval_is_the_longest_gap_between_two_runs() {
    let cases = [
        ("@daily", Some(86_400)),
        ("0 3 * * *", Some(86_400)),
        ("*/15 * * * *", Some(900)),
        ("@hourly", Some(3_600)),
        // Twice a day, unevenly: the longer gap counts.
        ("0 1,7 * * *", Some(18 * 3_600)),
        // Weekdays at 02:00: Friday to Monday.
        ("0 2 * * 1-5", Some(3 * 86_400)),
        ("0 0 1 * *", Some(31 * 86_400)),
        // The 29th of February: every four years (2000 to 2004 has a leap day each end).
        ("0 0 29 2 *", Some(1_461 * 86_400)),
        ("not a schedule", None),
    ];
    for (schedule, expected) in cases {
        assert_eq!(schedule_interval_seconds(schedule), expected, "{schedule}");
    }
}
