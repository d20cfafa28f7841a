//! Structural truths of the OpenAPI document, checked on the document `shop-api` builds (no
//! server, no database), so a regression shows in a plain `cargo nextest run`. The behaviour
//! behind the document is checked by schemathesis against the real binary
//! (`tests/schemathesis/run`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn document() -> Value {
    let (_router, openapi) = shop_api::rest::api();
    serde_json::to_value(&openapi).expect("the document serialises")
}

/// (method, path, operation) for every operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                all.push((method.to_owned(), path.clone(), operation.clone()));
            }
        }
    }
    assert!(all.len() > 30, "{} operations", all.len());
    all
}

fn template_names(path: &str) -> BTreeSet<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

fn parameters_in<'a>(operation: &'a Value, place: &str) -> Vec<&'a Value> {
    operation["parameters"]
        .as_array()
        .map(|all| all.iter().filter(|p| p["in"] == place).collect())
        .unwrap_or_default()
}

#[test]
fn path_parameters_are_exactly_the_path_templates_names() {
    let doc = document();
    for (method, path, operation) in operations(&doc) {
        let declared: BTreeSet<String> = parameters_in(&operation, "path")
            .iter()
            .map(|p| p["name"].as_str().expect("a name").to_owned())
            .collect();
        assert_eq!(
            declared,
            template_names(&path),
            "{method} {path}: `in: path` parameters must be the template's names"
        );
        for parameter in parameters_in(&operation, "path") {
            assert_eq!(parameter["required"], true, "{method} {path}: {parameter}");
        }
    }
}

#[test]
fn listings_take_their_filters_in_the_query_string_with_their_limits() {
    let doc = document();
    let query = |path: &str, name: &str| -> Value {
        let operation = &doc["paths"][path]["get"];
        parameters_in(operation, "query")
            .into_iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("GET {path}: no query parameter `{name}`"))
            .clone()
    };
    for path in [
        "/api/v1/products",
        "/api/v1/products/search",
        "/api/v1/orders",
        "/api/v1/notifications",
        "/api/v1/admin/users",
        "/api/v1/admin/orders",
    ] {
        let limit = query(path, "limit");
        assert_eq!(limit["schema"]["minimum"], 1, "{path}: {limit}");
        assert_eq!(limit["schema"]["maximum"], 100, "{path}: {limit}");
        assert_ne!(limit["required"], true, "{path}");
    }
    let sort = query("/api/v1/products", "sort");
    let sorts = serde_json::to_string(&sort).expect("JSON");
    for key in ["newest", "price_asc", "price_desc", "name"] {
        assert!(sorts.contains(&format!("\"{key}\"")), "{sorts}");
    }
    for path in ["/api/v1/orders", "/api/v1/admin/orders"] {
        let status = serde_json::to_string(&query(path, "status")).expect("JSON");
        for key in [
            "pending_payment",
            "paid",
            "shipped",
            "cancelled",
            "refunded",
        ] {
            assert!(status.contains(&format!("\"{key}\"")), "{path}: {status}");
        }
    }
    assert_eq!(query("/api/v1/products/search", "q")["required"], true);
    assert_eq!(
        query("/api/v1/admin/stats", "days")["schema"]["maximum"],
        366
    );
}

#[test]
fn every_error_answer_is_the_shared_problem_document() {
    let doc = document();
    let problem = &doc["components"]["schemas"]["Problem"];
    for member in ["type", "title", "status", "detail", "code", "errors"] {
        assert!(
            problem["properties"].get(member).is_some(),
            "Problem lacks `{member}`: {problem}"
        );
    }
    let required: BTreeSet<&str> = problem["required"]
        .as_array()
        .expect("required members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        required,
        BTreeSet::from(["code", "status", "title", "type"])
    );
    for (method, path, operation) in operations(&doc) {
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            let content = response["content"].as_object().expect("content");
            assert_eq!(
                content.keys().collect::<Vec<_>>(),
                ["application/problem+json"],
                "{method} {path} {status}"
            );
            assert_eq!(
                content["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{method} {path} {status}: a description"
            );
        }
    }
}

