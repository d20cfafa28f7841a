//! One reconciler per custom resource, each a staged pipeline (dereference → validate → build →
//! apply → status), and the stages' shared parts.

pub mod backup;
pub mod dereference;
pub mod monitoring;
pub mod observe;
pub mod restore;
pub mod shop;
pub mod status;
pub mod validate;
pub mod worker;
