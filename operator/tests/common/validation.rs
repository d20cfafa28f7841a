//! The checks kube-apiserver makes before it stores an object, for the rules that bite operators:
//! names per kind, label keys and values, pod template and Service consistency, and immutable
//! fields. Each returns field errors worded as the API server words them; the caller answers
//! `422 Invalid` when there is any.

use serde_json::Value;

/// Field errors for an object about to be stored.
pub fn validate(kind: &str, object: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let name = text(object, "/metadata/name");
    let name_rule: fn(&str) -> Option<String> = match kind {
        "Service" => dns1035_label,
        "CronJob" => |name| {
            (name.len() > 52)
                .then(|| "must be no more than 52 characters".to_owned())
                .or_else(|| dns1123_subdomain(name))
        },
        _ => dns1123_subdomain,
    };
    if let Some(problem) = name_rule(name) {
        errors.push(invalid("metadata.name", name, &problem));
    }
    metadata(object.get("metadata"), "metadata", &mut errors);
    if matches!(kind, "ConfigMap" | "Secret") {
        for field in ["data", "binaryData", "stringData"] {
            for key in object
                .get(field)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                if key.is_empty()
                    || key.len() > 253
                    || !key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
                {
                    errors.push(invalid(&format!("{field}[{key}]"), key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
                }
            }
        }
    }
    let template = match kind {
        "Deployment" | "StatefulSet" | "Job" => object
            .pointer("/spec/template")
            .map(|t| (t, "spec.template")),
        "CronJob" => object
            .pointer("/spec/jobTemplate/spec/template")
            .map(|t| (t, "spec.jobTemplate.spec.template")),
        _ => None,
    };
    if let Some((template, at)) = template {
        metadata(
            template.get("metadata"),
            &format!("{at}.metadata"),
            &mut errors,
        );
        // A StatefulSet's pods also mount the claims made from its volumeClaimTemplates.
        let claims: Vec<&str> = array(object, "/spec/volumeClaimTemplates")
            .iter()
            .map(|claim| text(claim, "/metadata/name"))
            .collect();
        pod_spec(
            kind,
            template.get("spec"),
            &format!("{at}.spec"),
            &claims,
            &mut errors,
        );
        if let Some(selector) = object
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
        {
            labels(
                Some(&Value::Object(selector.clone())),
                "spec.selector.matchLabels",
                &mut errors,
            );
            let template_labels = template.pointer("/metadata/labels");
            let selected = selector
                .iter()
                .all(|(key, value)| template_labels.and_then(|l| l.get(key)) == Some(value));
            if !selected {
                errors.push(invalid(
                    "spec.template.metadata.labels",
                    &format!("{template_labels:?}"),
                    "`selector` does not match template `labels`",
                ));
            }
        } else if matches!(kind, "Deployment" | "StatefulSet") {
            errors.push("spec.selector: Required value".to_owned());
        }
    }
    match kind {
        "Service" => service(object, &mut errors),
        "StatefulSet" => {
            for (index, claim) in array(object, "/spec/volumeClaimTemplates")
                .iter()
                .enumerate()
            {
                let at = format!("spec.volumeClaimTemplates[{index}]");
                metadata(
                    claim.get("metadata"),
                    &format!("{at}.metadata"),
                    &mut errors,
                );
                claim_spec(claim.get("spec"), &format!("{at}.spec"), &mut errors);
            }
        }
        "PersistentVolumeClaim" => claim_spec(object.get("spec"), "spec", &mut errors),
        "HorizontalPodAutoscaler" => {
            let min = object
                .pointer("/spec/minReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let max = object
                .pointer("/spec/maxReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if min < 1 || max < min {
                errors.push(invalid(
                    "spec.maxReplicas",
                    &max.to_string(),
                    "must be greater than or equal to `minReplicas`",
                ));
            }
        }
        "Ingress" => {
            for rule in array(object, "/spec/rules") {
                for path in rule
                    .pointer("/http/paths")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if path.get("pathType").is_none() {
                        errors.push("spec.rules[].http.paths[].pathType: Required value: pathType must be specified".to_owned());
                    }
                    if !text(path, "/path").starts_with('/') {
                        errors.push(invalid(
                            "spec.rules[].http.paths[].path",
                            text(path, "/path"),
                            "must be an absolute path",
                        ));
                    }
                }
            }
        }
        "CronJob" if text(object, "/spec/schedule").is_empty() => {
            errors.push("spec.schedule: Required value".to_owned())
        }
        _ => {}
    }
    errors
}

/// Field errors for a change from `old` to `new` (fields the API server never lets change).
pub fn validate_update(kind: &str, old: &Value, new: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let immutable = |pointer: &str, errors: &mut Vec<String>| {
        if old.pointer(pointer) != new.pointer(pointer) {
            let field = pointer.trim_start_matches('/').replace('/', ".");
            errors.push(invalid(
                &field,
                &compact(new.pointer(pointer)),
                "field is immutable",
            ));
        }
    };
    match kind {
        "StatefulSet" => {
            let frozen = |object: &Value| {
                let mut spec = object.get("spec").cloned().unwrap_or_default();
                if let Some(spec) = spec.as_object_mut() {
                    for allowed in [
                        "replicas",
                        "ordinals",
                        "template",
                        "updateStrategy",
                        "revisionHistoryLimit",
                        "persistentVolumeClaimRetentionPolicy",
                        "minReadySeconds",
                    ] {
                        spec.remove(allowed);
                    }
                }
                spec
            };
            if frozen(old) != frozen(new) {
                errors.push("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".to_owned());
            }
        }
        "Deployment" => immutable("/spec/selector", &mut errors),
        "Job" => {
            immutable("/spec/selector", &mut errors);
            immutable("/spec/template", &mut errors);
        }
        "Service" if old.pointer("/spec/clusterIP").is_some() => {
            immutable("/spec/clusterIP", &mut errors);
        }
        "PersistentVolumeClaim" => {
            let storage = |object: &Value| {
                object
                    .pointer("/spec/resources/requests/storage")
                    .and_then(quantity)
            };
            if let (Some(before), Some(after)) = (storage(old), storage(new))
                && after < before
            {
                errors.push("spec.resources.requests.storage: Forbidden: field can not be less than previous value".to_owned());
            }
            let frozen = |object: &Value| {
                let mut spec = object.get("spec").cloned().unwrap_or_default();
                if let Some(requests) = spec
                    .pointer_mut("/resources/requests")
                    .and_then(Value::as_object_mut)
                {
                    requests.remove("storage");
                }
                if let Some(spec) = spec.as_object_mut() {
                    spec.remove("volumeAttributesClassName");
                    spec.remove("volumeName");
                }
                spec
            };
            if frozen(old) != frozen(new) {
                errors.push("spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims".to_owned());
            }
        }
        "Secret" | "ConfigMap" => {
            if old.get("immutable") == Some(&Value::Bool(true)) {
                for field in ["/data", "/binaryData", "/immutable"] {
                    if old.pointer(field) != new.pointer(field) {
                        errors.push(format!(
                            "{}: Forbidden: field is immutable when `immutable` is set",
                            &field[1..]
                        ));
                    }
                }
            }
            if kind == "Secret" {
                immutable("/type", &mut errors);
            }
        }
        _ => {}
    }
    errors
}

fn pod_spec(kind: &str, spec: Option<&Value>, at: &str, claims: &[&str], errors: &mut Vec<String>) {
    let Some(spec) = spec else {
        errors.push(format!("{at}: Required value"));
        return;
    };
    let restart = text(spec, "/restartPolicy");
    let allowed: &[&str] = if matches!(kind, "Job" | "CronJob") {
        &["OnFailure", "Never"]
    } else {
        &["Always"]
    };
    if !allowed.contains(&restart) {
        errors.push(format!(
            "{at}.restartPolicy: Unsupported value: {restart:?}: supported values: {allowed:?}"
        ));
    }
    let volumes: Vec<&str> = array(spec, "/volumes")
        .iter()
        .map(|volume| text(volume, "/name"))
        .collect();
    unique(&volumes, &format!("{at}.volumes"), errors);
    for volume in &volumes {
        if let Some(problem) = dns1123_label(volume) {
            errors.push(invalid(&format!("{at}.volumes.name"), volume, &problem));
        }
    }
    let containers = array(spec, "/containers");
    if containers.is_empty() {
        errors.push(format!("{at}.containers: Required value"));
    }
    let mut names = Vec::new();
    for list in ["/initContainers", "/containers"] {
        for container in array(spec, list) {
            let name = text(container, "/name");
            names.push(name);
            let here = format!("{at}{}[{name}]", list.replace('/', "."));
            if let Some(problem) = dns1123_label(name) {
                errors.push(invalid(&format!("{here}.name"), name, &problem));
            }
            if text(container, "/image").is_empty() {
                errors.push(format!("{here}.image: Required value"));
            }
            let ports: Vec<&str> = array(container, "/ports")
                .iter()
                .filter_map(|port| port.get("name").and_then(Value::as_str))
                .collect();
            unique(&ports, &format!("{here}.ports.name"), errors);
            for port in &ports {
                if let Some(problem) = iana_svc_name(port) {
                    errors.push(invalid(&format!("{here}.ports.name"), port, &problem));
                }
            }
            for mount in array(container, "/volumeMounts") {
                let volume = text(mount, "/name");
                if !volumes.contains(&volume) && !claims.contains(&volume) {
                    errors.push(format!("{here}.volumeMounts.name: Not found: {volume:?}"));
                }
            }
            let mounts: Vec<&str> = array(container, "/volumeMounts")
                .iter()
                .map(|mount| text(mount, "/mountPath"))
                .collect();
            unique(&mounts, &format!("{here}.volumeMounts.mountPath"), errors);
            for env in array(container, "/env") {
                if text(env, "/name").is_empty() {
                    errors.push(format!("{here}.env.name: Required value"));
                }
            }
        }
    }
    unique(&names, &format!("{at}.containers.name"), errors);
    for secret in array(spec, "/imagePullSecrets") {
        if text(secret, "/name").is_empty() {
            errors.push(format!("{at}.imagePullSecrets.name: Required value"));
        }
    }
}

fn service(object: &Value, errors: &mut Vec<String>) {
    labels(object.pointer("/spec/selector"), "spec.selector", errors);
    let ports = array(object, "/spec/ports");
    if ports.is_empty() && text(object, "/spec/type") != "ExternalName" {
        errors.push("spec.ports: Required value".to_owned());
    }
    let mut seen = Vec::new();
    let mut names = Vec::new();
    for port in ports {
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        let protocol = port
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP");
        if seen.contains(&(number, protocol)) {
            errors.push(format!(
                "spec.ports: Duplicate value: {{\"port\":{number},\"protocol\":{protocol:?}}}"
            ));
        }
        seen.push((number, protocol));
        if !(1..=65535).contains(&number) {
            errors.push(invalid(
                "spec.ports.port",
                &number.to_string(),
                "must be between 1 and 65535, inclusive",
            ));
        }
        match port.get("name").and_then(Value::as_str) {
            Some(name) => {
                if let Some(problem) = dns1123_label(name) {
                    errors.push(invalid("spec.ports.name", name, &problem));
                }
                names.push(name);
            }
            None if ports.len() > 1 => errors.push("spec.ports.name: Required value".to_owned()),
            None => {}
        }
        if let Some(target) = port.get("targetPort").and_then(Value::as_str)
            && let Some(problem) = iana_svc_name(target)
        {
            errors.push(invalid("spec.ports.targetPort", target, &problem));
        }
    }
    unique(&names, "spec.ports.name", errors);
}

fn claim_spec(spec: Option<&Value>, at: &str, errors: &mut Vec<String>) {
    let spec = spec.unwrap_or(&Value::Null);
    if array(spec, "/accessModes").is_empty() {
        errors.push(format!(
            "{at}.accessModes: Required value: at least 1 access mode is required"
        ));
    }
    if spec
        .pointer("/resources/requests/storage")
        .and_then(quantity)
        .is_none()
    {
        errors.push(format!("{at}.resources.requests.storage: Required value"));
    }
}

fn metadata(meta: Option<&Value>, at: &str, errors: &mut Vec<String>) {
    let Some(meta) = meta else { return };
    labels(meta.get("labels"), &format!("{at}.labels"), errors);
    for key in meta
        .get("annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        if let Some(problem) = qualified_name(key) {
            errors.push(invalid(&format!("{at}.annotations"), key, &problem));
        }
    }
}

