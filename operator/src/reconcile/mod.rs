//! One reconciler per custom resource.

pub mod backup;
pub mod shop;
pub mod worker;
