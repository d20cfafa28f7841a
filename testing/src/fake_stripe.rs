//! A fake Stripe for tests, following the documented API (docs.stripe.com): Bearer auth with
//! the secret key; form-encoded `POST /v1/checkout/sessions` (validated line items,
//! `expires_at` 30 min–24 h ahead), `GET /v1/checkout/sessions/{id}`, `POST /v1/refunds`
//! (never more than what is left), `GET /v1/payment_intents/search?query=metadata['order_id']:'…'`;
//! `Idempotency-Key` replays the first answer for the same parameters and refuses other
//! parameters with a 400 `idempotency_error`; errors are `{"error": {"type", "code", "message"}}`.
//! The test decides how a payment goes ([`FakeStripe::complete_session`] …) and gets the event
//! Stripe would post, signed as Stripe signs webhooks (`Stripe-Signature: t=…,v1=…`).

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
use chrono::Utc;
use hmac::{Hmac, Mac as _};
use serde_json::{Map, Value, json};
use sha2::Sha256;

pub use crate::fake_http::RecordedRequest;
use crate::fake_http::serve;

pub const SECRET_KEY: &str = "sk_test_fake";
pub const WEBHOOK_SECRET: &str = "whsec_fake";

#[derive(Debug, Default)]
struct Inner {
    sessions: Vec<Value>,
    /// Payment intents with their charge inline as `latest_charge`.
    intents: Vec<Value>,
    refunds: Vec<Value>,
    /// Idempotency-Key → (method + path + body, status, answer).
    idempotency: HashMap<String, (String, StatusCode, Value)>,
    requests: Vec<RecordedRequest>,
    fail_next: Option<u16>,
    /// Answer the next request only after this long, having done what it asks.
    delay_next: Option<std::time::Duration>,
    counter: u64,
}

/// The running fake; clones share it.
#[derive(Debug, Clone)]
pub struct FakeStripe {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeStripe {
    /// Starts a fake expecting [`SECRET_KEY`] and signing with [`WEBHOOK_SECRET`].
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&inner));
        let addr = serve(router).await;
        Self { addr, inner }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("fake Stripe lock")
    }

    /// API base URL without `/v1`, as `SHOP_STRIPE_API_URL` wants it.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn secret_key(&self) -> &'static str {
        SECRET_KEY
    }

    pub fn webhook_secret(&self) -> &'static str {
        WEBHOOK_SECRET
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    pub fn sessions(&self) -> Vec<Value> {
        self.lock().sessions.clone()
    }

    pub fn session(&self, id: &str) -> Option<Value> {
        self.lock()
            .sessions
            .iter()
            .find(|session| session["id"] == id)
            .cloned()
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.lock().refunds.clone()
    }

    /// The next request (whatever it is) answers this HTTP status with a Stripe error body.
    /// The next request is carried out at once but answered only after `delay`, as when the
    /// answer is lost to a client's timeout.
    pub fn delay_next(&self, delay: std::time::Duration) {
        self.lock().delay_next = Some(delay);
    }

    pub fn fail_next(&self, status: u16) {
        self.lock().fail_next = Some(status);
    }

    /// The customer paid: the session becomes `complete`/`paid` with a succeeded payment intent
    /// and charge; returns the `checkout.session.completed` event.
    pub fn complete_session(&self, session_id: &str) -> Value {
        let mut inner = self.lock();
        let intent_id = new_intent(&mut inner, session_id, "succeeded", None);
        let session = session_mut(&mut inner, session_id);
        session["payment_status"] = "paid".into();
        session["status"] = "complete".into();
        session["payment_intent"] = intent_id.into();
        let session = session.clone();
        event(&mut inner, "checkout.session.completed", session)
    }

    /// The customer's payment failed; returns the `payment_intent.payment_failed` event.
    pub fn payment_failed_event(&self, session_id: &str, message: &str) -> Value {
        let mut inner = self.lock();
        let intent_id = new_intent(
            &mut inner,
            session_id,
            "requires_payment_method",
            Some(message),
        );
        let intent = find(&inner.intents, &intent_id).clone();
        event(&mut inner, "payment_intent.payment_failed", intent)
    }

    /// A `charge.refunded` event for the payment intent's charge as it stands now.
    pub fn charge_refunded_event(&self, payment_intent: &str) -> Value {
        let mut inner = self.lock();
        let charge = find(&inner.intents, payment_intent)["latest_charge"].clone();
        event(&mut inner, "charge.refunded", charge)
    }

    /// The event as Stripe posts it: headers (lower-case names) with `stripe-signature:
    /// t={now},v1={hex HMAC-SHA256("{t}.{body}", webhook secret)}` and the raw body.
    pub fn signed_event(&self, event: &Value) -> (Vec<(String, String)>, Vec<u8>) {
        self.signed_event_at(event, Utc::now().timestamp())
    }

    /// Signed with timestamp `t` (seconds since the epoch), for stale-signature tests.
    pub fn signed_event_at(&self, event: &Value, t: i64) -> (Vec<(String, String)>, Vec<u8>) {
        let body = serde_json::to_vec(event).expect("JSON");
        let header = format!("t={t},v1={}", signature(t, &body, WEBHOOK_SECRET));
        (headers(header), body)
    }

    /// Signed with another secret: what a forger without the endpoint secret can send.
    pub fn forged_event(&self, event: &Value) -> (Vec<(String, String)>, Vec<u8>) {
        let body = serde_json::to_vec(event).expect("JSON");
        let t = Utc::now().timestamp();
        let header = format!("t={t},v1={}", signature(t, &body, "whsec_not_the_secret"));
        (headers(header), body)
    }
}

