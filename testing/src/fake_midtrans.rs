//! A fake Midtrans for tests, following the documented API (docs.midtrans.com): Snap
//! `POST /snap/v1/transactions` (Basic auth with the server key; `transaction_details`,
//! `item_details` that must add up to `gross_amount`, `expiry`; `201 {token, redirect_url}` or
//! `4xx {"error_messages": [...]}`), Core API `GET /v2/{order_id}/status` and
//! `POST /v2/{order_id}/refund` (`refund_key` makes a retry the same refund). Core API answers
//! are HTTP 200 carrying Midtrans' own `status_code` (`"404"`, `"412"`, …), as Midtrans does.
//! The test decides how a payment goes ([`FakeMidtrans::notification`], [`FakeMidtrans::set_status`])
//! and gets the HTTP notification Midtrans would send, signed as Midtrans signs it.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use chrono::{FixedOffset, Utc};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha512};

pub use crate::fake_http::RecordedRequest;
use crate::fake_http::serve;

/// The server key the fake expects unless another is given.
pub const SERVER_KEY: &str = "SB-Mid-server-fake-key";

#[derive(Debug)]
struct Transaction {
    transaction_id: String,
    /// Whole rupiah.
    gross: i64,
    /// `None` until the customer picks a payment method (the status endpoint answers 404).
    status: Option<String>,
    fraud_status: Option<String>,
    refunds: Vec<Value>,
    request: Value,
}

#[derive(Debug, Default)]
struct Inner {
    server_key: String,
    transactions: HashMap<String, Transaction>,
    requests: Vec<RecordedRequest>,
    fail_next: Option<u16>,
    /// Order id asked about → order id whose status is answered instead (a misbehaving API).
    status_of_other: HashMap<String, String>,
    counter: u64,
}

/// The running fake; clones share it.
#[derive(Debug, Clone)]
pub struct FakeMidtrans {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeMidtrans {
    /// Starts a fake that expects [`SERVER_KEY`].
    pub async fn start() -> Self {
        Self::start_with_key(SERVER_KEY).await
    }

