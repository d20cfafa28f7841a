//! What the fake payment providers ([`crate::fake_midtrans`], [`crate::fake_stripe`]) share: an
//! axum server on an ephemeral port of 127.0.0.1 whose every request is recorded, and a switch
//! that makes the next request fail with a chosen status.

use std::net::SocketAddr;

use axum::{Router, body::Bytes, http::HeaderMap};
use serde_json::Value;
use tokio::net::TcpListener;

/// One request a fake received, as it arrived.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub(crate) fn new(
        method: &axum::http::Method,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Self {
        Self {
            method: method.as_str().to_owned(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers: headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON (Midtrans), `Value::Null` when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The body as form fields in order (Stripe), empty when it is not a form.
    pub fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(&self.body).unwrap_or_default()
    }

    /// The first form field named `key`.
    pub fn form_value(&self, key: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }
}

/// Serves `router` on 127.0.0.1 in the background; returns where.
pub(crate) async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a fake provider");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}