#[test]
fn every_operation_states_its_security_and_the_statuses_that_follow_from_it() {
    let doc = document();
    let mut operation_ids = BTreeMap::new();
    for (method, path, operation) in operations(&doc) {
        let label = format!("{method} {path}");
        let security = operation["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{label}: no explicit security"));
        let takes_token = security.iter().any(|r| r.get("bearer").is_some());
        let statuses: BTreeSet<&str> = operation["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .map(String::as_str)
            .collect();
        let has = |status: &str| statuses.contains(status);
        if path.starts_with("/api/v1/admin/") {
            assert!(takes_token, "{label}: admin operations need a token");
            assert!(has("403"), "{label}: admin operations answer 403");
        }
        if takes_token {
            assert!(has("401"), "{label}: a token can be refused");
        }
        if path.starts_with("/api/v1/") {
            assert!(has("429") && has("503"), "{label}: rate limit and timeout");
        }
        if operation["requestBody"]["content"]
            .get("application/json")
            .is_some()
        {
            for status in ["400", "413", "422"] {
                assert!(has(status), "{label}: a JSON body can get {status}");
            }
        }
        if !parameters_in(&operation, "query").is_empty() {
            assert!(has("400"), "{label}: a malformed query string gets 400");
        }
        if !parameters_in(&operation, "path").is_empty() {
            assert!(has("404"), "{label}: an id can name nothing");
        }
        assert!(
            statuses.iter().any(|s| s.starts_with('2')),
            "{label}: no success"
        );
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{label}: no operationId"))
            .to_owned();
        if let Some(other) = operation_ids.insert(id.clone(), label.clone()) {
            panic!("operationId {id} used by {other} and {label}");
        }
    }
    // Registration, sign-in and the catalog need no token; the catalog takes one (staff see
    // more), sign-in does not.
    let login = &doc["paths"]["/api/v1/auth/login"]["post"]["security"];
    assert_eq!(login, &serde_json::json!([]), "{login}");
    let products = &doc["paths"]["/api/v1/products"]["get"]["security"];
    assert_eq!(
        products,
        &serde_json::json!([{}, { "bearer": [] }]),
        "{products}"
    );
}

#[test]
fn links_name_operations_and_parameters_that_exist() {
    let doc = document();
    let mut by_id = BTreeMap::new();
    for (_, path, operation) in operations(&doc) {
        if let Some(id) = operation["operationId"].as_str() {
            by_id.insert(id.to_owned(), (path, operation));
        }
    }
    let mut links = 0;
    for (method, path, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let Some(all) = response.get("links").and_then(Value::as_object) else {
                continue;
            };
            for (name, link) in all {
                links += 1;
                let target = link["operationId"].as_str().expect("an operationId");
                let (target_path, target_operation) = by_id
                    .get(target)
                    .unwrap_or_else(|| panic!("{method} {path} {status} {name}: no {target}"));
                for parameter in link["parameters"].as_object().expect("parameters").keys() {
                    let known = target_operation["parameters"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["name"] == *parameter));
                    assert!(
                        known,
                        "{method} {path} {name}: {target_path} has no `{parameter}`"
                    );
                }
            }
        }
    }
    assert!(links >= 8, "{links} links");
}

#[test]
fn request_bodies_state_required_fields_and_the_limits_the_core_enforces() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let required = |name: &str| -> BTreeSet<String> {
        schemas[name]["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no required list"))
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(
        required("RegisterRequest"),
        BTreeSet::from(["email".into(), "full_name".into(), "password".into()])
    );
    assert_eq!(
        required("CreateProductRequest"),
        BTreeSet::from([
            "currency".into(),
            "name".into(),
            "price_minor".into(),
            "sku".into()
        ])
    );
    let password = &schemas["RegisterRequest"]["properties"]["password"];
    assert_eq!(password["minLength"], 8, "{password}");
    assert_eq!(password["maxLength"], 128, "{password}");
    let quantity = &schemas["AddItemRequest"]["properties"]["quantity"];
    assert_eq!(
        (quantity["minimum"].clone(), quantity["maximum"].clone()),
        (serde_json::json!(1), serde_json::json!(1000))
    );
    let currency = &schemas["CreateProductRequest"]["properties"]["currency"]["enum"];
    let currencies = currency.as_array().expect("a currency list");
    assert!(currencies.contains(&"USD".into()) && currencies.contains(&"EUR".into()));
    assert!(
        !currencies.contains(&"XAU".into()),
        "gold is no payment currency"
    );
    for (schema, property) in [
        ("RegisterRequest", "full_name"),
        ("AddressRequest", "line1"),
        ("CreateProductRequest", "name"),
    ] {
        let pattern = schemas[schema]["properties"][property]["pattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{schema}.{property}: no pattern"));
        assert!(
            pattern.contains(r"\x00-\x1f"),
            "{schema}.{property}: {pattern}"
        );
    }
}