    pub async fn start_with_key(server_key: &str) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            server_key: server_key.to_owned(),
            ..Inner::default()
        }));
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&inner));
        let addr = serve(router).await;
        Self { addr, inner }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("fake Midtrans lock")
    }

    /// Snap base URL, as `SHOP_MIDTRANS_SNAP_URL` wants it.
    pub fn snap_url(&self) -> String {
        format!("http://{}/snap/v1", self.addr)
    }

    /// Core API base URL, as `SHOP_MIDTRANS_API_URL` wants it.
    pub fn api_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    pub fn server_key(&self) -> String {
        self.lock().server_key.clone()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The Snap request that created `order_id`'s transaction.
    pub fn transaction(&self, order_id: &str) -> Option<Value> {
        self.lock()
            .transactions
            .get(order_id)
            .map(|transaction| transaction.request.clone())
    }

    /// The refunds made on `order_id`, as the refund endpoint answered them.
    pub fn refunds(&self, order_id: &str) -> Vec<Value> {
        self.lock()
            .transactions
            .get(order_id)
            .map(|transaction| transaction.refunds.clone())
            .unwrap_or_default()
    }

    /// The next request (whatever it is) answers this HTTP status with a Midtrans error body.
    pub fn fail_next(&self, status: u16) {
        self.lock().fail_next = Some(status);
    }

    /// From now on the status endpoint answers a question about `order_id` with the status of
    /// `other` (both created by Snap), as a misbehaving API would.
    pub fn answer_status_of_other(&self, order_id: &str, other: &str) {
        self.lock()
            .status_of_other
            .insert(order_id.to_owned(), other.to_owned());
    }

    /// Sets what the status endpoint reports for `order_id` (created by Snap first).
    pub fn set_status(&self, order_id: &str, transaction_status: &str, fraud_status: Option<&str>) {
        let mut inner = self.lock();
        let transaction = inner
            .transactions
            .get_mut(order_id)
            .unwrap_or_else(|| panic!("no Snap transaction for order {order_id}"));
        transaction.status = Some(transaction_status.to_owned());
        transaction.fraud_status = fraud_status.map(str::to_owned);
    }

    /// Makes Midtrans report `gross_rupiah` as `order_id`'s amount from now on (in notifications
    /// and status answers), as if another amount had been charged than the shop asked for.
    pub fn set_gross_amount(&self, order_id: &str, gross_rupiah: i64) {
        let mut inner = self.lock();
        let transaction = inner
            .transactions
            .get_mut(order_id)
            .unwrap_or_else(|| panic!("no Snap transaction for order {order_id}"));
        transaction.gross = gross_rupiah;
    }

    /// Moves `order_id`'s transaction to `transaction_status` and returns the HTTP notification
    /// Midtrans sends about it: headers (lower-case names) and JSON body, with `gross_amount`
    /// spelled `"24145.00"` and `signature_key = SHA512(order_id + status_code + gross_amount +
    /// server key)`.
    pub fn notification(
        &self,
        order_id: &str,
        transaction_status: &str,
        fraud_status: Option<&str>,
    ) -> (Vec<(String, String)>, Vec<u8>) {
        self.set_status(order_id, transaction_status, fraud_status);
        let body = {
            let inner = self.lock();
            let transaction = &inner.transactions[order_id];
            status_body(order_id, transaction)
        };
        self.signed_notification(body)
    }

    /// Signs arbitrary notification fields (for malformed or foreign notifications): sets
    /// `signature_key` from the `order_id`, `status_code` and `gross_amount` strings present.
    pub fn signed_notification(&self, mut fields: Value) -> (Vec<(String, String)>, Vec<u8>) {
        let text = |name: &str| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let signature = signature(
            &text("order_id"),
            &text("status_code"),
            &text("gross_amount"),
            &self.server_key(),
        );
        if let Some(object) = fields.as_object_mut() {
            object.insert("signature_key".into(), Value::String(signature));
        }
        let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        (headers, serde_json::to_vec(&fields).expect("JSON"))
    }
}

/// Lower-case hex `SHA512(order_id + status_code + gross_amount + server_key)`.
pub fn signature(
    order_id: &str,
    status_code: &str,
    gross_amount: &str,
    server_key: &str,
) -> String {
    let digest = Sha512::digest(format!("{order_id}{status_code}{gross_amount}{server_key}"));
    hex::encode(digest)
}

/// Midtrans' `status_code` for a transaction status ("Midtrans Status Code", Code 2xx/4xx).
fn status_code(transaction_status: &str) -> &'static str {
    match transaction_status {
        "pending" => "201",
        "deny" | "failure" => "202",
        "expire" => "407",
        _ => "200",
    }
}

fn rupiah(amount: i64) -> String {
    format!("{amount}.00")
}

