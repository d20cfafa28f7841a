//! A minimal typed `PrometheusRule` (Prometheus Operator, `monitoring.coreos.com/v1`) and the
//! Shop's alerting rules in it.
//!
//! The rules are the chart's `files/rules/shop.rules.yaml` (Prometheus rule-file format, tested
//! with promtool), embedded at build time. Their selectors name `__NAMESPACE__` and `__SHOP__`,
//! replaced here by the Shop's namespace and name, so that each Shop's rules see only its own
//! series. As for [`super::service_monitor`], the CRD belongs to the Prometheus Operator: the
//! operator never installs it and creates a PrometheusRule only when [`PROMETHEUS_RULE_CRD`]
//! exists.

use std::collections::BTreeMap;

use kube::{CustomResource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::service_monitor::service_monitor_labels;
use super::shop::alerts_labels;
use crate::crd::Shop;
use crate::names;

/// Name of the Prometheus Operator's CRD that must exist before a [`PrometheusRule`] is applied.
pub const PROMETHEUS_RULE_CRD: &str = "prometheusrules.monitoring.coreos.com";

/// The per-Shop rule file, with its placeholders.
pub const SHOP_RULES: &str =
    include_str!("../../../charts/shop-operator/files/rules/shop.rules.yaml");
/// Replaced by the Shop's namespace in [`SHOP_RULES`].
pub const NAMESPACE_PLACEHOLDER: &str = "__NAMESPACE__";
/// Replaced by the Shop's name in [`SHOP_RULES`].
pub const SHOP_PLACEHOLDER: &str = "__SHOP__";

/// Alerting and recording rules Prometheus evaluates.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "monitoring.coreos.com",
    version = "v1",
    kind = "PrometheusRule",
    namespaced
)]
#[serde(rename_all = "camelCase")]
pub struct RulesSpec {
    /// Rule groups, each evaluated at its interval.
    pub groups: Vec<RuleGroup>,
}

/// A Prometheus rule file: what `shop.rules.yaml` holds. Unknown fields are refused, so that a
/// field this type does not carry is noticed by the tests rather than dropped from every Shop.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

/// A group of rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct RuleGroup {
    /// Unique name within the PrometheusRule.
    pub name: String,
    /// Evaluation interval; Prometheus' global one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// The rules, in order.
    pub rules: Vec<Rule>,
}

/// One alerting (`alert`) or recording (`record`) rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Rule {
    /// Name of the alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// Name of the recorded series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The PromQL expression.
    pub expr: String,
    /// How long the expression must hold before the alert fires.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    /// How long the alert keeps firing after the expression stops holding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_firing_for: Option<String>,
    /// Labels added to the alert or series.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations of the alert (summary, description, runbook_url).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Why the rule file cannot become a PrometheusRule.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file is not a Prometheus rule file.
    #[error("the shop rule file is not a rule file: {0}")]
    Parse(#[from] serde_yaml::Error),
    /// A rule is not one Prometheus would load.
    #[error("rule {index} of group {group}: {why}")]
    Invalid {
        /// The group.
        group: String,
        /// The rule's position in it, from 0.
        index: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// A name would change the meaning of the selectors it is put into.
    #[error("{0:?} cannot be put into a label selector")]
    UnsafeName(String),
}

/// The groups of `rules` (a rule file) for the Shop `shop` in `namespace`, checked: every group
/// named once and holding rules, every rule an alert or a record (not both) with an expression,
/// alerts with a severity, and no placeholder left.
pub fn shop_rule_groups(
    rules: &str,
    namespace: &str,
    shop: &str,
) -> Result<Vec<RuleGroup>, RulesError> {
    // Namespace and Shop names are DNS labels; anything else could break out of the quotes of a
    // selector, so it is refused rather than escaped.
    for name in [namespace, shop] {
        let label = !name.is_empty()
            && name
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if !label {
            return Err(RulesError::UnsafeName(name.to_owned()));
        }
    }
    let text = rules
        .replace(NAMESPACE_PLACEHOLDER, namespace)
        .replace(SHOP_PLACEHOLDER, shop);
    let file: RuleFile = serde_yaml::from_str(&text)?;
    let mut names = std::collections::BTreeSet::new();
    for group in &file.groups {
        let invalid = |index: usize, why: &'static str| RulesError::Invalid {
            group: group.name.clone(),
            index,
            why,
        };
        if group.name.is_empty() || !names.insert(group.name.as_str()) {
            return Err(invalid(0, "group names must be unique and not empty"));
        }
        if group.rules.is_empty() {
            return Err(invalid(0, "the group has no rules"));
        }
        for (index, rule) in group.rules.iter().enumerate() {
            if rule.alert.is_some() == rule.record.is_some() {
                return Err(invalid(index, "a rule is either an alert or a record"));
            }
            if rule.expr.trim().is_empty() {
                return Err(invalid(index, "the expression is empty"));
            }
            if rule.alert.is_some() && !rule.labels.contains_key("severity") {
                return Err(invalid(index, "an alert needs a severity label"));
            }
            if rule.record.is_some() && (rule.for_.is_some() || !rule.annotations.is_empty()) {
                return Err(invalid(index, "a record has no for or annotations"));
            }
        }
    }
    let written = serde_json::to_string(&file.groups).unwrap_or_default();
    if written.contains("__NAMESPACE") || written.contains("__SHOP") {
        return Err(RulesError::Invalid {
            group: String::new(),
            index: 0,
            why: "a placeholder is left",
        });
    }
    Ok(file.groups)
}

/// The Shop's PrometheusRule `<shop>-alerts`: the rules of [`SHOP_RULES`] for this Shop, labelled
/// with `serviceMonitorLabels` and `prometheusRule.labels` (what a Prometheus selects rules by),
/// owned by the Shop.
pub fn shop_prometheus_rule(shop: &Shop) -> Result<PrometheusRule, RulesError> {
    let namespace = shop.namespace().unwrap_or_default();
    let groups = shop_rule_groups(SHOP_RULES, &namespace, &shop.name_any())?;
    let mut labels = shop.spec.monitoring.prometheus_rule.labels.clone();
    // The operator's own labels win a clash: it finds its objects by them.
    labels.extend(alerts_labels(shop));
    let labels = service_monitor_labels(shop, labels);
    Ok(PrometheusRule {
        metadata: super::controlled_meta(shop, names::alerts(&shop.name_any()), labels),
        spec: RulesSpec { groups },
    })
}

#[cfg(test)]
mod tests;
