//! `shop-operator render -f FILE…`: every object the operator would create for the given Shop,
//! Worker and Backup resources on an empty cluster where the CRDs exist, as YAML — what a
//! platform team reviews in a pull request, like `helm template`.
//!
//! The resources are checked as the API server would before anything is built: the kind and
//! version, the fields (a misspelt field is refused, where the API server would silently prune
//! it), the schema's types, and the CRDs' CEL rules (evaluated offline by kube's interpreter).
//! Rendering runs the reconcilers' own pure build stages, as if every referenced Secret existed
//! and the Shop's migration had succeeded; generated credentials are placeholders.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::core::cel::Validator;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::crd::{Backup, Shop, Worker};
use crate::reconcile::{backup, shop, worker};

/// The uid put in owner references: the real one exists only once the API server created the
/// resource.
pub const PLACEHOLDER_UID: &str = "00000000-0000-0000-0000-000000000000";

/// Why nothing was rendered. Each names the file and document.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A file could not be read.
    #[error("{source_name}: cannot read: {error}")]
    Read {
        /// The file.
        source_name: String,
        /// Why.
        error: std::io::Error,
    },
    /// A document is not YAML, or not a resource the operator knows.
    #[error("{at}: {message}")]
    Invalid {
        /// `FILE, document N (KIND NAME)`.
        at: String,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// One resource read from the input, with where it came from.
#[derive(Debug)]
enum Resource {
    Shop(Box<Shop>),
    Worker(Box<Worker>),
    Backup(Box<Backup>),
    /// Checked (schema, CEL rules, its Shop), but nothing is printed: its Jobs depend on the
    /// runs of its Backup and on how far it got.
    Restore(Box<crate::crd::Restore>),
}

/// Renders the resources in `inputs` (`(file name, text)` pairs) into the objects the operator
/// would create, in the order it would apply them: each Shop's, then each Worker's and Backup's.
/// Resources without a namespace go to `namespace`.
pub fn render(inputs: &[(String, String)], namespace: &str) -> Result<Vec<Value>, RenderError> {
    let mut resources = Vec::new();
    for (source_name, text) in inputs {
        for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let at = format!("{source_name}, document {}", index + 1);
            let value = Value::deserialize(document).map_err(|error| RenderError::Invalid {
                at: at.clone(),
                message: format!("not YAML: {error}"),
            })?;
            if value.is_null() {
                continue;
            }
            resources.push(parse(value, namespace, &at)?);
        }
    }
    let shops: BTreeMap<(String, String), &Shop> = resources
        .iter()
        .filter_map(|resource| match resource {
            Resource::Shop(shop) => Some((
                (namespace_of(&shop.metadata), name_of(&shop.metadata)),
                shop.as_ref(),
            )),
            _ => None,
        })
        .collect();
    let mut objects = Vec::new();
    for resource in &resources {
        if let Resource::Shop(shop) = resource {
            objects.extend(
                shop::render(shop)
                    .map_err(|error| invalid_resource("Shop", &shop.metadata, error))?,
            );
        }
    }
    for resource in &resources {
        match resource {
            Resource::Shop(_) => {}
            Resource::Worker(worker) => {
                let shop = shop_of(&shops, &worker.metadata, &worker.spec.shop_ref, "Worker")?;
                objects.extend(
                    worker::render(worker, shop)
                        .map_err(|error| invalid_resource("Worker", &worker.metadata, error))?,
                );
            }
            Resource::Backup(backup) => {
                let shop = shop_of(&shops, &backup.metadata, &backup.spec.shop_ref, "Backup")?;
                objects.extend(
                    backup::render(backup, shop)
                        .map_err(|error| invalid_resource("Backup", &backup.metadata, error))?,
                );
            }
            Resource::Restore(restore) => {
                shop_of(&shops, &restore.metadata, &restore.spec.shop_ref, "Restore")?;
            }
        }
    }
    Ok(objects)
}

/// The objects as one multi-document YAML stream.
pub fn to_yaml(objects: &[Value]) -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(object)?);
    }
    Ok(out)
}

/// Checks one document as the API server would and reads it into its type.
fn parse(mut value: Value, namespace: &str, at: &str) -> Result<Resource, RenderError> {
    let invalid = |message: String| RenderError::Invalid {
        at: at.to_owned(),
        message,
    };
    let api_version = value["apiVersion"].as_str().unwrap_or_default().to_owned();
    let kind = value["kind"].as_str().unwrap_or_default().to_owned();
    let crd = match (api_version.as_str(), kind.as_str()) {
        ("shop.dev/v1alpha1", "Shop") => Shop::crd(),
        ("shop.dev/v1alpha1", "Worker") => Worker::crd(),
        ("shop.dev/v1alpha1", "Backup") => Backup::crd(),
        ("shop.dev/v1alpha1", "Restore") => crate::crd::Restore::crd(),
        _ => {
            return Err(invalid(format!(
                "apiVersion {api_version:?} kind {kind:?}: only shop.dev/v1alpha1 Shop, Worker, \
                 Backup and Restore resources can be rendered"
            )));
        }
    };
    let name = value["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if name.is_empty() {
        return Err(invalid(format!("{kind}: metadata.name is required")));
    }
    let at = format!("{at} ({kind} {name})");
    let invalid = |message: String| RenderError::Invalid {
        at: at.clone(),
        message,
    };
    if value["metadata"]["namespace"].as_str().is_none() {
        value["metadata"]["namespace"] = Value::String(namespace.to_owned());
    }
    // What the API server sets on create, which builders rely on (owner references).
    value["metadata"]["uid"] = Value::String(PLACEHOLDER_UID.to_owned());
    value["metadata"]["generation"] = Value::from(1);
    let schema = schema_of(&crd).map_err(&invalid)?;
    let mut unknown = Vec::new();
    unknown_fields(
        &value["spec"],
        &schema["properties"]["spec"],
        "spec",
        &mut unknown,
    );
    if !unknown.is_empty() {
        return Err(invalid(format!("unknown field {}", unknown.join(", "))));
    }
    check_cel_rules(&schema, &value).map_err(&invalid)?;
    let resource = match kind.as_str() {
        "Shop" => Resource::Shop(Box::new(typed(&value).map_err(&invalid)?)),
        "Worker" => Resource::Worker(Box::new(typed(&value).map_err(&invalid)?)),
        "Restore" => Resource::Restore(Box::new(typed(&value).map_err(&invalid)?)),
        _ => Resource::Backup(Box::new(typed(&value).map_err(&invalid)?)),
    };
    Ok(resource)
}