fn labels(labels: Option<&Value>, at: &str, errors: &mut Vec<String>) {
    for (key, value) in labels.and_then(Value::as_object).into_iter().flatten() {
        if let Some(problem) = qualified_name(key) {
            errors.push(invalid(at, key, &problem));
        }
        let value = value.as_str().unwrap_or_default();
        if let Some(problem) = label_value(value) {
            errors.push(invalid(at, value, &problem));
        }
    }
}

fn unique(values: &[&str], at: &str, errors: &mut Vec<String>) {
    for (index, value) in values.iter().enumerate() {
        if values[..index].contains(value) {
            errors.push(format!("{at}: Duplicate value: {value:?}"));
        }
    }
}

fn invalid(field: &str, value: &str, problem: &str) -> String {
    format!("{field}: Invalid value: {value:?}: {problem}")
}

fn compact(value: Option<&Value>) -> String {
    value.map(Value::to_string).unwrap_or_default()
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn array<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn label_chars(text: &str, upper: bool) -> bool {
    let inner = |c: char| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || c == '-'
            || (upper && (c.is_ascii_uppercase() || c == '_' || c == '.'))
    };
    let edge =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || (upper && c.is_ascii_uppercase());
    text.chars().all(inner) && text.starts_with(edge) && text.ends_with(edge)
}

