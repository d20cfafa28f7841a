//! The HTTP side of the test API: answers, errors as the API server's `Status`, request
//! parameters, merge patches and the write log's wording.

use http::{Method, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

use super::kinds::Kind;

/// An answer other than success, as the API server's `Status`.
#[derive(Debug)]
pub struct Failure {
    pub code: u16,
    pub reason: String,
    pub message: String,
}

impl Failure {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    pub fn not_found(kind: &Kind, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", kind.plural),
        )
    }

    pub fn response(&self) -> Value {
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        })
    }
}

impl From<kube::Error> for Failure {
    fn from(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => Self::new(status.code, &status.reason, status.message),
            other => Self::new(500, "InternalError", other.to_string()),
        }
    }
}

pub type Reply = Result<(StatusCode, Value), Failure>;

pub fn respond(code: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap_or_default()))
        .expect("a response with a valid status code")
}

pub fn parse(body: &[u8]) -> Result<Value, Failure> {
    serde_json::from_slice(body)
        .map_err(|error| Failure::new(400, "BadRequest", format!("the body is not JSON: {error}")))
}

pub fn check_resource_version(kind: &Kind, old: &Value, sent: &Value) -> Result<(), Failure> {
    let sent = text(sent, "/metadata/resourceVersion");
    if !sent.is_empty() && sent != text(old, "/metadata/resourceVersion") {
        let name = text(old, "/metadata/name");
        return Err(Failure::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                kind.plural
            ),
        ));
    }
    Ok(())
}

/// RFC 7386 merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Some(map) = target.as_object_mut() {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

pub fn describe_write(method: &Method, path: &str, body: &[u8]) -> Option<String> {
    let object: Value = serde_json::from_slice(body).unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let status = segments.last() == Some(&"status");
    let name = if status {
        segments.iter().rev().nth(1)
    } else {
        segments.last()
    }
    .copied()
    .unwrap_or("?");
    let described = || {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("?");
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or(name);
        format!("{kind}/{name}")
    };
    Some(match *method {
        Method::POST => format!("create {}", described()),
        Method::PATCH if status => format!("patch-status {name}"),
        Method::PATCH => format!("patch {}", described()),
        Method::PUT if status => format!("replace-status {name}"),
        Method::PUT => format!("replace {}", described()),
        Method::DELETE => format!("delete {name}"),
        _ => return None,
    })
}

pub fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, "true"));
        (name == key).then(|| percent_decode(value))
    })
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                index += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                index += 1;
            }
            (byte, _) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn new_uid() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
