//! The chart's Grafana dashboards and Prometheus rule files, read as a user's Grafana and the
//! operator read them: every query they hold, with the template variables filled in.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The namespace and Shop the test's Prometheus labels the shop's series with.
pub const NAMESPACE: &str = "shop-test";
pub const SHOP: &str = "demo";

/// How a panel whose query may rightly return nothing in a healthy shop says so.
pub const INCIDENT_MARK: &str = "Only after an incident:";

/// What `$__rate_interval` becomes: Grafana makes it at least four scrape intervals; the whole
/// run fits in one minute, so every sample the test produced is in the window.
const RATE_INTERVAL: &str = "1m";

/// The chart folder, from the operator crate.
pub fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/shop-operator")
}

/// One query of one panel.
#[derive(Clone, Debug)]
pub struct Query {
    /// `dashboard / panel title [refId]`, for messages.
    pub name: String,
    /// The expression with every template variable replaced.
    pub expr: String,
    /// The panel says it has data only after an incident.
    pub incident_only: bool,
}

/// A dashboard file, parsed.
#[derive(Debug)]
pub struct Dashboard {
    pub file: String,
    pub json: Value,
}

/// Every `files/dashboards/*.json`, sorted by name; panics on unreadable or invalid JSON.
pub fn load_dashboards() -> Vec<Dashboard> {
    let dir = chart_dir().join("files/dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("read {}: {error}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
            let file = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            Dashboard { file, json }
        })
        .collect()
}

/// Panels, rows' nested panels included.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        all.push(panel);
        all.extend(panel["panels"].as_array().into_iter().flatten());
    }
    all
}

/// Fills in the template variables the way Grafana would for the test's Shop.
pub fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("${namespace}", NAMESPACE)
        .replace("$namespace", NAMESPACE)
        .replace("${shop}", SHOP)
        .replace("$shop", SHOP)
}

/// Every query of every panel of every dashboard.
pub fn panel_queries(dashboards: &[Dashboard]) -> Vec<Query> {
    let mut queries = Vec::new();
    for dashboard in dashboards {
        let title = dashboard.json["title"].as_str().unwrap_or(&dashboard.file);
        for panel in panels(&dashboard.json) {
            let incident_only = panel["description"]
                .as_str()
                .is_some_and(|text| text.starts_with(INCIDENT_MARK));
            for target in panel["targets"].as_array().into_iter().flatten() {
                let Some(expr) = target["expr"].as_str() else {
                    continue;
                };
                queries.push(Query {
                    name: format!(
                        "{title} / {} [{}]",
                        panel["title"].as_str().unwrap_or("?"),
                        target["refId"].as_str().unwrap_or("?")
                    ),
                    expr: substitute(expr),
                    incident_only,
                });
            }
        }
    }
    queries
}

/// Metric names (`shop_...`) an expression reads.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut start = 0;
    while let Some(found) = expr[start..].find("shop_") {
        let begin = start + found;
        let preceded_by_word = begin > 0
            && (bytes[begin - 1].is_ascii_alphanumeric()
                || bytes[begin - 1] == b'_'
                || bytes[begin - 1] == b'"');
        let end = expr[begin..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .map_or(expr.len(), |length| begin + length);
        if !preceded_by_word {
            names.insert(expr[begin..end].to_owned());
        }
        start = end;
    }
    names
}

/// Names a `/metrics` text declares, as PromQL sees them: a counter `x` is `x_total`, a
/// histogram `x` is `x_bucket`, `x_sum` and `x_count`. Declared families without samples yet
/// count: their series appear with the first event.
pub fn exposed_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total", ""],
                "histogram" => &["_bucket", "_sum", "_count"],
                "summary" => &["", "_sum", "_count"],
                _ => &[""],
            };
            for suffix in suffixes {
                let full = if name.ends_with(suffix) {
                    name.to_owned()
                } else {
                    format!("{name}{suffix}")
                };
                names.insert(full);
            }
        } else if !line.starts_with('#')
            && let Some(name) = line
                .split(['{', ' '])
                .next()
                .filter(|name| !name.is_empty())
        {
            names.insert(name.to_owned());
        }
    }
    names
}

/// One rule of a rule file.
#[derive(Clone, Debug)]
pub struct Rule {
    /// `file / group / alert or record name`.
    pub name: String,
    pub expr: String,
    /// The series a recording rule writes.
    pub records: Option<String>,
}

/// The rule files of the chart (`files/rules/*.yaml`), as plain Prometheus rule files with the
/// placeholders replaced (what the operator puts into a Shop's PrometheusRule), and their rules.
/// A file is either a PrometheusRule (`spec.groups`) or a plain rule file (`groups`).
pub fn load_rule_files() -> (BTreeMap<String, String>, Vec<Rule>) {
    let dir = chart_dir().join("files/rules");
    let mut files = BTreeMap::new();
    let mut rules = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return (files, rules);
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    paths.sort();
    for path in paths {
        let file = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
            .replace("__NAMESPACE__", NAMESPACE)
            .replace("__SHOP__", SHOP);
        let document: serde_yaml::Value = serde_yaml::from_str(&text)
            .unwrap_or_else(|error| panic!("{file} is not YAML: {error}"));
        let groups = document
            .get("spec")
            .and_then(|spec| spec.get("groups"))
            .or_else(|| document.get("groups"))
            .cloned()
            .unwrap_or_else(|| panic!("{file} has neither spec.groups nor groups"));
        for group in groups.as_sequence().into_iter().flatten() {
            let group_name = group["name"].as_str().unwrap_or("?");
            for rule in group["rules"].as_sequence().into_iter().flatten() {
                let name = rule
                    .get("alert")
                    .or_else(|| rule.get("record"))
                    .and_then(serde_yaml::Value::as_str)
                    .unwrap_or("?");
                let expr = match &rule["expr"] {
                    serde_yaml::Value::String(expr) => expr.clone(),
                    other => serde_yaml::to_string(other).unwrap_or_default(),
                };
                rules.push(Rule {
                    name: format!("{file} / {group_name} / {name}"),
                    expr,
                    records: rule["record"].as_str().map(str::to_owned),
                });
            }
        }
        let plain = serde_yaml::to_string(&serde_yaml::Mapping::from_iter([(
            serde_yaml::Value::from("groups"),
            groups,
        )]))
        .unwrap_or_else(|error| panic!("{file}: {error}"));
        files.insert(file, plain);
    }
    (files, rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_in_expressions_and_exposition() {
        let names = metric_names(
            r#"sum(rate(shop_a_total{x="shop_not"}[1m])) / shop_b_bucket + not_shop_c"#,
        );
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            ["shop_a_total", "shop_b_bucket"]
        );
        let exposed = exposed_names("# TYPE shop_x counter\n# TYPE shop_h histogram\nshop_g 1\n");
        for name in ["shop_x_total", "shop_h_bucket", "shop_h_count", "shop_g"] {
            assert!(exposed.contains(name), "{name}");
        }
    }
}