/// A DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters).
pub fn dns1123_label(name: &str) -> Option<String> {
    if name.len() > 63 {
        return Some("must be no more than 63 characters".to_owned());
    }
    (!label_chars(name, false)).then(|| "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_owned())
}

/// A DNS-1035 label: a DNS-1123 label starting with a letter (Service names).
pub fn dns1035_label(name: &str) -> Option<String> {
    if name.len() > 63 {
        return Some("must be no more than 63 characters".to_owned());
    }
    (!label_chars(name, false) || !name.starts_with(|c: char| c.is_ascii_lowercase())).then(|| "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".to_owned())
}

/// A DNS-1123 subdomain (dot-separated labels, at most 253 characters).
pub fn dns1123_subdomain(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some("must be no more than 253 characters".to_owned());
    }
    (name.is_empty() || !name.split('.').all(|part| label_chars(part, false))).then(|| "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_owned())
}

fn qualified_name(key: &str) -> Option<String> {
    let (prefix, name) = key.rsplit_once('/').unwrap_or(("", key));
    if key.matches('/').count() > 1 || (key.contains('/') && dns1123_subdomain(prefix).is_some()) {
        return Some("prefix part must be a lowercase RFC 1123 subdomain".to_owned());
    }
    if name.is_empty() || name.len() > 63 || !label_chars(name, true) {
        return Some("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, at most 63 characters".to_owned());
    }
    None
}

fn label_value(value: &str) -> Option<String> {
    if value.len() > 63 {
        return Some("must be no more than 63 characters".to_owned());
    }
    (!value.is_empty() && !label_chars(value, true)).then(|| "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character".to_owned())
}

fn iana_svc_name(name: &str) -> Option<String> {
    let valid = name.len() <= 15
        && label_chars(name, false)
        && name.chars().any(|c| c.is_ascii_lowercase())
        && !name.contains("--");
    (!valid).then(|| "must be no more than 15 characters, contain only lower case alphanumeric characters or '-', at least one letter, and no adjacent '-'".to_owned())
}

/// The value of a resource quantity (`1Gi`, `500m`, `2`).
pub fn quantity(value: &Value) -> Option<f64> {
    let text = value.as_str()?;
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        _ => return None,
    };
    Some(number * factor)
}
