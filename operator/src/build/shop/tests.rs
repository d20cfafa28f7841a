use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Container, PodSpec, Secret};
use kube::api::ObjectMeta;
use serde_json::{Value, json};

use super::*;
use crate::build::test_support::{
    NAMESPACE, UID, counter_secrets, full_shop, minimal_shop, shop_with_spec,
};
use crate::{labels, names};

fn data(secret: &Secret) -> &BTreeMap<String, ByteString> {
    secret.data.as_ref().expect("generated Secrets have data")
}

fn value(secret: &Secret, key: &str) -> String {
    let bytes = data(secret)
        .get(key)
        .unwrap_or_else(|| panic!("{key} is missing"));
    String::from_utf8(bytes.0.clone()).expect("UTF-8 value")
}

fn existing_secret(values: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta::default(),
        data: Some(
            values
                .iter()
                .map(|(key, value)| ((*key).to_owned(), ByteString(value.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

fn never() -> String {
    panic!("nothing should be generated")
}

// --- Secrets: kept, never rotated -----------------------------------------------------------

#[test]
fn credentials_are_generated_when_there_is_no_secret_yet() {
    let secret = credentials_secret(&minimal_shop(), None, &counter_secrets())
        .expect("no jwtSecretRef, so the operator generates one");
    assert_eq!(
        secret.metadata.name.as_deref(),
        Some(names::credentials_secret("demo").as_str())
    );
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    assert_eq!(value(&secret, names::JWT_SECRET_KEY), "generated-secret-1");
}

#[test]
fn an_existing_jwt_secret_is_kept_verbatim() {
    let existing = existing_secret(&[(names::JWT_SECRET_KEY, "the-key-users-signed-in-with")]);
    let secret =
        credentials_secret(&minimal_shop(), Some(&existing), &never).expect("generated Secret");
    assert_eq!(
        value(&secret, names::JWT_SECRET_KEY),
        "the-key-users-signed-in-with"
    );
}

#[test]
fn an_empty_jwt_secret_is_generated_again() {
    let existing = existing_secret(&[(names::JWT_SECRET_KEY, "")]);
    let secret = credentials_secret(&minimal_shop(), Some(&existing), &counter_secrets())
        .expect("generated Secret");
    assert_eq!(value(&secret, names::JWT_SECRET_KEY), "generated-secret-1");
}

#[test]
fn no_credentials_secret_when_the_jwt_secret_is_supplied() {
    let shop = shop_with_spec(json!({
        "version": "1.0.0",
        "auth": { "jwtSecretRef": { "name": "mine", "key": "jwt" } }
    }));
    assert!(credentials_secret(&shop, None, &never).is_none());
    assert!(
        shop_objects(&shop, "1.0.0", &counter_secrets())
            .iter()
            .all(|object| {
                object["metadata"]["name"] != json!(names::credentials_secret("demo"))
            })
    );
}

#[test]
fn backend_secrets_have_every_key_and_urls_of_the_right_shape() {
    let shop = minimal_shop();
    let postgres = backend_secret(&shop, Backend::Postgres, None, &counter_secrets());
    assert_eq!(value(&postgres, USERNAME_KEY), "shop");
    assert_eq!(value(&postgres, PASSWORD_KEY), "generated-secret-1");
    assert_eq!(value(&postgres, DATABASE_KEY), "shop");
    assert_eq!(
        value(&postgres, names::URL_KEY),
        "postgres://shop:generated-secret-1@demo-postgres.shop.svc:5432/shop"
    );

    let redis = backend_secret(&shop, Backend::Redis, None, &counter_secrets());
    assert_eq!(value(&redis, PASSWORD_KEY), "generated-secret-1");
    assert_eq!(
        value(&redis, names::URL_KEY),
        "redis://:generated-secret-1@demo-redis.shop.svc:6379/0"
    );
    assert!(!data(&redis).contains_key(COOKIE_KEY));

    let rabbitmq = backend_secret(&shop, Backend::RabbitMq, None, &counter_secrets());
    assert_eq!(value(&rabbitmq, USERNAME_KEY), "shop");
    assert_eq!(value(&rabbitmq, PASSWORD_KEY), "generated-secret-1");
    assert_eq!(value(&rabbitmq, COOKIE_KEY), "generated-secret-2");
    assert_eq!(
        value(&rabbitmq, names::URL_KEY),
        "amqp://shop:generated-secret-1@demo-rabbitmq.shop.svc:5672/%2f"
    );
    assert!(!data(&rabbitmq).contains_key(DATABASE_KEY));
}

#[test]
fn an_existing_backend_password_is_kept_and_the_url_is_rebuilt_from_it() {
    let existing = existing_secret(&[
        (PASSWORD_KEY, "kept-password"),
        // A stale URL (say, from before a namespace was renamed) is not trusted.
        (names::URL_KEY, "postgres://shop:old@elsewhere:5432/shop"),
    ]);
    let secret = backend_secret(&minimal_shop(), Backend::Postgres, Some(&existing), &never);
    assert_eq!(value(&secret, PASSWORD_KEY), "kept-password");
    assert_eq!(
        value(&secret, names::URL_KEY),
        "postgres://shop:kept-password@demo-postgres.shop.svc:5432/shop"
    );
}

#[test]
fn only_missing_backend_keys_are_generated() {
    // A Secret from before the cookie existed, or whose cookie someone deleted.
    let existing = existing_secret(&[(USERNAME_KEY, "shop"), (PASSWORD_KEY, "kept-password")]);
    let secret = backend_secret(
        &minimal_shop(),
        Backend::RabbitMq,
        Some(&existing),
        &counter_secrets(),
    );
    assert_eq!(value(&secret, PASSWORD_KEY), "kept-password");
    assert_eq!(value(&secret, COOKIE_KEY), "generated-secret-1");
    assert_eq!(
        value(&secret, names::URL_KEY),
        "amqp://shop:kept-password@demo-rabbitmq.shop.svc:5672/%2f"
    );
}

#[test]
fn a_kept_password_with_reserved_characters_is_escaped_in_the_url() {
    let existing = existing_secret(&[(PASSWORD_KEY, "p@ss/word")]);
    let secret = backend_secret(&minimal_shop(), Backend::Redis, Some(&existing), &never);
    assert_eq!(value(&secret, PASSWORD_KEY), "p@ss/word");
    assert_eq!(
        value(&secret, names::URL_KEY),
        "redis://:p%40ss%2Fword@demo-redis.shop.svc:6379/0"
    );
}

#[test]
fn building_twice_from_the_first_result_changes_nothing() {
    let shop = minimal_shop();
    for backend in Backend::ALL {
        let first = backend_secret(&shop, backend, None, &counter_secrets());
        let second = backend_secret(&shop, backend, Some(&first), &never);
        assert_eq!(first, second, "{backend:?}");
    }
    let first = credentials_secret(&shop, None, &counter_secrets());
    let second = credentials_secret(&shop, first.as_ref(), &never);
    assert_eq!(first, second);
}

// --- Which objects exist ----------------------------------------------------------------------

fn kinds_and_names(objects: &[Value]) -> Vec<(String, String)> {
    objects
        .iter()
        .map(|object| {
            (
                object["kind"].as_str().expect("kind").to_owned(),
                object["metadata"]["name"]
                    .as_str()
                    .expect("name")
                    .to_owned(),
            )
        })
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|object| object["kind"] == kind && object["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn a_minimal_shop_has_all_three_backends_managed_and_no_optional_objects() {
    let shop = minimal_shop();
    let managed: Vec<Backend> = managed_backends(&shop)
        .into_iter()
        .map(|(backend, _)| backend)
        .collect();
    assert_eq!(managed, Backend::ALL.to_vec());

    let objects = shop_objects(&shop, "1.0.0", &counter_secrets());
    let got = kinds_and_names(&objects);
    let mut expected = vec![
        ("ConfigMap", "demo-config".to_owned()),
        ("Secret", "demo-credentials".to_owned()),
    ];
    for backend in ["postgres", "redis", "rabbitmq"] {
        for kind in ["Secret", "Service", "StatefulSet", "NetworkPolicy"] {
            expected.push((kind, format!("demo-{backend}")));
        }
    }
    expected.push(("Job", names::migration_job("demo", "1.0.0")));
    for kind in ["Deployment", "Service", "PodDisruptionBudget"] {
        expected.push((kind, "demo-api".to_owned()));
    }
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(kind, name)| (kind.to_owned(), name))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn external_backends_produce_no_managed_objects() {
    let shop = full_shop();
    let managed: Vec<Backend> = managed_backends(&shop)
        .into_iter()
        .map(|(backend, _)| backend)
        .collect();
    assert_eq!(managed, vec![Backend::Redis, Backend::RabbitMq]);
    let objects = shop_objects(&shop, "2.3.1", &counter_secrets());
    assert!(
        kinds_and_names(&objects)
            .iter()
            .all(|(_, name)| name != "demo-postgres"),
        "{objects:#?}"
    );
    // The shop reads the database URL from the user's Secret instead.
    let deployment = find(&objects, "Deployment", "demo-api");
    let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
    let database_url = env
        .as_array()
        .expect("env")
        .iter()
        .find(|var| var["name"] == "DATABASE_URL")
        .expect("DATABASE_URL");
    assert_eq!(
        database_url["valueFrom"]["secretKeyRef"],
        json!({ "name": "shop-database", "key": "url", "optional": false })
    );
}

#[test]
fn network_policies_are_left_out_when_disabled() {
    let shop = shop_with_spec(json!({ "version": "1.0.0", "networkPolicy": { "enabled": false } }));
    let objects = shop_objects(&shop, "1.0.0", &counter_secrets());
    assert!(
        objects
            .iter()
            .all(|object| object["kind"] != "NetworkPolicy")
    );
}

#[test]
fn every_object_has_name_namespace_labels_and_the_shop_as_controller() {
    // The minimal Shop keeps its volumes, so its Secrets outlive it (no owner: see
    // ownership_tests); the full one deletes them, so every object is owned.
    for (shop, version, secrets_owned) in [
        (minimal_shop(), "1.0.0", false),
        (full_shop(), "2.3.1", true),
    ] {
        for object in shop_objects(&shop, version, &counter_secrets()) {
            let metadata = &object["metadata"];
            let what = format!("{} {}", object["kind"], metadata["name"]);
            assert!(metadata["name"].is_string(), "{what}");
            assert_eq!(metadata["namespace"], NAMESPACE, "{what}");
            let labels = &metadata["labels"];
            assert_eq!(labels["app.kubernetes.io/instance"], "demo", "{what}");
            assert_eq!(labels["app.kubernetes.io/part-of"], "shop", "{what}");
            assert_eq!(
                labels["app.kubernetes.io/managed-by"], "shop-operator",
                "{what}"
            );
            assert!(labels["app.kubernetes.io/name"].is_string(), "{what}");
            assert!(labels["app.kubernetes.io/component"].is_string(), "{what}");
            if object["kind"] == "Secret" && !secrets_owned {
                assert!(metadata["ownerReferences"].is_null(), "{what}");
                continue;
            }
            assert_eq!(
                metadata["ownerReferences"],
                json!([{
                    "apiVersion": "shop.dev/v1alpha1",
                    "kind": "Shop",
                    "name": "demo",
                    "uid": UID,
                    "controller": true
                }]),
                "{what}"
            );
        }
    }
}

#[test]
fn selectors_match_the_pods_they_select() {
    for (shop, version) in [(minimal_shop(), "1.0.0"), (full_shop(), "2.3.1")] {
        let objects = shop_objects(&shop, version, &counter_secrets());
        let pod_labels: Vec<&Value> = objects
            .iter()
            .filter(|object| object["spec"]["template"].is_object())
            .map(|object| &object["spec"]["template"]["metadata"]["labels"])
            .collect();
        let matches_some_pod = |selector: &Value| {
            let selector = selector.as_object().expect("matchLabels");
            pod_labels.iter().any(|labels| {
                selector
                    .iter()
                    .all(|(key, value)| &labels[key.as_str()] == value)
            })
        };
        for object in &objects {
            let what = format!("{} {}", object["kind"], object["metadata"]["name"]);
            let selector = match object["kind"].as_str() {
                Some("Service") => &object["spec"]["selector"],
                Some("Deployment" | "StatefulSet" | "PodDisruptionBudget") => {
                    &object["spec"]["selector"]["matchLabels"]
                }
                Some("NetworkPolicy") => &object["spec"]["podSelector"]["matchLabels"],
                _ => continue,
            };
            assert!(matches_some_pod(selector), "{what} selects no pod");
        }
        // A Deployment's or StatefulSet's selector must match its own template.
        for object in &objects {
            if let Some(selector) = object["spec"]["selector"]["matchLabels"].as_object()
                && object["spec"]["template"].is_object()
            {
                let labels = &object["spec"]["template"]["metadata"]["labels"];
                for (key, value) in selector {
                    assert_eq!(&labels[key.as_str()], value, "{}", object["kind"]);
                }
            }
        }
    }
}

// --- Backends ---------------------------------------------------------------------------------

#[test]
fn network_policies_admit_only_shop_members_on_the_server_port() {
    let shop = minimal_shop();
    for backend in Backend::ALL {
        let policy = backend_network_policy(&shop, backend);
        let spec = policy.spec.expect("spec");
        assert_eq!(
            spec.pod_selector.and_then(|selector| selector.match_labels),
            Some(backend_selector(&shop, backend))
        );
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_owned()]));
        let rules = spec.ingress.expect("ingress rules");
        assert_eq!(rules.len(), 1, "{backend:?}");
        let from = rules[0].from.as_ref().expect("peers");
        assert_eq!(from.len(), 1);
        assert_eq!(
            from[0]
                .pod_selector
                .as_ref()
                .and_then(|selector| selector.match_labels.clone()),
            Some(labels::shop_member("demo"))
        );
        assert!(from[0].namespace_selector.is_none() && from[0].ip_block.is_none());
        let ports = serde_json::to_value(&rules[0].ports).expect("ports");
        assert_eq!(
            ports,
            json!([{ "port": backend.port(), "protocol": "TCP" }]),
            "{backend:?}"
        );
    }
    // Every pod of the shop is a member, so the API, the migration and the workers get through.
    let objects = shop_objects(&shop, "1.0.0", &counter_secrets());
    for name in ["demo-api".to_owned(), names::migration_job("demo", "1.0.0")] {
        let labels = &objects
            .iter()
            .find(|object| object["metadata"]["name"] == name.as_str())
            .expect("object")["spec"]["template"]["metadata"]["labels"];
        for (key, value) in labels::shop_member("demo") {
            assert_eq!(labels[key.as_str()], value.as_str(), "{name}");
        }
    }
}

#[test]
fn the_volume_is_deleted_with_the_shop_only_when_asked() {
    let shop = full_shop();
    for (backend, managed) in managed_backends(&shop) {
        let policy = backend_stateful_set(&shop, backend, managed)
            .spec
            .and_then(|spec| spec.persistent_volume_claim_retention_policy)
            .expect("retention policy");
        assert_eq!(policy.when_deleted.as_deref(), Some("Delete"));
        assert_eq!(policy.when_scaled.as_deref(), Some("Retain"));
    }
    let shop = minimal_shop();
    for (backend, managed) in managed_backends(&shop) {
        let policy = backend_stateful_set(&shop, backend, managed)
            .spec
            .and_then(|spec| spec.persistent_volume_claim_retention_policy)
            .expect("retention policy");
        assert_eq!(policy.when_deleted.as_deref(), Some("Retain"));
    }
}

#[test]
fn backends_run_pinned_images_unless_one_is_given() {
    let image = |shop: &Shop, backend: Backend| {
        let (_, managed) = managed_backends(shop)
            .into_iter()
            .find(|(candidate, _)| *candidate == backend)
            .expect("managed");
        pod(&serde_json::to_value(backend_stateful_set(shop, backend, managed)).expect("json"))
            .containers[0]
            .image
            .clone()
            .expect("image")
    };
    let shop = minimal_shop();
    for backend in Backend::ALL {
        let pinned = image(&shop, backend);
        assert_eq!(pinned, default_image(backend));
        assert!(!pinned.ends_with(":latest") && pinned.contains(':'));
    }
    assert_eq!(
        image(&full_shop(), Backend::RabbitMq),
        "registry.example.com/mirror/rabbitmq:4.0.5-management-alpine"
    );
}

// --- Workloads --------------------------------------------------------------------------------

fn pod(workload: &Value) -> PodSpec {
    serde_json::from_value(workload["spec"]["template"]["spec"].clone()).expect("a pod spec")
}

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
                        assert_eq!(var.name, "PGDATA", "{} in {}", var.name, container.name);
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
        json!([{ "port": "metrics", "path": "/metrics", "interval": "30s" }])
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

/// Strings serde_yaml writes unquoted but YAML 1.1 parsers (kubectl's, PyYAML) read as booleans.
const YAML_1_1_BOOLEANS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        Value::Object(fields) => fields.values().for_each(|field| strings(field, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[test]
fn no_string_reads_as_a_boolean_when_dumped_as_yaml() {
    for (shop, version) in [(minimal_shop(), "1.0.0"), (full_shop(), "2.3.1")] {
        let mut all = Vec::new();
        for object in shop_objects(&shop, version, &counter_secrets()) {
            strings(&object, &mut all);
        }
        for text in all {
            assert!(!YAML_1_1_BOOLEANS.contains(&text.as_str()), "{text:?}");
        }
    }
}

// --- Snapshots --------------------------------------------------------------------------------

fn snapshot_all(case: &str, shop: &Shop, version: &str) {
    for object in shop_objects(shop, version, &counter_secrets()) {
        let name = format!(
            "{case}__{}__{}",
            object["kind"].as_str().expect("kind").to_lowercase(),
            object["metadata"]["name"].as_str().expect("name")
        );
        insta::assert_yaml_snapshot!(name, object);
    }
}

#[test]
fn snapshots_of_a_minimal_shop() {
    snapshot_all("minimal", &minimal_shop(), "1.0.0");
}

#[test]
fn snapshots_of_a_full_shop() {
    snapshot_all("full", &full_shop(), "2.3.1");
}
