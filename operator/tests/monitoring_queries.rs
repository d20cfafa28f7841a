//! Every query is real: the Grafana dashboards and the alert rules the chart ships are run
//! through a real Prometheus that scraped the real `shop-api`, `shop-workers` and `shop-operator`
//! binaries during a short customer journey (on Postgres and RabbitMQ) and a Backup run.
//!
//! Each expression must parse; each dashboard panel must return data, except the panels whose
//! description starts with "Only after an incident:" (listed in the output); and every metric a
//! dashboard reads must be one some binary declares.

#[allow(dead_code)]
mod apiserver;
mod monitoring;
mod operator_process;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use apiserver::ApiServer;
use monitoring::dashboards::{
    self, INCIDENT_MARK, Query, exposed_names, load_dashboards, load_rule_files, metric_names,
    panel_queries, panels,
};
use monitoring::prometheus::{self, Answer, Prometheus, Targets};
use monitoring::{cluster, shop};
use serde_json::Value;
use shop_testing::{PgDatabase, RabbitVhost};

/// How long the panels may take to show the journey: a few scrapes, the workers' queue-depth
/// sampling, the relay's polling.
const DATA_DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn dashboards_are_current_grafana_json_bound_to_the_datasource_variable() {
    let dashboards = load_dashboards();
    let names: BTreeSet<&str> = dashboards.iter().map(|board| board.file.as_str()).collect();
    for expected in [
        "api.json",
        "backups.json",
        "events.json",
        "operator.json",
        "workers.json",
    ] {
        assert!(
            names.contains(expected),
            "files/dashboards/{expected} is missing"
        );
    }
    let mut uids = BTreeSet::new();
    for board in &dashboards {
        let (file, json) = (&board.file, &board.json);
        assert!(
            json["schemaVersion"].as_u64().unwrap_or(0) >= 39,
            "{file}: schemaVersion"
        );
        let uid = json["uid"].as_str().unwrap_or_default();
        assert!(
            !uid.is_empty() && uid.len() <= 40,
            "{file}: a uid of 1-40 characters"
        );
        assert!(
            uids.insert(uid.to_owned()),
            "{file}: uid {uid} is not unique"
        );

        let variables = json["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let variable = |name: &str| variables.iter().find(|var| var["name"] == name);
        let datasource =
            variable("datasource").unwrap_or_else(|| panic!("{file}: no datasource variable"));
        assert_eq!(datasource["type"], "datasource", "{file}");
        assert_eq!(datasource["query"], "prometheus", "{file}");
        let defined: BTreeSet<String> = variables
            .iter()
            .filter_map(|var| var["name"].as_str().map(str::to_owned))
            .collect();
        // The operator's own dashboard covers every Shop; the others pick one.
        if file != "operator.json" {
            for name in ["namespace", "shop"] {
                assert!(defined.contains(name), "{file}: no {name} variable");
            }
        }

        // Every data source reference is the variable, never a uid of somebody's Grafana.
        let mut references = Vec::new();
        collect_datasources(json, &mut references);
        for reference in references {
            let uid = reference["uid"].as_str().unwrap_or_default();
            let builtin = reference["type"] == "grafana";
            assert!(
                builtin || uid == "${datasource}",
                "{file}: a data source other than ${{datasource}}: {reference}"
            );
        }

        let mut ids = BTreeSet::new();
        for panel in panels(json) {
            let id = panel["id"].as_u64().expect("every panel has a numeric id");
            assert!(ids.insert(id), "{file}: panel id {id} is used twice");
            if panel["type"] == "row" {
                continue;
            }
            assert!(
                matches!(panel["type"].as_str(), Some("timeseries" | "stat")),
                "{file}: panel {id} is a {}",
                panel["type"]
            );
            assert_eq!(
                panel["datasource"]["uid"], "${datasource}",
                "{file}: panel {id}"
            );
            let targets = panel["targets"].as_array().cloned().unwrap_or_default();
            assert!(!targets.is_empty(), "{file}: panel {id} has no query");
            for target in targets {
                let expr = target["expr"].as_str().unwrap_or_default();
                assert!(!expr.is_empty(), "{file}: panel {id} has an empty query");
                for used in variables_in(expr) {
                    assert!(
                        defined.contains(&used) || used == "__rate_interval",
                        "{file}: panel {id} uses ${used}, which is not defined"
                    );
                }
                assert!(
                    !dashboards::substitute(expr).contains('$'),
                    "{file}: panel {id}: a variable is left after substitution: {expr}"
                );
            }
        }
    }
}

fn collect_datasources<'a>(value: &'a Value, found: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "datasource" && inner.is_object() {
                    found.push(inner);
                } else {
                    collect_datasources(inner, found);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_datasources(item, found)),
        _ => {}
    }
}

