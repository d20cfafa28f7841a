//! Field sets in the API server's `fieldsV1` format (`{"f:spec": {"f:replicas": {}}}`) and the
//! two ways a write changes who owns which field, as kube-apiserver's structured-merge-diff does:
//!
//! - a **server-side apply** owns exactly the fields its configuration sets; fields its manager
//!   applied before and no longer sends are removed from the object unless another manager owns
//!   them; a field another manager owns with a different value is a conflict unless forced;
//! - an **update** (create, PUT, merge patch) takes the fields it changed away from everyone else.
//!
//! Simplifications (documented in the module doc of `api_server`): which lists are merged item by
//! item is decided by the field's name (`containers`, `env`, `ports`...), not by the OpenAPI
//! schema; a missing `protocol` in a port key counts as `TCP`; `.` markers appear on list items only;
//! an empty map (`labels: {}`, `emptyDir: {}`) owns nothing.

use serde_json::{Map, Value, json};

/// A set of fields: `f:<name>` for a field, `k:{...}` for a keyed list item, `v:<json>` for a set
/// element, `.` for the item itself; an empty map is a leaf (a scalar or an atomic value).
pub type Fields = Map<String, Value>;

/// Lists merged item by item, with the fields that identify an item.
const ASSOCIATIVE: &[(&str, &[&str])] = &[
    ("containers", &["name"]),
    ("initContainers", &["name"]),
    ("ephemeralContainers", &["name"]),
    ("env", &["name"]),
    ("volumes", &["name"]),
    ("imagePullSecrets", &["name"]),
    ("volumeMounts", &["mountPath"]),
    ("ownerReferences", &["uid"]),
    ("conditions", &["type"]),
    ("hostAliases", &["ip"]),
    (
        "topologySpreadConstraints",
        &["topologyKey", "whenUnsatisfiable"],
    ),
];

/// Lists of scalars merged as sets.
const SETS: &[&str] = &["finalizers"];

/// Structs the API server replaces as a whole (`x-kubernetes-map-type: atomic`).
const ATOMIC: &[&str] = &[
    "selector",
    "podSelector",
    "namespaceSelector",
    "labelSelector",
    "secretKeyRef",
    "configMapKeyRef",
    "fieldRef",
    "resourceFieldRef",
];

/// Metadata the server sets, never owned by a manager.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "managedFields",
    "selfLink",
];

fn key_fields(field: &str, item: &Value) -> Option<&'static [&'static str]> {
    if field == "ports" {
        return Some(if item.get("containerPort").is_some() {
            &["containerPort", "protocol"]
        } else {
            &["port", "protocol"]
        });
    }
    ASSOCIATIVE
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, keys)| *keys)
}

fn is_associative(field: &str) -> bool {
    field == "ports" || ASSOCIATIVE.iter().any(|(name, _)| *name == field)
}

/// The `k:{...}` key of a list item, e.g. `k:{"containerPort":8080,"protocol":"TCP"}`.
fn item_key(field: &str, item: &Value) -> Option<String> {
    let parts: Vec<String> = key_fields(field, item)?
        .iter()
        .filter_map(|key| {
            let value = match item.get(*key) {
                Some(value) => value.clone(),
                None if *key == "protocol" => json!("TCP"),
                None => return None,
            };
            Some(format!("{}:{value}", json!(key)))
        })
        .collect();
    Some(format!("k:{{{}}}", parts.join(",")))
}

fn key_matches(item: &Value, key: &Map<String, Value>) -> bool {
    key.iter().all(|(name, want)| match item.get(name) {
        Some(have) => have == want,
        None => name == "protocol" && want == "TCP",
    })
}

/// The fields an object sets (identity and server-set metadata left out).
pub fn fields_of(object: &Value) -> Fields {
    let mut fields = node(object, true);
    fields.remove("f:apiVersion");
    fields.remove("f:kind");
    fields
}

