//! Support for `monitoring_queries`: the chart's dashboards and rules, a real Prometheus, the
//! shop's binaries and the operator on the API server double.

pub mod cluster;
pub mod dashboards;
pub mod prometheus;
pub mod shop;
