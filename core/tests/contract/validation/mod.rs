//! Bad input at every command: a validation error naming the right fields, and nothing stored.
//!
//! The tests live in submodules by area; they are registered here, in one list, so each runs on
//! both backends under the name `validation::<backend>::<test>`.

mod catalog;
mod orders;
mod users;

use catalog::{listings_and_searches_refuse_bad_queries, the_catalog_refuses_bad_values};
use orders::carts_checkouts_and_orders_refuse_bad_values;
use users::users_and_addresses_refuse_bad_values;

contract_tests! {
    users_and_addresses_refuse_bad_values,
    the_catalog_refuses_bad_values,
    listings_and_searches_refuse_bad_queries,
    carts_checkouts_and_orders_refuse_bad_values,
}