fn node(value: &Value, top: bool) -> Fields {
    let mut fields = Fields::new();
    let Value::Object(map) = value else {
        return fields;
    };
    for (key, child) in map {
        if child.is_null() {
            continue;
        }
        // An empty map sets no field of its own (it would read as owning every key beneath).
        if child.as_object().is_some_and(|map| map.is_empty()) && !ATOMIC.contains(&key.as_str()) {
            continue;
        }
        let mut set = field_node(key, child);
        if top && key == "metadata" {
            for skipped in SERVER_METADATA {
                set.remove(&format!("f:{skipped}"));
            }
            if set.is_empty() {
                continue;
            }
        }
        fields.insert(format!("f:{key}"), Value::Object(set));
    }
    fields
}

fn field_node(key: &str, value: &Value) -> Fields {
    match value {
        Value::Object(map) if !map.is_empty() && !ATOMIC.contains(&key) => node(value, false),
        Value::Array(items) if is_associative(key) => {
            let mut fields = Fields::new();
            for item in items {
                if let Some(item_key) = item_key(key, item) {
                    let mut child = node(item, false);
                    child.insert(".".to_owned(), json!({}));
                    fields.insert(item_key, Value::Object(child));
                }
            }
            fields
        }
        Value::Array(items) if SETS.contains(&key) => items
            .iter()
            .map(|item| (format!("v:{item}"), json!({})))
            .collect(),
        _ => Fields::new(),
    }
}

/// Every leaf path of a field set.
pub fn leaves(fields: &Fields) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (key, child) in fields {
        match child.as_object() {
            Some(child) if !child.is_empty() => {
                for mut rest in leaves(child) {
                    rest.insert(0, key.clone());
                    out.push(rest);
                }
            }
            _ => out.push(vec![key.clone()]),
        }
    }
    out
}

/// Whether `fields` owns `path`, part of it (a descendant) or all of it (an atomic ancestor).
pub fn touches(fields: &Fields, path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    match fields.get(first).and_then(Value::as_object) {
        None => false,
        Some(child) if child.is_empty() => true,
        Some(child) => touches(child, rest),
    }
}

/// Removes `path` (with what lies under it, or the atomic ancestor holding it) from `fields`.
pub fn subtract(fields: &mut Fields, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(child) = fields.get_mut(first).and_then(Value::as_object_mut) else {
        return;
    };
    if rest.is_empty() || child.is_empty() {
        fields.remove(first);
        return;
    }
    subtract(child, rest);
    if child.is_empty() {
        fields.remove(first);
    }
}

/// `a ∪ b`.
pub fn union(a: &mut Fields, b: &Fields) {
    for (key, theirs) in b {
        let theirs = theirs.as_object().cloned().unwrap_or_default();
        match a.get_mut(key).and_then(Value::as_object_mut) {
            Some(ours) if ours.is_empty() || theirs.is_empty() => {
                ours.clear();
            }
            Some(ours) => union(ours, &theirs),
            None => {
                a.insert(key.clone(), Value::Object(theirs));
            }
        }
    }
}

/// The value at a field path in an object, if the object holds it.
pub fn value_at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((first, rest)) = path.split_first() else {
        return (!value.is_null()).then_some(value);
    };
    if first == "." {
        return rest.is_empty().then_some(value);
    }
    value_at(child(value, first)?, rest)
}

fn child<'a>(value: &'a Value, segment: &str) -> Option<&'a Value> {
    if let Some(name) = segment.strip_prefix("f:") {
        value.as_object()?.get(name)
    } else if let Some(key) = segment.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(key).ok()?;
        value
            .as_array()?
            .iter()
            .find(|item| key_matches(item, &key))
    } else if let Some(element) = segment.strip_prefix("v:") {
        let element: Value = serde_json::from_str(element).ok()?;
        value.as_array()?.iter().find(|item| **item == element)
    } else {
        None
    }
}

fn child_mut<'a>(value: &'a mut Value, segment: &str) -> Option<&'a mut Value> {
    if let Some(name) = segment.strip_prefix("f:") {
        value.as_object_mut()?.get_mut(name)
    } else if let Some(key) = segment.strip_prefix("k:") {
        let key: Map<String, Value> = serde_json::from_str(key).ok()?;
        value
            .as_array_mut()?
            .iter_mut()
            .find(|item| key_matches(item, &key))
    } else {
        None
    }
}

