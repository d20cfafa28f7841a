//! Tests of the objects a shop is built into, by theme in submodules; the snapshot tests stay
//! here so their `.snap` files keep their names and place (`snapshots/`, next to this file).

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

mod backends;
mod objects;
mod secrets;
mod workloads;

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|object| object["kind"] == kind && object["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn pod(workload: &Value) -> PodSpec {
    serde_json::from_value(workload["spec"]["template"]["spec"].clone()).expect("a pod spec")
}

// --- YAML 1.1 --------------------------------------------------------------------------------

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
        // Its rules are the chart's rule file, tested by promtool and summarised in
        // build::prometheus_rule's own snapshot; a copy here would change with every alert.
        if object["kind"] == "PrometheusRule" {
            continue;
        }
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
