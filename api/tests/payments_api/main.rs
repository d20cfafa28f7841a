//! Taking money over the API, in-process on the embedded backend (SQLite) and on Postgres with
//! Redis: payment sessions, the providers' webhooks (Midtrans and Stripe as local fakes that
//! follow their documented requests and answers, and the keyless sandbox), refunds, the gRPC
//! parity of `OrderService`, and bad input on every new endpoint. The sandbox journey through
//! the real binary is `tests/payments_sandbox.rs`.

#[macro_use]
extern crate shop_testing;

#[path = "../common/app.rs"]
mod app;
#[allow(dead_code)] // The REST suite's helpers; this suite uses some of them.
#[path = "../rest/support.rs"]
mod support;

mod bad_input;
mod expiry;
mod grpc;
mod midtrans;
mod steps;
mod stripe;
