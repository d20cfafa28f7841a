//! The Shop's alerting rules (`spec.monitoring.prometheusRule`) against an in-memory Kubernetes
//! API: a PrometheusRule when the Prometheus Operator's CRD exists, a condition (and no churn)
//! while it does not, and nothing left behind once turned off.

mod common;

use std::sync::Arc;

use common::FakeCluster;
use common::shops::{create_shop, drive_to_ready, edit_shop, shop_pass};
use kube::ResourceExt;
use serde_json::json;
use shop_operator::build::prometheus_rule::PrometheusRule;
use shop_operator::context::Context;
use shop_operator::crd::Shop;

fn condition(shop: &Shop, type_: &str) -> Option<(String, String)> {
    shop.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

fn is(status: &str, reason: &str) -> Option<(String, String)> {
    Some((status.to_owned(), reason.to_owned()))
}

async fn ready_shop_with_rules(cluster: &FakeCluster, ctx: &Arc<Context>) -> Shop {
    create_shop(
        cluster,
        json!({"version": "1.0.0", "monitoring": {
            "serviceMonitorLabels": {"release": "kube-prometheus-stack"},
            "prometheusRule": {"enabled": true, "labels": {"team": "shop"}}}}),
    )
    .await;
    drive_to_ready(cluster, ctx).await
}

#[tokio::test]
async fn without_the_crd_the_shop_says_so_once_and_stays_ready() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    let shop = ready_shop_with_rules(&cluster, &ctx).await;
    assert_eq!(condition(&shop, "AlertsReady"), is("False", "CrdMissing"));
    assert_eq!(
        condition(&shop, "Ready"),
        is("True", "Ready"),
        "alerting does not gate readiness"
    );
    assert!(cluster.get::<PrometheusRule>("demo-alerts").await.is_none());

    // Steady: another pass writes nothing (no status rewrite, no second Warning Event), so the
    // Shop's own watch is not re-triggered.
    cluster.take_writes();
    shop_pass(&cluster, &ctx).await;
    assert_eq!(cluster.take_writes(), Vec::<String>::new());
}

#[tokio::test]
async fn with_the_crd_the_rules_are_applied_once_and_removed_when_turned_off() {
    let cluster = FakeCluster::new().await;
    let ctx = cluster.context();
    ready_shop_with_rules(&cluster, &ctx).await;
    cluster.install_prometheus_rule_crd().await;
    cluster.take_writes();

    let shop = shop_pass(&cluster, &ctx).await;
    assert_eq!(
        condition(&shop, "AlertsReady"),
        is("True", "PrometheusRuleCreated")
    );
    let writes = cluster.take_writes();
    assert!(
        writes
            .iter()
            .any(|w| w == "patch PrometheusRule/demo-alerts"),
        "{writes:?}"
    );
    let rule: PrometheusRule = cluster.get("demo-alerts").await.expect("PrometheusRule");
    assert_eq!(rule.owner_references()[0].name, "demo");
    let labels = rule.labels();
    assert_eq!(labels["release"], "kube-prometheus-stack");
    assert_eq!(labels["team"], "shop");
    let exprs: Vec<&str> = rule
        .spec
        .groups
        .iter()
        .flat_map(|group| &group.rules)
        .map(|rule| rule.expr.as_str())
        .collect();
    assert!(!exprs.is_empty());
    assert!(
        exprs
            .iter()
            .all(|expr| expr.contains(r#"namespace="shop""#) && expr.contains(r#"shop="demo""#)),
        "{exprs:?}"
    );

    // Nothing changed: nothing is written.
    shop_pass(&cluster, &ctx).await;
    assert_eq!(cluster.take_writes(), Vec::<String>::new());

    edit_shop(
        &cluster,
        json!({"spec": {"monitoring": {"prometheusRule": {"enabled": false}}}}),
    )
    .await;
    let shop = shop_pass(&cluster, &ctx).await;
    assert!(cluster.get::<PrometheusRule>("demo-alerts").await.is_none());
    assert_eq!(condition(&shop, "AlertsReady"), None, "not asked for");
    let writes = cluster.take_writes();
    assert!(
        writes.iter().any(|w| w == "delete demo-alerts"),
        "{writes:?}"
    );
}