/// Hex HMAC-SHA256 of `"{t}.{body}"` with `secret`, Stripe's `v1` scheme.
pub fn signature(t: i64, body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn headers(signature: String) -> Vec<(String, String)> {
    vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("stripe-signature".to_owned(), signature),
    ]
}

fn find<'a>(objects: &'a [Value], id: &str) -> &'a Value {
    objects
        .iter()
        .find(|object| object["id"] == id)
        .unwrap_or_else(|| panic!("the fake has no {id}"))
}

fn session_mut<'a>(inner: &'a mut Inner, id: &str) -> &'a mut Value {
    inner
        .sessions
        .iter_mut()
        .find(|session| session["id"] == id)
        .unwrap_or_else(|| panic!("the fake has no session {id}"))
}

fn next_id(inner: &mut Inner, prefix: &str) -> String {
    inner.counter += 1;
    format!("{prefix}_fake{:06}", inner.counter)
}

/// A payment intent (and its charge) for the session's amount and order metadata.
fn new_intent(inner: &mut Inner, session_id: &str, status: &str, error: Option<&str>) -> String {
    let session = session_mut(inner, session_id).clone();
    let intent_id = next_id(inner, "pi");
    let charge_id = next_id(inner, "ch");
    let metadata = session["payment_intent_data_metadata"].clone();
    let charge = json!({
        "id": charge_id, "object": "charge", "amount": session["amount_total"],
        "amount_refunded": 0, "currency": session["currency"], "payment_intent": intent_id,
        "metadata": metadata, "refunded": false, "paid": status == "succeeded",
    });
    let mut intent = json!({
        "id": intent_id, "object": "payment_intent", "amount": session["amount_total"],
        "currency": session["currency"], "status": status, "metadata": metadata,
        "latest_charge": charge,
    });
    if let Some(message) = error {
        intent["last_payment_error"] =
            json!({"type": "card_error", "code": "card_declined", "message": message});
    }
    inner.intents.push(intent);
    intent_id
}

fn event(inner: &mut Inner, kind: &str, object: Value) -> Value {
    let id = next_id(inner, "evt");
    json!({
        "id": id, "object": "event", "type": kind, "api_version": "2024-06-20",
        "created": Utc::now().timestamp(), "livemode": false,
        "data": {"object": object},
    })
}

fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> (StatusCode, Value) {
    let mut body = json!({"type": kind, "message": message});
    if let Some(code) = code {
        body["code"] = code.into();
    }
    (status, json!({ "error": body }))
}

