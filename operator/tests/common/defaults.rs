//! The defaults kube-apiserver fills in before it stores an object, for the kinds the operator
//! creates, so that "the live object holds every desired value" is checked against objects that
//! hold more than was sent, as on a cluster. Values as in Kubernetes 1.33.

use serde_json::{Value, json};

/// Fills `object`'s defaults. `old` is the stored object on an update (a Service keeps its
/// cluster IP); `cluster_ip` allocates one for a new Service.
pub fn fill(
    kind: &str,
    object: &mut Value,
    old: Option<&Value>,
    cluster_ip: impl FnOnce() -> String,
) {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let uid = object
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if kind == "PersistentVolumeClaim" {
        claim_spec(object);
        return;
    }
    let Some(spec) = object.get_mut("spec") else {
        if kind == "Secret" {
            string_data_into_data(object);
            set(object, "type", json!("Opaque"));
        }
        return;
    };
    match kind {
        "Deployment" => {
            set(spec, "replicas", json!(1));
            set(spec, "revisionHistoryLimit", json!(10));
            set(spec, "progressDeadlineSeconds", json!(600));
            set(spec, "strategy", json!({"type": "RollingUpdate"}));
            if spec.pointer("/strategy/type") == Some(&json!("RollingUpdate")) {
                set(&mut spec["strategy"], "rollingUpdate", json!({}));
                set(
                    &mut spec["strategy"]["rollingUpdate"],
                    "maxSurge",
                    json!("25%"),
                );
                set(
                    &mut spec["strategy"]["rollingUpdate"],
                    "maxUnavailable",
                    json!("25%"),
                );
            }
            pod_template(spec.get_mut("template"), "Always");
        }
        "StatefulSet" => {
            set(spec, "replicas", json!(1));
            set(spec, "revisionHistoryLimit", json!(10));
            set(spec, "podManagementPolicy", json!("OrderedReady"));
            set(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            set(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            if let Some(claims) = spec
                .get_mut("volumeClaimTemplates")
                .and_then(Value::as_array_mut)
            {
                for claim in claims {
                    set(claim, "apiVersion", json!("v1"));
                    set(claim, "kind", json!("PersistentVolumeClaim"));
                    claim_spec(claim);
                    set(claim, "status", json!({"phase": "Pending"}));
                }
            }
            pod_template(spec.get_mut("template"), "Always");
        }
        "Job" => {
            job_spec(spec);
            // The job controller's selector and labels, set once, on creation.
            if old.is_none()
                && spec.get("manualSelector") != Some(&json!(true))
                && spec.get("selector").is_none()
            {
                spec["selector"] =
                    json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
                if let Some(template) = spec.get_mut("template") {
                    set(template, "metadata", json!({}));
                    set(&mut template["metadata"], "labels", json!({}));
                    if let Some(labels) = template["metadata"]["labels"].as_object_mut() {
                        for (key, value) in [
                            ("batch.kubernetes.io/controller-uid", &uid),
                            ("batch.kubernetes.io/job-name", &name),
                            ("controller-uid", &uid),
                            ("job-name", &name),
                        ] {
                            labels.insert(key.to_owned(), json!(value));
                        }
                    }
                }
            }
        }
        "CronJob" => {
            set(spec, "concurrencyPolicy", json!("Allow"));
            set(spec, "suspend", json!(false));
            set(spec, "successfulJobsHistoryLimit", json!(3));
            set(spec, "failedJobsHistoryLimit", json!(1));
            if let Some(job) = spec.pointer_mut("/jobTemplate/spec") {
                job_spec(job);
            }
        }
        "Service" => {
            set(spec, "type", json!("ClusterIP"));
            set(spec, "sessionAffinity", json!("None"));
            set(spec, "internalTrafficPolicy", json!("Cluster"));
            // An update without a cluster IP keeps the allocated one.
            if let Some(ip) = old.and_then(|old| old.pointer("/spec/clusterIP")) {
                set(spec, "clusterIP", ip.clone());
            }
            if spec
                .get("clusterIP")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .is_empty()
            {
                spec["clusterIP"] = json!(cluster_ip());
            }
            let ip = spec["clusterIP"].clone();
            set(spec, "clusterIPs", json!([ip]));
            if ip != json!("None") {
                set(spec, "ipFamilies", json!(["IPv4"]));
                set(spec, "ipFamilyPolicy", json!("SingleStack"));
            }
            for port in spec
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                set(port, "protocol", json!("TCP"));
                let number = port["port"].clone();
                set(port, "targetPort", number);
            }
        }
        "NetworkPolicy" => {
            let egress = spec.get("egress").is_some();
            set(
                spec,
                "policyTypes",
                if egress {
                    json!(["Ingress", "Egress"])
                } else {
                    json!(["Ingress"])
                },
            );
            for rule in ["ingress", "egress"] {
                for rule in spec
                    .get_mut(rule)
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    for port in rule
                        .get_mut("ports")
                        .and_then(Value::as_array_mut)
                        .into_iter()
                        .flatten()
                    {
                        set(port, "protocol", json!("TCP"));
                    }
                }
            }
        }
        "HorizontalPodAutoscaler" => set(spec, "minReplicas", json!(1)),
        _ => {}
    }
}

