use serde_json::json;

use super::*;
use crate::build::test_support::{UID, full_shop};

#[test]
fn the_shops_rules_select_only_its_own_series() {
    let rule = shop_prometheus_rule(&full_shop()).expect("the embedded rules are valid");
    let alerts: Vec<&Rule> = rule.spec.groups.iter().flat_map(|g| &g.rules).collect();
    assert!(alerts.len() >= 10, "{} rules", alerts.len());
    for alert in &alerts {
        let name = alert.alert.as_deref().unwrap_or_default();
        assert!(
            alert.expr.contains(r#"namespace="shop""#) && alert.expr.contains(r#"shop="demo""#),
            "{name} does not select the Shop: {}",
            alert.expr
        );
        assert!(!alert.expr.contains("__"), "{name}: {}", alert.expr);
        for annotation in ["summary", "description", "runbook_url"] {
            assert!(
                alert.annotations.contains_key(annotation),
                "{name} lacks {annotation}"
            );
        }
    }
}

#[test]
fn the_prometheus_rule_is_owned_by_the_shop_and_labelled_for_prometheus() {
    let rule = shop_prometheus_rule(&full_shop()).expect("valid");
    let owner = &rule.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Shop", UID));
    assert_eq!(owner.controller, Some(true));
    // A summary rather than every expression: the rule file has its own promtool tests.
    let summary = json!({
        "metadata": {
            "name": rule.metadata.name,
            "namespace": rule.metadata.namespace,
            "labels": rule.metadata.labels,
        },
        "groups": rule.spec.groups.iter().map(|group| json!({
            "name": group.name,
            "alerts": group.rules.iter().map(|rule| {
                format!(
                    "{} ({})",
                    rule.alert.as_deref().unwrap_or_default(),
                    rule.labels.get("severity").map(String::as_str).unwrap_or_default()
                )
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    insta::assert_yaml_snapshot!("shop_prometheus_rule", summary);
}

#[test]
fn the_operators_labels_win_over_the_users() {
    let mut shop = full_shop();
    shop.spec.monitoring.prometheus_rule.labels = BTreeMap::from([
        ("app.kubernetes.io/managed-by".to_owned(), "me".to_owned()),
        ("release".to_owned(), "rules-release".to_owned()),
    ]);
    let labels = shop_prometheus_rule(&shop)
        .expect("valid")
        .metadata
        .labels
        .expect("labels");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "shop-operator");
    // prometheusRule.labels come after serviceMonitorLabels.
    assert_eq!(labels["release"], "rules-release");
}

#[test]
fn a_rule_file_prometheus_would_not_load_is_refused() {
    let group = |rule: &str| format!("groups:\n  - name: g\n    rules:\n{rule}");
    let cases = [
        (
            group(
                "      - alert: A\n        record: b\n        expr: up\n        labels: {severity: warning}\n",
            ),
            "either an alert or a record",
        ),
        (
            group("      - alert: A\n        expr: up\n"),
            "needs a severity label",
        ),
        (
            group("      - alert: A\n        expr: ' '\n        labels: {severity: warning}\n"),
            "the expression is empty",
        ),
        (
            group(
                "      - alert: A\n        expr: up\n        labels: {severity: warning}\n        bogus: 1\n",
            ),
            "unknown field",
        ),
        (
            group(
                "      - alert: A\n        expr: up{x=\"__SHOPX\"}\n        labels: {severity: warning}\n",
            ),
            "placeholder",
        ),
        (
            "groups:\n  - name: g\n    rules: []\n".to_owned(),
            "no rules",
        ),
        ("not: [a, rule, file".to_owned(), "not a rule file"),
    ];
    for (file, expected) in cases {
        let error = shop_rule_groups(&file, "shop", "demo").expect_err(&file);
        assert!(error.to_string().contains(expected), "{error} for\n{file}");
    }
    let good = group(
        "      - alert: A\n        expr: up{shop=\"__SHOP__\"}\n        labels: {severity: warning}\n",
    );
    let groups = shop_rule_groups(&good, "shop", "demo").expect("valid");
    assert_eq!(groups[0].rules[0].expr, r#"up{shop="demo"}"#);
}

#[test]
fn a_name_that_could_break_out_of_a_selector_is_refused() {
    for (namespace, shop) in [("shop", r#"demo"} or vector(1) or {x=""#), ("", "demo")] {
        let error = shop_rule_groups(SHOP_RULES, namespace, shop).expect_err(shop);
        assert!(matches!(error, RulesError::UnsafeName(_)), "{error}");
    }
}