fn invalid(message: &str) -> (StatusCode, Value) {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("parameter_invalid"),
        message,
    )
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, answer, delay) = {
        let mut inner = inner.lock().expect("fake Stripe lock");
        inner
            .requests
            .push(RecordedRequest::new(&method, &uri, &headers, &body));
        let delay = inner.delay_next.take();
        let (status, answer) = answer(&mut inner, &method, &uri, &headers, &body);
        (status, answer, delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    (status, axum::Json(answer)).into_response()
}

fn answer(
    inner: &mut Inner,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> (StatusCode, Value) {
    if let Some(status) = inner.fail_next.take() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error(
            status,
            "api_error",
            None,
            "the fake was told to fail this request",
        );
    }
    let bearer = format!("Bearer {SECRET_KEY}");
    if headers.get("authorization").map(|value| value.as_bytes()) != Some(bearer.as_bytes()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            "Invalid API Key provided",
        );
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let fingerprint = format!("{method} {} {}", uri.path(), String::from_utf8_lossy(body));
    if let (true, Some(key)) = (method == Method::POST, &key)
        && let Some((first, status, answer)) = inner.idempotency.get(key)
    {
        if *first != fingerprint {
            return error(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                None,
                &format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                ),
            );
        }
        return (*status, answer.clone());
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let path = uri.path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let result = match (method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "checkout", "sessions"]) => create_session(inner, &form),
        ("GET", ["v1", "checkout", "sessions", id]) => {
            match inner.sessions.iter().find(|session| session["id"] == *id) {
                Some(session) => (StatusCode::OK, session.clone()),
                None => error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    Some("resource_missing"),
                    &format!("No such checkout.session: '{id}'"),
                ),
            }
        }
        ("POST", ["v1", "refunds"]) => create_refund(inner, &form),
        ("GET", ["v1", "payment_intents", "search"]) => search_intents(inner, uri.query()),
        _ => error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            None,
            "Unrecognized request URL",
        ),
    };
    // Stripe saves the answer for the key whatever it was, errors included (but not 5xx).
    if let (true, Some(key)) = (method == Method::POST, key)
        && !result.0.is_server_error()
    {
        inner
            .idempotency
            .insert(key, (fingerprint, result.0, result.1.clone()));
    }
    result
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

/// `prefix[key]=value` fields as an object (`metadata[order_id]` → `{"order_id": …}`).
fn nested(form: &[(String, String)], prefix: &str) -> Value {
    let map: Map<String, Value> = form
        .iter()
        .filter_map(|(name, value)| {
            let key = name
                .strip_prefix(prefix)?
                .strip_prefix('[')?
                .strip_suffix(']')?;
            (!key.contains('[')).then(|| (key.to_owned(), Value::String(value.clone())))
        })
        .collect();
    Value::Object(map)
}

fn create_session(inner: &mut Inner, form: &[(String, String)]) -> (StatusCode, Value) {
    match field(form, "mode") {
        Some("payment") => {}
        Some(_) => return invalid("Invalid mode: this fake only knows payment"),
        None => return invalid("Missing required param: mode."),
    }
    let mut total = 0i64;
    let mut currency: Option<String> = None;
    let mut index = 0;
    while let Some(quantity) = field(form, &format!("line_items[{index}][quantity]")) {
        let line = |name: &str| field(form, &format!("line_items[{index}]{name}"));
        let Some(quantity) = quantity.parse::<i64>().ok().filter(|q| *q >= 1) else {
            return invalid("Invalid quantity: must be a positive integer");
        };
        let Some(unit) = line("[price_data][unit_amount]").and_then(|raw| raw.parse::<i64>().ok())
        else {
            return invalid("Invalid integer: unit_amount");
        };
        if unit < 0 {
            return invalid("This value must be greater than or equal to 0.");
        }
        let code = line("[price_data][currency]").unwrap_or("");
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_lowercase()) {
            return invalid("Invalid currency: must be a lower-case ISO code");
        }
        if currency.as_deref().is_some_and(|first| first != code) {
            return invalid("All line items must be in the same currency");
        }
        currency = Some(code.to_owned());
        if line("[price_data][product_data][name]").is_none_or(str::is_empty) {
            return invalid(
                "Missing required param: line_items[][price_data][product_data][name].",
            );
        }
        total = total.saturating_add(unit.saturating_mul(quantity));
        index += 1;
    }
    let Some(currency) = currency else {
        return invalid("Missing required param: line_items.");
    };
    let now = Utc::now().timestamp();
    let expires_at = match field(form, "expires_at").map(str::parse::<i64>) {
        None => now + 24 * 3600,
        Some(Ok(at)) if (now + 30 * 60..=now + 24 * 3600).contains(&at) => at,
        Some(_) => {
            return invalid(
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
            );
        }
    };
    let id = next_id(inner, "cs_test");
    let session = json!({
        "id": id, "object": "checkout.session", "mode": "payment",
        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
        "amount_total": total, "currency": currency, "expires_at": expires_at,
        "client_reference_id": field(form, "client_reference_id"),
        "customer_email": field(form, "customer_email"),
        "success_url": field(form, "success_url"), "cancel_url": field(form, "cancel_url"),
        "metadata": nested(form, "metadata"),
        "payment_intent_data_metadata": nested(form, "payment_intent_data[metadata]"),
        "payment_intent": null, "payment_status": "unpaid", "status": "open",
    });
    inner.sessions.push(session.clone());
    (StatusCode::OK, session)
}

