//! Integration tests of the gRPC API: the application `shop-api serve` runs (its gRPC and HTTP
//! servers on one shared state) is served in-process on 127.0.0.1 (port 0), driven with tonic clients, on the
//! embedded backend (SQLite, in-process key-value store) and on Postgres with Redis; one test
//! goes through the real binary.
//!
//! Postgres must be reachable at `SHOP_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and Redis at `SHOP_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`); each test gets a database `shop_test_<uuid>` and a Redis key
//! prefix of its own.

#[path = "../common/mod.rs"]
mod common;
#[macro_use]
extern crate shop_testing;

#[path = "../common/app.rs"]
mod app;
mod support;

mod accounts;
mod authorization;
mod bad_input;
mod binary;
mod journey;
mod platform;