fn remove_child(value: &mut Value, segment: &str) -> bool {
    if let Some(name) = segment.strip_prefix("f:") {
        value
            .as_object_mut()
            .and_then(|map| map.remove(name))
            .is_some()
    } else if let Some(list) = value.as_array_mut() {
        let before = list.len();
        if let Some(Ok(key)) = segment
            .strip_prefix("k:")
            .map(serde_json::from_str::<Map<String, Value>>)
        {
            list.retain(|item| !key_matches(item, &key));
        } else if let Some(Ok(element)) = segment
            .strip_prefix("v:")
            .map(serde_json::from_str::<Value>)
        {
            list.retain(|item| *item != element);
        }
        list.len() != before
    } else {
        false
    }
}

/// Removes the field at `path` from an object; containers this leaves empty go too.
pub fn remove_at(value: &mut Value, path: &[String]) -> bool {
    match path {
        [] => false,
        [last] => remove_child(value, last),
        [first, dot] if dot == "." => remove_child(value, first),
        [first, rest @ ..] => {
            let Some(child) = child_mut(value, first) else {
                return false;
            };
            let removed = remove_at(child, rest);
            let empty = match child {
                Value::Object(map) => map.is_empty(),
                Value::Array(list) => list.is_empty(),
                _ => false,
            };
            if removed && empty {
                remove_child(value, first);
            }
            removed
        }
    }
}

