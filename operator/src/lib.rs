//! `shop-operator`: reconciles `Shop`, `Worker` and `Backup` custom resources into the objects that
//! run the shop platform.
//!
//! Each reconcile is dereference → validate → build (pure, [`build`]) → apply → read back → status.

pub mod apply;
pub mod build;
pub mod cli;
pub mod conditions;
pub mod context;
pub mod controller;
pub mod crd;
pub mod error;
pub mod http;
pub mod labels;
pub mod leader;
pub mod metrics;
pub mod names;
pub mod reconcile;
pub mod render;
pub mod telemetry;
