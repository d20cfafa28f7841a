//! `shop-core`: the shop without any transport. Domain rules in [`domain`], commands and queries
//! in [`app`], the interfaces to the outside in [`ports`], their implementations in [`adapters`].

pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod messaging;
pub mod ports;
pub mod telemetry;
