//! Which objects a shop gets, and the names, labels, owners and selectors that tie them together.

use super::*;

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
