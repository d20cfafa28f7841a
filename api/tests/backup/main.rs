//! `shop-api backup`: real round trips through pg_dump/pg_restore and SQLite's `VACUUM INTO`,
//! corruption, retention and interrupted backups, all through the real binary.
//!
//! One test binary in a directory so that each backend or command reads in one sitting; the
//! helpers they share are in `support`.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod leftovers;
mod postgres;
mod report_and_prune;
mod restore_in_place;
mod s3;
mod sqlite;
