//! Bad input for every call: empty and malformed ids, out-of-range quantities and page sizes,
//! unknown enum values, garbage page tokens. Each is INVALID_ARGUMENT with a
//! `google.rpc.BadRequest` that names the request's field (as the request spells it), or
//! NOT_FOUND for well-formed ids of nothing.
//!
//! The tests live in submodules by service; they are registered here, in one list, so each runs on
//! both backends under the name `bad_input::<backend>::<test>`.

mod carts_and_orders;
mod products;
mod users;

use carts_and_orders::{cart_calls_refuse_bad_input, order_calls_refuse_bad_input};
use products::product_calls_refuse_bad_input;
use users::user_calls_refuse_bad_input;

on_both_backends!(
    user_calls_refuse_bad_input,
    product_calls_refuse_bad_input,
    cart_calls_refuse_bad_input,
    order_calls_refuse_bad_input,
);

const MALFORMED_IDS: [&str; 4] = ["", "   ", "42", "not-a-uuid"];

const UNKNOWN_ID: &str = "01890a5d-ac96-774b-bcce-b302099a8057";