/// Merges an apply configuration into an object: maps field by field, keyed lists item by item,
/// everything else replaced.
pub fn merge(live: &mut Value, config: &Value, field: &str) {
    match (live, config) {
        (Value::Object(live), Value::Object(config)) if !ATOMIC.contains(&field) => {
            for (key, value) in config {
                if value.is_null() {
                    continue;
                }
                match live.get_mut(key) {
                    Some(existing) => merge(existing, value, key),
                    None => {
                        live.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(live), Value::Array(config)) if is_associative(field) => {
            for item in config {
                let key = item_key(field, item);
                match live
                    .iter_mut()
                    .find(|existing| item_key(field, existing) == key)
                {
                    Some(existing) => merge(existing, item, ""),
                    None => live.push(item.clone()),
                }
            }
        }
        (live, config) => *live = config.clone(),
    }
}

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub manager: String,
    pub operation: String,
    pub subresource: String,
    pub api_version: String,
    pub time: String,
    pub fields: Fields,
}

impl Entry {
    pub fn read(object: &Value) -> Vec<Entry> {
        let entries = object
            .pointer("/metadata/managedFields")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        entries
            .iter()
            .map(|entry| {
                let text = |key: &str| {
                    entry
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                Entry {
                    manager: text("manager"),
                    operation: text("operation"),
                    subresource: text("subresource"),
                    api_version: text("apiVersion"),
                    time: text("time"),
                    fields: entry
                        .get("fieldsV1")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    pub fn write(object: &mut Value, entries: &[Entry]) {
        let entries: Vec<Value> = entries
            .iter()
            .filter(|entry| !entry.fields.is_empty())
            .map(|entry| {
                let mut value = json!({
                    "manager": entry.manager, "operation": entry.operation,
                    "apiVersion": entry.api_version, "time": entry.time,
                    "fieldsType": "FieldsV1", "fieldsV1": entry.fields,
                });
                if !entry.subresource.is_empty() {
                    value["subresource"] = json!(entry.subresource);
                }
                value
            })
            .collect();
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert("managedFields".to_owned(), Value::Array(entries));
        }
    }

    fn is(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }
}

/// Who writes, and for which part of the object.
#[derive(Debug, Clone)]
pub struct Writer {
    pub manager: String,
    pub subresource: String,
    pub api_version: String,
    pub time: String,
}

impl Writer {
    fn entry(&self, operation: &str, fields: Fields) -> Entry {
        Entry {
            manager: self.manager.clone(),
            operation: operation.to_owned(),
            subresource: self.subresource.clone(),
            api_version: self.api_version.clone(),
            time: self.time.clone(),
            fields,
        }
    }
}

/// Server-side apply of `config` onto `live`: the new object and its managed fields, or the
/// conflicting fields (`.spec.replicas`, with the manager owning them) when not forced.
pub fn apply(
    live: &Value,
    config: &Value,
    writer: &Writer,
    force: bool,
) -> Result<Value, Vec<String>> {
    let applied = fields_of(config);
    let mut entries = Entry::read(live);
    let previous = entries
        .iter()
        .position(|entry| entry.is(&writer.manager, "Apply", &writer.subresource))
        .map(|index| entries.remove(index).fields)
        .unwrap_or_default();

    let mut conflicts = Vec::new();
    for entry in entries
        .iter_mut()
        .filter(|entry| entry.subresource == writer.subresource)
    {
        for path in leaves(&applied) {
            let differs = value_at(live, &path) != value_at(config, &path);
            if differs && touches(&entry.fields, &path) && path.last().is_some_and(|l| l != ".") {
                if force {
                    subtract(&mut entry.fields, &path);
                } else {
                    conflicts.push(format!(
                        "{} (owned by {:?})",
                        describe(&path),
                        entry.manager
                    ));
                }
            }
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }

    let mut object = live.clone();
    for path in leaves(&previous) {
        if touches(&applied, &path) {
            continue;
        }
        let owned_elsewhere = entries.iter().any(|entry| {
            entry.subresource == writer.subresource && touches(&entry.fields, owner_path(&path))
        });
        if !owned_elsewhere {
            remove_at(&mut object, &path);
        }
    }
    merge(&mut object, config, "");
    entries.push(writer.entry("Apply", applied));
    Entry::write(&mut object, &entries);
    Ok(object)
}

/// For an item's `.`, whether anyone owns anything in the item; otherwise the path itself.
fn owner_path(path: &[String]) -> &[String] {
    match path.split_last() {
        Some((last, parent)) if last == "." => parent,
        _ => path,
    }
}

/// Records an update (create, PUT, patch) by `writer`: it owns the fields it changed, which
/// nobody else owns any more; fields no longer in the object are owned by nobody.
pub fn update(
    old: Option<&Value>,
    new: &mut Value,
    writer: &Writer,
    scope: impl Fn(&Value) -> Value,
) {
    let null = Value::Null;
    let old_scoped = scope(old.unwrap_or(&null));
    let new_scoped = scope(new);
    let present = fields_of(&new_scoped);
    let changed: Vec<Vec<String>> = leaves(&present)
        .into_iter()
        .filter(|path| value_at(&old_scoped, path) != value_at(&new_scoped, path))
        .collect();
    let mut entries = Entry::read(old.unwrap_or(&null));
    let mut mine = Fields::new();
    entries.retain_mut(|entry| {
        if entry.subresource != writer.subresource {
            return true;
        }
        for path in leaves(&entry.fields) {
            if value_at(&new_scoped, &path).is_none() {
                subtract(&mut entry.fields, &path);
            }
        }
        if entry.is(&writer.manager, "Update", &writer.subresource) {
            mine = std::mem::take(&mut entry.fields);
            return false;
        }
        for path in &changed {
            if path.last().is_some_and(|last| last != ".") {
                subtract(&mut entry.fields, path);
            }
        }
        true
    });
    let mut changed_fields = Fields::new();
    for path in &changed {
        add_path(&mut changed_fields, path);
    }
    union(&mut mine, &changed_fields);
    entries.push(writer.entry("Update", mine));
    Entry::write(new, &entries);
}

fn add_path(fields: &mut Fields, path: &[String]) {
    if let Some((first, rest)) = path.split_first() {
        let child = fields.entry(first.clone()).or_insert_with(|| json!({}));
        if let Some(child) = child.as_object_mut() {
            add_path(child, rest);
        }
    }
}

/// `.spec.template.spec.containers[name="api"].image`, as the API server names a field.
pub fn describe(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        if let Some(name) = segment.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(key) = segment.strip_prefix("k:") {
            out.push_str(&format!("[{key}]"));
        } else if let Some(element) = segment.strip_prefix("v:") {
            out.push_str(&format!("[{element}]"));
        }
    }
    out
}
