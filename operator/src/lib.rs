//! `shop-operator`: reconciles `Shop`, `Worker` and `Backup` custom resources into the objects that
//! run the shop platform.
//!
//! Each reconcile is dereference → validate → build (pure, [`build`]) → apply → read back → status.

pub mod apply;
pub mod build;
pub mod conditions;
pub mod context;
pub mod crd;
pub mod error;
pub mod labels;
pub mod names;
pub mod reconcile;
