//! The JSON and URL details of the API server's wire format that the double needs.

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::{Value, json};

use super::{Collection, Target};

/// RFC 7386 JSON merge patch, which is how the fake applies merge, strategic and apply patches.
pub(super) fn merge(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Some(object) = target.as_object_mut() {
        for (key, value) in fields {
            if value.is_null() {
                object.remove(key);
            } else {
                merge(object.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Equal apart from what the server itself maintains.
pub(super) fn same_content(a: &Value, b: &Value) -> bool {
    let strip = |object: &Value| {
        let mut object = object.clone();
        if let Some(metadata) = object["metadata"].as_object_mut() {
            for field in ["resourceVersion", "managedFields", "generation"] {
                metadata.remove(field);
            }
        }
        object
    };
    strip(a) == strip(b)
}

pub(super) fn partial_metadata(answer: &Value) -> Value {
    let one = |object: &Value| {
        json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": object["metadata"],
        })
    };
    match answer["items"].as_array() {
        Some(items) => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": answer["metadata"],
            "items": items.iter().map(one).collect::<Vec<_>>(),
        }),
        None => one(answer),
    }
}

pub(super) fn resource_version(object: &Value) -> Option<u64> {
    object["metadata"]["resourceVersion"].as_str()?.parse().ok()
}

pub(super) fn object_key(collection: &Collection, object: &Value) -> (Collection, String, String) {
    let field = |name: &str| {
        object["metadata"][name]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    (collection.clone(), field("namespace"), field("name"))
}

/// `/api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]]` or the same under `/apis/GROUP/VERSION`.
pub(super) fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", namespace, rest @ ..] if !rest.is_empty() => (Some(*namespace), rest),
        _ => (None, rest),
    };
    let (resource, rest) = rest.split_first()?;
    Some(Target {
        collection: Collection {
            group: group.to_owned(),
            version: version.to_owned(),
            resource: (*resource).to_owned(),
        },
        namespace: namespace.map(str::to_owned),
        name: rest.first().map(|name| (*name).to_owned()),
        subresource: rest.get(1).map(|sub| (*sub).to_owned()),
    })
}

/// The path of the object (or collection) a target names, without its subresource.
pub(super) fn object_path(target: &Target) -> String {
    let collection = &target.collection;
    let mut path = if collection.group.is_empty() {
        format!("/api/{}", collection.version)
    } else {
        format!("/apis/{}/{}", collection.group, collection.version)
    };
    if let Some(namespace) = &target.namespace {
        path.push_str(&format!("/namespaces/{namespace}"));
    }
    path.push_str(&format!("/{}", collection.resource));
    if let Some(name) = &target.name {
        path.push_str(&format!("/{name}"));
    }
    path
}

pub(super) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        index += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn encode_query<'a>(pairs: impl Iterator<Item = &'a (String, String)>) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (byte as char).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(super) fn status_body(code: StatusCode, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    })
}

pub(super) fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    json_response(code, &status_body(code, reason, message))
}

pub(super) fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