/// Reads `value` into `K`.
fn typed<K: DeserializeOwned>(value: &Value) -> Result<K, String> {
    serde_json::from_value(value.clone()).map_err(|error| error.to_string())
}

/// The fields of `input` that `schema` does not declare, as paths: the API server would prune
/// them silently, so a misspelt setting would just not take effect.
fn unknown_fields(input: &Value, schema: &Value, path: &str, unknown: &mut Vec<String>) {
    match input {
        Value::Object(fields) => {
            if schema["x-kubernetes-preserve-unknown-fields"] == true {
                return;
            }
            for (key, value) in fields {
                let child = format!("{path}.{key}");
                if let Some(declared) = schema["properties"].get(key) {
                    unknown_fields(value, declared, &child, unknown);
                } else if schema["additionalProperties"].is_object() {
                    unknown_fields(value, &schema["additionalProperties"], &child, unknown);
                } else if schema["additionalProperties"] != true {
                    unknown.push(child);
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                unknown_fields(item, &schema["items"], &format!("{path}[{index}]"), unknown);
            }
        }
        _ => {}
    }
}

/// The first version's openAPIV3Schema of a CRD, as JSON.
fn schema_of(crd: &CustomResourceDefinition) -> Result<Value, String> {
    crd.spec
        .versions
        .first()
        .and_then(|version| version.schema.as_ref())
        .and_then(|schema| schema.open_api_v3_schema.as_ref())
        .map(serde_json::to_value)
        .transpose()
        .map_err(|error| error.to_string())
        .map(|schema| schema.unwrap_or(Value::Null))
}

/// The CRD's `x-kubernetes-validations` rules, as the API server evaluates them on create.
fn check_cel_rules(schema: &Value, object: &Value) -> Result<(), String> {
    match Validator::new().validate(schema, object, None) {
        Ok(()) => Ok(()),
        Err(errors) => Err(errors
            .into_vec()
            .into_iter()
            .map(|error| {
                if error.field_path.is_empty() {
                    error.message
                } else {
                    format!("{}: {}", error.field_path, error.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

fn shop_of<'a>(
    shops: &BTreeMap<(String, String), &'a Shop>,
    meta: &kube::core::ObjectMeta,
    shop_ref: &str,
    kind: &str,
) -> Result<&'a Shop, RenderError> {
    shops
        .get(&(namespace_of(meta), shop_ref.to_owned()))
        .copied()
        .ok_or_else(|| RenderError::Invalid {
            at: format!("{kind} {}", name_of(meta)),
            message: format!(
                "spec.shopRef: Shop {shop_ref} is not among the rendered resources (give its file \
                 too, so that its objects and version are known)"
            ),
        })
}

fn invalid_resource(
    kind: &str,
    meta: &kube::core::ObjectMeta,
    error: crate::error::Error,
) -> RenderError {
    RenderError::Invalid {
        at: format!("{kind} {}", name_of(meta)),
        message: error.to_string(),
    }
}

fn namespace_of(meta: &kube::core::ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

fn name_of(meta: &kube::core::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// `shop-operator render`: prints the objects, or the reason there are none (exit code 2).
pub fn main(files: &[std::path::PathBuf], namespace: &str) -> std::process::ExitCode {
    use std::io::{Read as _, Write as _};
    let mut inputs = Vec::new();
    for file in files {
        let source_name = file.display().to_string();
        let text = if source_name == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map(|_| text)
        } else {
            std::fs::read_to_string(file)
        };
        match text {
            Ok(text) => inputs.push((source_name, text)),
            Err(error) => return fail(&RenderError::Read { source_name, error }),
        }
    }
    let yaml = render(&inputs, namespace).and_then(|objects| {
        to_yaml(&objects).map_err(|error| RenderError::Invalid {
            at: "output".to_owned(),
            message: error.to_string(),
        })
    });
    match yaml {
        Ok(yaml) => match std::io::stdout().lock().write_all(yaml.as_bytes()) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            // A closed pipe (`| head`) is not an error worth a message.
            Err(_) => std::process::ExitCode::FAILURE,
        },
        Err(error) => fail(&error),
    }
}

fn fail(error: &RenderError) -> std::process::ExitCode {
    eprintln!("shop-operator render: {error}");
    std::process::ExitCode::from(2)
}