fn create_refund(inner: &mut Inner, form: &[(String, String)]) -> (StatusCode, Value) {
    let Some(intent_id) = field(form, "payment_intent") else {
        return invalid("Missing required param: payment_intent.");
    };
    if let Some(reason) = field(form, "reason")
        && !["duplicate", "fraudulent", "requested_by_customer"].contains(&reason)
    {
        return invalid("Invalid reason");
    }
    let amount = field(form, "amount").map(str::parse::<i64>);
    let id = next_id(inner, "re");
    let Some(intent) = inner
        .intents
        .iter_mut()
        .find(|intent| intent["id"] == intent_id)
    else {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("resource_missing"),
            &format!("No such payment_intent: '{intent_id}'"),
        );
    };
    let charge = &mut intent["latest_charge"];
    let paid = charge["amount"].as_i64().unwrap_or(0);
    let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
    let remaining = paid - refunded;
    let amount = match amount {
        None => remaining,
        Some(Ok(amount)) if amount > 0 => amount,
        Some(_) => return invalid("Invalid positive integer: amount"),
    };
    if intent["status"] != "succeeded" || remaining == 0 {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("charge_already_refunded"),
            "Charge has already been refunded.",
        );
    }
    if amount > remaining {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("amount_too_large"),
            &format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})"
            ),
        );
    }
    let currency = intent["currency"].clone();
    let charge = &mut intent["latest_charge"];
    charge["amount_refunded"] = (refunded + amount).into();
    charge["refunded"] = (refunded + amount == paid).into();
    let refund = json!({
        "id": id, "object": "refund", "amount": amount, "currency": currency,
        "payment_intent": intent_id, "charge": charge["id"], "status": "succeeded",
        "reason": field(form, "reason"), "metadata": nested(form, "metadata"),
    });
    inner.refunds.push(refund.clone());
    (StatusCode::OK, refund)
}

/// Only the query form the shop uses: `metadata['order_id']:'…'`.
fn search_intents(inner: &Inner, query: Option<&str>) -> (StatusCode, Value) {
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
    let query = field(&params, "query").unwrap_or("");
    let Some(order_id) = query
        .strip_prefix("metadata['order_id']:'")
        .and_then(|rest| rest.strip_suffix('\''))
    else {
        return invalid("this fake searches by metadata['order_id'] only");
    };
    let expand = params
        .iter()
        .any(|(name, value)| name == "expand[]" && value == "data.latest_charge");
    let data: Vec<Value> = inner
        .intents
        .iter()
        .filter(|intent| intent["metadata"]["order_id"] == order_id)
        .map(|intent| {
            let mut intent = intent.clone();
            if !expand {
                intent["latest_charge"] = intent["latest_charge"]["id"].clone();
            }
            intent
        })
        .collect();
    (
        StatusCode::OK,
        json!({"object": "search_result", "url": "/v1/payment_intents/search", "has_more": false, "data": data}),
    )
}
