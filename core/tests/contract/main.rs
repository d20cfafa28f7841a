//! Contract tests for shop-core: every test is written once, against `Shop`, and runs on each
//! storage backend (`<module>::postgres::<test>` and `<module>::sqlite::<test>`), the workers'
//! records included.
//!
//! Postgres must be reachable at `SHOP_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets a database of its own, dropped
//! when the test ends. SQLite tests use a file in a temporary directory.

#[macro_use]
mod support;

mod account_races;
mod account_tokens;
mod cart;
mod catalog;
mod checkout;
mod concurrency;
mod images;
mod operations;
mod order_numbers;
mod orders;
mod outbox;
mod payments;
mod users;
mod validation;
mod workers;
