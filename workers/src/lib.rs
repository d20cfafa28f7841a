//! `shop-workers`: the email, invoice, notification and analytics consumers of the shop's events.
//!
//! The same handlers run in the standalone `shop-workers` binary (fed by RabbitMQ) and inside
//! `shop-api` under the embedded default (fed by the in-process bus).

pub mod handler;