/// `$name` and `${name}` references of an expression.
fn variables_in(expr: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (index, _) in expr.match_indices('$') {
        let rest = expr[index + 1..].trim_start_matches('{');
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_and_alert_query_returns_data_from_the_real_binaries() {
    let Some(prometheus_binary) = prometheus::binary() else {
        eprintln!(
            "SKIPPED: the prometheus binary is not installed and apt-get could not install it \
             (scripts/test installs Debian's prometheus package)"
        );
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary folder");

    // The shop on Postgres and RabbitMQ.
    let database = PgDatabase::create().await;
    let vhost = RabbitVhost::create();
    let api = shop::Api::start(dir.path(), database.url(), vhost.url()).await;
    let workers = shop::Workers::start(dir.path(), database.url(), vhost.url()).await;

    // The operator on the API server double; the Shop, its Backup and an incident come below.
    let server = ApiServer::start().await.expect("API server double");
    let client = server.client().expect("a client of the double");
    let operator =
        cluster::OperatorProcess::start(&server, dir.path(), "shop-system", "shop-operator-0");
    let operator_metrics = operator.metrics_address().await;

    let (rule_files, rules) = load_rule_files();
    let prometheus_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prometheus_dir).expect("a folder for Prometheus");
    let targets = Targets {
        api: api.http,
        workers: workers.metrics,
        operator: operator_metrics,
    };
    let prometheus =
        Prometheus::start(&prometheus_binary, &prometheus_dir, &targets, &rule_files).await;

    cluster::ready_shop(&client, &operator).await;
    cluster::backup_run(&client, &operator).await;
    cluster::orphan_worker(&client, &operator, operator_metrics).await;
    let order = shop::journey(&api).await;
    eprintln!(
        "journey done after {:.1} s: order {}",
        started.elapsed().as_secs_f64(),
        order["id"]
    );

    // Every metric a dashboard reads is declared by one of the binaries.
    let mut exposed = BTreeSet::new();
    for address in [api.http, workers.metrics, operator_metrics] {
        exposed.extend(exposed_names(&shop::scrape(address).await));
    }
    let dashboards = load_dashboards();
    let queries = panel_queries(&dashboards);
    let unknown: BTreeSet<String> = queries
        .iter()
        .flat_map(|query| metric_names(&query.expr))
        .filter(|name| !exposed.contains(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "dashboards read metrics no binary declares: {unknown:?}"
    );

    // Every panel query parses and, incident panels aside, returns data once scraped.
    let waiting = eventually_all_have_data(&prometheus, &queries).await;
    if !waiting.is_empty() {
        let targets = prometheus.unhealthy_targets().await;
        panic!(
            "{} panel queries returned no data within {DATA_DEADLINE:?}:\n{}\n\
             unhealthy scrape targets: {targets:?}\noperator logs:\n{}",
            waiting.len(),
            waiting.join("\n"),
            operator.logs()
        );
    }
    let incident_only: Vec<&Query> = queries.iter().filter(|query| query.incident_only).collect();
    eprintln!(
        "{} panel queries return data; panels marked \"{INCIDENT_MARK}\" ({}):",
        queries.len() - incident_only.len(),
        incident_only.len()
    );
    for query in incident_only {
        // The test stages one incident (a Worker without its Shop): its panel shows it.
        let now = match prometheus.query(&query.expr).await {
            Answer::Data(0) => "no data".to_owned(),
            Answer::Data(series) => format!("{series} series after the staged incident"),
            Answer::Error(error) => panic!("{}: {error}", query.name),
        };
        eprintln!("  {} ({now})", query.name);
    }

    // Every alert and recording rule parses, evaluates without error, and reads declared metrics.
    assert!(
        !rules.is_empty() || rule_files.is_empty(),
        "rule files without rules"
    );
    let recorded: BTreeSet<&str> = rules
        .iter()
        .filter_map(|rule| rule.records.as_deref())
        .collect();
    let mut firing = Vec::new();
    let mut undeclared = BTreeSet::new();
    for rule in &rules {
        match prometheus.query(&rule.expr).await {
            Answer::Error(error) => panic!("{}: {error}\n{}", rule.name, rule.expr),
            Answer::Data(0) => {}
            Answer::Data(series) => firing.push(format!("{} ({series} series)", rule.name)),
        }
        // Not fatal: a labelled family appears only with its first series, which for some
        // alerts is the incident itself. Listed so that a misspelt name stands out.
        undeclared.extend(
            metric_names(&rule.expr)
                .into_iter()
                .filter(|name| !exposed.contains(name) && !recorded.contains(name.as_str()))
                .map(|name| format!("{name} ({})", rule.name)),
        );
    }
    let errors = prometheus.rule_errors().await;
    assert!(errors.is_empty(), "rules failed to evaluate: {errors:?}");
    eprintln!(
        "{} rules from {} files parse; true right now in a healthy shop: {firing:?}",
        rules.len(),
        rule_files.len()
    );
    if !undeclared.is_empty() {
        eprintln!("WARNING: rules read metrics no binary has declared (yet): {undeclared:?}");
    }

    drop(prometheus);
    let _ = workers.stop().await;
    let _ = api.stop().await;
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
}

/// Runs every query until each that should has data; returns those that never did. A query
/// Prometheus refuses fails the test at once.
async fn eventually_all_have_data(prometheus: &Prometheus, queries: &[Query]) -> Vec<String> {
    let deadline = Instant::now() + DATA_DEADLINE;
    let mut waiting: Vec<&Query> = queries.iter().collect();
    loop {
        let mut still = Vec::new();
        for query in waiting {
            match prometheus.query(&query.expr).await {
                Answer::Error(error) => panic!("{}: {error}\n{}", query.name, query.expr),
                Answer::Data(0) if !query.incident_only => still.push(query),
                Answer::Data(_) => {}
            }
        }
        waiting = still;
        if waiting.is_empty() || Instant::now() > deadline {
            return waiting
                .iter()
                .map(|query| format!("  {}: {}", query.name, query.expr))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
