//! Integration tests of the REST API: the application `shop-api serve` runs is served in-process
//! on 127.0.0.1 (port 0) and driven with a real HTTP client, on the embedded backend (SQLite, in-process key-value store)
//! and on Postgres with Redis.
//!
//! Postgres must be reachable at `SHOP_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and Redis at `SHOP_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`); each test gets a database and a Redis key prefix of its own.

#[macro_use]
extern crate shop_testing;

#[path = "../common/app.rs"]
mod app;
mod support;

mod accounts;
mod auth;
mod bad_input;
mod cache;
mod journey;
mod limits;
mod maintenance;
mod metrics;
mod middleware;
mod openapi;
mod order_numbers;