fn wib_now() -> String {
    let wib = FixedOffset::east_opt(7 * 3600).expect("GMT+7");
    Utc::now()
        .with_timezone(&wib)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The status answer (and notification body, which has the same fields).
fn status_body(order_id: &str, transaction: &Transaction) -> Value {
    let status = transaction.status.as_deref().unwrap_or("pending");
    let mut body = json!({
        "status_code": status_code(status),
        "status_message": format!("Success, transaction is {status}"),
        "transaction_id": transaction.transaction_id,
        "order_id": order_id,
        "merchant_id": "G000000000",
        "gross_amount": rupiah(transaction.gross),
        "currency": "IDR",
        "payment_type": "bank_transfer",
        "transaction_time": wib_now(),
        "transaction_status": status,
    });
    if let Some(object) = body.as_object_mut() {
        if let Some(fraud_status) = &transaction.fraud_status {
            object.insert("fraud_status".into(), Value::String(fraud_status.clone()));
        }
        if status == "settlement" {
            object.insert("settlement_time".into(), Value::String(wib_now()));
        }
        if !transaction.refunds.is_empty() {
            object.insert("refunds".into(), Value::Array(transaction.refunds.clone()));
        }
    }
    body
}

fn snap_error(status: StatusCode, messages: &[&str]) -> Response {
    (status, axum::Json(json!({ "error_messages": messages }))).into_response()
}

/// Core API errors travel in a 200, as Midtrans' own `status_code`.
fn core_error(code: &str, message: &str) -> Response {
    axum::Json(json!({"status_code": code, "status_message": message})).into_response()
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = inner.lock().expect("fake Midtrans lock");
    inner
        .requests
        .push(RecordedRequest::new(&method, &uri, &headers, &body));
    if let Some(status) = inner.fail_next.take() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return snap_error(status, &["the fake was told to fail this request"]);
    }
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:", inner.server_key))
    );
    let authorized = headers
        .get("authorization")
        .is_some_and(|value| value.as_bytes() == expected.as_bytes());
    let path = uri.path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["snap", "v1", "transactions"]) => {
            if !authorized {
                return snap_error(
                    StatusCode::UNAUTHORIZED,
                    &[
                        "Access denied due to unauthorized transaction, please check client or server key",
                    ],
                );
            }
            create_transaction(&mut inner, &body)
        }
        (_, ["v2", ..]) if !authorized => core_error(
            "401",
            "Access denied due to unauthorized transaction, please check client or server key",
        ),
        ("GET", ["v2", order_id, "status"]) => {
            let answered = inner
                .status_of_other
                .get(*order_id)
                .cloned()
                .unwrap_or_else(|| (*order_id).to_owned());
            match inner.transactions.get(&answered) {
                Some(transaction) if transaction.status.is_some() => {
                    axum::Json(status_body(&answered, transaction)).into_response()
                }
                _ => core_error("404", "Transaction doesn't exist."),
            }
        }
        ("POST", ["v2", order_id, "refund"]) => refund(&mut inner, order_id, &body),
        _ => snap_error(StatusCode::NOT_FOUND, &["not found"]),
    }
}

fn create_transaction(inner: &mut Inner, body: &Bytes) -> Response {
    let bad = |message: &str| snap_error(StatusCode::BAD_REQUEST, &[message]);
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return bad("request body is not valid JSON");
    };
    let Some(order_id) = request
        .pointer("/transaction_details/order_id")
        .and_then(Value::as_str)
    else {
        return bad("transaction_details.order_id is required");
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_~.".contains(c);
    if order_id.is_empty() || order_id.len() > 50 || !order_id.chars().all(allowed) {
        return bad("transaction_details.order_id is invalid");
    }
    let Some(gross) = request
        .pointer("/transaction_details/gross_amount")
        .and_then(Value::as_i64)
        .filter(|gross| *gross > 0)
    else {
        return bad("transaction_details.gross_amount must be a positive integer");
    };
    if let Some(items) = request.get("item_details") {
        let Some(items) = items.as_array() else {
            return bad("item_details must be an array");
        };
        let mut sum = 0i64;
        for item in items {
            let price = item.get("price").and_then(Value::as_i64);
            let quantity = item
                .get("quantity")
                .and_then(Value::as_i64)
                .filter(|q| *q > 0);
            let name = item.get("name").and_then(Value::as_str).unwrap_or("");
            let (Some(price), Some(quantity)) = (price, quantity) else {
                return bad("item_details.price and item_details.quantity must be integers");
            };
            if name.is_empty() || name.chars().count() > 50 {
                return bad("item_details.name is required and at most 50 characters");
            }
            sum = sum.saturating_add(price.saturating_mul(quantity));
        }
        if sum != gross {
            return bad("transaction_details.gross_amount is not equal to the sum of item_details");
        }
    }
    if let Some(expiry) = request.get("expiry") {
        let start = expiry
            .get("start_time")
            .and_then(Value::as_str)
            .unwrap_or("");
        let unit = expiry.get("unit").and_then(Value::as_str).unwrap_or("");
        let duration = expiry.get("duration").and_then(Value::as_i64).unwrap_or(0);
        let start_ok = chrono::DateTime::parse_from_str(start, "%Y-%m-%d %H:%M:%S %z").is_ok();
        let units = ["minute", "minutes", "hour", "hours", "day", "days"];
        if !start_ok || !units.contains(&unit) || duration < 1 {
            return bad("expiry.start_time, expiry.unit or expiry.duration is invalid");
        }
    }
    if inner.transactions.contains_key(order_id) {
        return bad("transaction_details.order_id has already been taken");
    }
    inner.counter += 1;
    let token = format!("snap-token-{:04}", inner.counter);
    let transaction = Transaction {
        transaction_id: format!("fake-trx-{:04}", inner.counter),
        gross,
        status: None,
        fraud_status: None,
        refunds: Vec::new(),
        request: request.clone(),
    };
    inner.transactions.insert(order_id.to_owned(), transaction);
    let redirect_url = format!("https://app.sandbox.midtrans.com/snap/v4/redirection/{token}");
    (
        StatusCode::CREATED,
        axum::Json(json!({"token": token, "redirect_url": redirect_url})),
    )
        .into_response()
}