fn job_spec(spec: &mut Value) {
    set(spec, "backoffLimit", json!(6));
    set(spec, "completions", json!(1));
    set(spec, "parallelism", json!(1));
    set(spec, "completionMode", json!("NonIndexed"));
    set(spec, "suspend", json!(false));
    set(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    pod_template(spec.get_mut("template"), "");
}

fn claim_spec(claim: &mut Value) {
    if let Some(spec) = claim.get_mut("spec") {
        set(spec, "volumeMode", json!("Filesystem"));
    }
}

fn pod_template(template: Option<&mut Value>, restart: &str) {
    let Some(spec) = template.and_then(|template| template.get_mut("spec")) else {
        return;
    };
    if !restart.is_empty() {
        set(spec, "restartPolicy", json!(restart));
    }
    set(spec, "dnsPolicy", json!("ClusterFirst"));
    set(spec, "schedulerName", json!("default-scheduler"));
    set(spec, "securityContext", json!({}));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    for volume in spec
        .get_mut("volumes")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        for source in ["secret", "configMap"] {
            if let Some(source) = volume.get_mut(source) {
                set(source, "defaultMode", json!(420));
            }
        }
    }
    for list in ["initContainers", "containers"] {
        for container in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            set(
                container,
                "terminationMessagePath",
                json!("/dev/termination-log"),
            );
            set(container, "terminationMessagePolicy", json!("File"));
            let image = container
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let tag = image
                .rsplit('/')
                .next()
                .and_then(|last| last.split_once(':'))
                .map(|(_, tag)| tag);
            let pull = if matches!(tag, None | Some("latest")) && !image.contains('@') {
                "Always"
            } else {
                "IfNotPresent"
            };
            set(container, "imagePullPolicy", json!(pull));
            set(container, "resources", json!({}));
            for port in container
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                set(port, "protocol", json!("TCP"));
            }
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                if let Some(probe) = container.get_mut(probe) {
                    set(probe, "timeoutSeconds", json!(1));
                    set(probe, "periodSeconds", json!(10));
                    set(probe, "successThreshold", json!(1));
                    set(probe, "failureThreshold", json!(3));
                    if let Some(http) = probe.get_mut("httpGet") {
                        set(http, "scheme", json!("HTTP"));
                    }
                }
            }
            for env in container
                .get_mut("env")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(field) = env.pointer_mut("/valueFrom/fieldRef") {
                    set(field, "apiVersion", json!("v1"));
                }
            }
        }
    }
}

/// A Secret's `stringData` is written into `data` (base64) and never stored.
fn string_data_into_data(secret: &mut Value) {
    let Some(Value::Object(strings)) = secret
        .as_object_mut()
        .and_then(|map| map.remove("stringData"))
    else {
        return;
    };
    set(secret, "data", json!({}));
    for (key, value) in strings {
        secret["data"][key] = json!(base64(value.as_str().unwrap_or_default().as_bytes()));
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sets `key` when the object does not have it.
fn set(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut()
        && map.get(key).is_none_or(Value::is_null)
    {
        map.insert(key.to_owned(), value);
    }
}
