//! Bad input of every kind: each request is refused with the right status and problem body, and
//! the shop is exactly as it was before (read back over HTTP).
//!
//! The tests live in submodules by kind of input; they are registered here, in one list, so each
//! runs on both backends under the name `bad_input::<backend>::<test>`.

mod addressing;
mod bodies;
mod fields;

use reqwest::{Method, header::CONTENT_TYPE};
use serde_json::Value;

use crate::support::{Backend, TestApp, send, text};

use addressing::{
    invalid_ids_are_refused_before_anything_is_looked_up,
    invalid_paging_and_query_parameters_are_refused,
};
use bodies::{
    malformed_bodies_are_refused_and_change_nothing, quantities_out_of_range_are_refused,
    sql_injection_is_only_ever_data,
};
use fields::{
    checkout_requires_a_valid_idempotency_key, conflicts_and_invalid_fields_are_named,
    nul_bytes_and_control_characters_are_refused_not_fatal,
};

on_both_backends!(
    malformed_bodies_are_refused_and_change_nothing,
    sql_injection_is_only_ever_data,
    quantities_out_of_range_are_refused,
    invalid_ids_are_refused_before_anything_is_looked_up,
    invalid_paging_and_query_parameters_are_refused,
    checkout_requires_a_valid_idempotency_key,
    conflicts_and_invalid_fields_are_named,
    nul_bytes_and_control_characters_are_refused_not_fatal,
);

/// A shop with one product, and one customer with a (default) address and a cart line.
struct Setup {
    app: TestApp,
    admin: String,
    customer: String,
    product: Value,
    cart_line: String,
}

async fn setup(backend: Backend) -> Setup {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let product = app
        .create_product(&admin, "Blue Mug", 1_200, 10, None)
        .await;
    let customer = app.register_and_login("ada@example.com").await;
    app.add_address(&customer, "Ada").await;
    let cart = app.add_to_cart(&customer, &text(&product, "id"), 2).await;
    Setup {
        cart_line: text(&cart["items"][0], "id"),
        app,
        admin,
        customer,
        product,
    }
}

impl Setup {
    /// The whole shop and the customer's own view of it.
    async fn state(&self) -> (Value, Value) {
        (
            self.app.snapshot(&self.admin).await,
            self.app.customer_state(&self.customer).await,
        )
    }

    /// A JSON route's request with a raw body and the given content type (none when `None`).
    async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let request = self
            .app
            .request(method, path, Some(&self.customer))
            .body(body);
        send(match content_type {
            Some(content_type) => request.header(CONTENT_TYPE, content_type),
            None => request,
        })
        .await
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn urlencode(raw: &str) -> String {
    raw.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
