//! Workloads: secrets kept out of pod specs, the restricted pod security standard, autoscaling,
//! rollouts on setting changes, the migration job, endpoints and the service monitor.

use super::*;

fn workloads(objects: &[Value]) -> impl Iterator<Item = &Value> {
    objects.iter().filter(|object| {
        matches!(
            object["kind"].as_str(),
            Some("Deployment" | "Job" | "StatefulSet")
        )
    })
}

#[test]
fn no_secret_value_appears_in_a_pod_spec() {
    for (shop, version) in [(minimal_shop(), "1.0.0"), (full_shop(), "2.3.1")] {
        let objects = shop_objects(&shop, version, &counter_secrets());
        // Every value the generated Secrets hold, decoded.
        let secrets: Vec<String> = objects
            .iter()
            .filter(|object| object["kind"] == "Secret")
            .flat_map(|object| {
                let secret: Secret = serde_json::from_value(object.clone()).expect("a Secret");
                secret.data.unwrap_or_default().into_values()
            })
            .map(|value| String::from_utf8(value.0).expect("UTF-8"))
            .filter(|value| value != "shop" && value != "default")
            .collect();
        assert!(!secrets.is_empty());
        let mut count = 0;
        for workload in workloads(&objects) {
            count += 1;
            let text = workload.to_string();
            for secret in &secrets {
                assert!(!text.contains(secret.as_str()), "{text} holds {secret}");
            }
            let spec = pod(workload);
            let containers: Vec<&Container> = spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
                .collect();
            for container in containers {
                for var in container.env.iter().flatten() {
                    if var.value.is_some() {
                        // Only settings that are no credential are given as plain values.
                        let plain = var.name == "PGDATA"
                            || var.name == "SHOP_PAYMENT_PROVIDER"
                            || var.name.starts_with("OTEL_");
                        assert!(plain, "{} in {}", var.name, container.name);
                    }
                }
            }
        }
        assert!(count >= 2);
    }
}

#[test]
fn every_pod_meets_the_restricted_pod_security_standard() {
    for (shop, version) in [(minimal_shop(), "1.0.0"), (full_shop(), "2.3.1")] {
        let objects = shop_objects(&shop, version, &counter_secrets());
        for workload in workloads(&objects) {
            let what = workload["metadata"]["name"].to_string();
            let spec = pod(workload);
            let pod_security = spec.security_context.expect("pod security context");
            assert_eq!(pod_security.run_as_non_root, Some(true), "{what}");
            assert!(
                pod_security.run_as_user.is_some_and(|uid| uid > 0),
                "{what}"
            );
            assert_eq!(
                pod_security.seccomp_profile.map(|profile| profile.type_),
                Some("RuntimeDefault".to_owned()),
                "{what}"
            );
            assert_eq!(spec.automount_service_account_token, Some(false), "{what}");
            for container in &spec.containers {
                let security = container
                    .security_context
                    .as_ref()
                    .expect("container security context");
                assert_eq!(security.allow_privilege_escalation, Some(false), "{what}");
                assert_eq!(security.read_only_root_filesystem, Some(true), "{what}");
                assert_eq!(
                    security
                        .capabilities
                        .as_ref()
                        .and_then(|caps| caps.drop.clone()),
                    Some(vec!["ALL".to_owned()]),
                    "{what}"
                );
                assert!(
                    container
                        .image
                        .as_ref()
                        .is_some_and(|image| image.contains(':'))
                );
                // Every mount has a volume.
                let volumes: Vec<&str> = spec
                    .volumes
                    .iter()
                    .flatten()
                    .map(|volume| volume.name.as_str())
                    .collect();
                for mount in container.volume_mounts.iter().flatten() {
                    assert!(
                        volumes.contains(&mount.name.as_str()) || mount.name == "data",
                        "{what}: {} has no volume",
                        mount.name
                    );
                }
            }
        }
    }
}

#[test]
fn autoscaling_leaves_the_replicas_to_the_hpa() {
    let shop = full_shop();
    let deployment = api_deployment(&shop, "2.3.1", "abc");
    assert_eq!(deployment.spec.expect("spec").replicas, None);
    let hpa = api_hpa(&shop).expect("an HPA");
    let spec = hpa.spec.expect("spec");
    assert_eq!(spec.min_replicas, Some(2));
    assert_eq!(spec.max_replicas, 10);
    assert_eq!(spec.scale_target_ref.kind, "Deployment");
    assert_eq!(spec.scale_target_ref.name, "demo-api");
    let metric = serde_json::to_value(&spec.metrics).expect("json");
    assert_eq!(
        metric,
        json!([{ "type": "Resource", "resource": { "name": "cpu",
            "target": { "type": "Utilization", "averageUtilization": 60 } } }])
    );

    let shop = minimal_shop();
    assert_eq!(
        api_deployment(&shop, "1.0.0", "abc")
            .spec
            .expect("spec")
            .replicas,
        Some(2)
    );
    assert!(api_hpa(&shop).is_none());
}