fn refund(inner: &mut Inner, order_id: &str, body: &Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return core_error("400", "request body is not valid JSON");
    };
    inner.counter += 1;
    let counter = inner.counter;
    let Some(transaction) = inner.transactions.get_mut(order_id) else {
        return core_error("404", "Transaction doesn't exist.");
    };
    let refund_key = request
        .get("refund_key")
        .and_then(Value::as_str)
        .map_or_else(|| format!("midtrans-refund-{counter}"), str::to_owned);
    // The same refund_key is the same refund: answer it again, refund nothing more.
    if let Some(done) = transaction.refunds.iter().find(|refund| {
        refund.get("refund_key").and_then(Value::as_str) == Some(refund_key.as_str())
    }) {
        return axum::Json(refund_answer(order_id, transaction, done)).into_response();
    }
    let status = transaction.status.as_deref().unwrap_or("");
    if !matches!(status, "settlement" | "capture" | "partial_refund") {
        return core_error(
            "412",
            "Merchant cannot modify the status of the transaction",
        );
    }
    let refunded: i64 = transaction
        .refunds
        .iter()
        .filter_map(|refund| refund.get("amount").and_then(Value::as_i64))
        .sum();
    let remaining = transaction.gross - refunded;
    let amount = match request.get("amount") {
        None => remaining,
        Some(amount) => match amount.as_i64() {
            Some(amount) if amount > 0 => amount,
            _ => return core_error("400", "amount must be a positive integer"),
        },
    };
    if amount > remaining {
        return core_error("412", "Refund amount is more than the remaining amount");
    }
    let entry = json!({
        "refund_chargeback_id": counter,
        "refund_amount": rupiah(amount),
        "amount": amount,
        "reason": request.get("reason").cloned().unwrap_or(Value::Null),
        "refund_key": refund_key,
        "created_at": wib_now(),
    });
    transaction.refunds.push(entry.clone());
    transaction.status = Some(
        if amount == remaining {
            "refund"
        } else {
            "partial_refund"
        }
        .to_owned(),
    );
    axum::Json(refund_answer(order_id, transaction, &entry)).into_response()
}

fn refund_answer(order_id: &str, transaction: &Transaction, refund: &Value) -> Value {
    json!({
        "status_code": "200",
        "status_message": "Success, refund request is approved",
        "transaction_id": transaction.transaction_id,
        "order_id": order_id,
        "gross_amount": rupiah(transaction.gross),
        "currency": "IDR",
        "payment_type": "credit_card",
        "transaction_time": wib_now(),
        "transaction_status": transaction.status,
        "refund_chargeback_id": refund.get("refund_chargeback_id"),
        "refund_amount": refund.get("refund_amount"),
        "refund_key": refund.get("refund_key"),
    })
}