#[test]
fn a_changed_setting_changes_the_pod_template() {
    let minimal = minimal_shop();
    let limited = shop_with_spec(json!({ "version": "1.0.0", "api": { "rateLimitPerMinute": 5 } }));
    let (before, after) = (
        config_hash(&config_map(&minimal)),
        config_hash(&config_map(&limited)),
    );
    assert_ne!(before, after);
    assert_eq!(before, config_hash(&config_map(&minimal_shop())));
    let annotation = |shop: &Shop, hash: &str| {
        api_deployment(shop, "1.0.0", hash)
            .spec
            .and_then(|spec| spec.template.metadata)
            .and_then(|metadata| metadata.annotations)
            .and_then(|annotations| annotations.get(CONFIG_HASH_ANNOTATION).cloned())
    };
    assert_eq!(annotation(&minimal, &before), Some(before.clone()));
    assert_ne!(annotation(&minimal, &before), annotation(&limited, &after));
}

#[test]
fn the_config_map_holds_the_settings() {
    let settings = |shop: &Shop| config_map(shop).data.expect("data");
    let minimal = settings(&minimal_shop());
    assert_eq!(minimal["SHOP_HTTP_ADDR"], "0.0.0.0:8080");
    assert_eq!(minimal["SHOP_GRPC_ADDR"], "0.0.0.0:50051");
    assert_eq!(minimal["SHOP_LOG_FORMAT"], "json");
    assert_eq!(minimal["SHOP_DEMO_SEED"], "false");
    assert_eq!(minimal["SHOP_TRUST_FORWARDED_FOR"], "false");
    assert!(!minimal.contains_key("SHOP_RATE_LIMIT_PER_MINUTE"));

    let full = settings(&full_shop());
    assert_eq!(full["SHOP_GRPC_ADDR"], "0.0.0.0:9000");
    assert_eq!(full["SHOP_LOG_FORMAT"], "text");
    assert_eq!(full["SHOP_TRUST_FORWARDED_FOR"], "true");
    assert_eq!(full["SHOP_RATE_LIMIT_PER_MINUTE"], "600");
}

#[test]
fn the_migration_job_runs_once_per_version_and_is_kept_for_its_outcome() {
    let job = migration_job(&full_shop(), "2.3.1");
    assert_eq!(
        job.metadata.name.as_deref(),
        Some(names::migration_job("demo", "2.3.1").as_str())
    );
    assert_eq!(
        job.metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(labels::VERSION_LABEL))
            .map(String::as_str),
        Some("2.3.1")
    );
    let spec = job.spec.expect("spec");
    assert_eq!(spec.ttl_seconds_after_finished, None);
    assert_eq!(spec.backoff_limit, Some(3));
    assert_eq!(spec.active_deadline_seconds, Some(600));
    let pod = spec.template.spec.expect("pod");
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(
        pod.image_pull_secrets
            .expect("pull secrets")
            .into_iter()
            .map(|secret| secret.name)
            .collect::<Vec<_>>(),
        vec!["registry-credentials".to_owned()]
    );
    let container = &pod.containers[0];
    assert_eq!(
        container.image.as_deref(),
        Some("registry.example.com/shop/shop-api:2.3.1")
    );
    assert_eq!(container.args, Some(vec!["migrate".to_owned()]));
    assert_eq!(container.image_pull_policy.as_deref(), Some("Always"));
}

#[test]
fn endpoints_follow_the_ingress() {
    assert_eq!(
        endpoints(&minimal_shop()),
        crate::crd::ShopEndpoints {
            http: "http://demo-api.shop.svc:8080".to_owned(),
            grpc: "demo-api.shop.svc:50051".to_owned(),
        }
    );
    assert_eq!(
        endpoints(&full_shop()),
        crate::crd::ShopEndpoints {
            http: "https://shop.example.com".to_owned(),
            grpc: "demo-api.shop.svc:9000".to_owned(),
        }
    );
    let plain = shop_with_spec(json!({
        "version": "1.0.0",
        "api": { "ingress": { "host": "shop.internal" } }
    }));
    assert_eq!(endpoints(&plain).http, "http://shop.internal");
}

#[test]
fn the_service_monitor_scrapes_the_api_service() {
    let shop = full_shop();
    let monitor = api_service_monitor(&shop);
    let service = api_service(&shop);
    let selector = monitor
        .spec
        .selector
        .match_labels
        .clone()
        .expect("matchLabels");
    let labels = service.metadata.labels.expect("labels");
    for (key, value) in &selector {
        assert_eq!(labels.get(key), Some(value));
    }
    let ports: Vec<String> = service
        .spec
        .expect("spec")
        .ports
        .expect("ports")
        .into_iter()
        .filter_map(|port| port.name)
        .collect();
    assert_eq!(ports, ["http", "grpc", "metrics"]);
    assert_eq!(
        serde_json::to_value(&monitor).expect("json")["spec"]["endpoints"],
        json!([{ "port": "metrics", "path": "/metrics", "interval": "30s", "relabelings": [{
            "sourceLabels": ["__meta_kubernetes_service_label_app_kubernetes_io_instance"],
            "targetLabel": "shop",
            "action": "replace",
        }]}])
    );
    // The relabeling's source: the Service carries the Shop's name as that label.
    assert_eq!(
        labels.get("app.kubernetes.io/instance").map(String::as_str),
        Some("demo")
    );
    assert_eq!(
        serde_json::to_value(&monitor).expect("json")["apiVersion"],
        "monitoring.coreos.com/v1"
    );
    let objects = shop_objects(&minimal_shop(), "1.0.0", &counter_secrets());
    assert!(
        objects
            .iter()
            .all(|object| object["kind"] != "ServiceMonitor")
    );
}
