//! What the OpenAPI description says the same way for every operation, applied once to the merged
//! document (see [`finish`]) so that no handler can forget it:
//!
//! - every error answer (4xx/5xx) is an RFC 9457 problem: `application/problem+json` with the one
//!   shared schema, `#/components/schemas/Problem`;
//! - the statuses the middleware and the extractors answer for every operation of a kind: 429
//!   (rate limit) and 503 (request timeout) everywhere under `/api/v1`; 401 where a bearer token
//!   is accepted; 403 under `/api/v1/admin`; 400/413/415/422 for JSON bodies; 400 and 422 for
//!   query strings; 404 for operations with an id in the path;
//! - security on every operation: public ones say so with an empty list.
//!
//! Handlers still declare what is theirs alone (409 conflicts, a 404 that means something
//! particular, …) with `body = ProblemDoc`; the descriptions they give are kept.
//!
//! It also holds the schemas of constrained text fields ([`text`] and the `*_schema` functions
//! used with `#[schema(schema_with = …)]`), which say in a pattern what `shop_core`'s value
//! types accept, and the links between operations that stateful clients (and schemathesis)
//! follow.

use std::collections::BTreeMap;

use utoipa::openapi::{
    self, Content, OpenApi, Ref, RefOr,
    path::{Operation, ParameterIn},
    response::Response,
    schema::{Object, ObjectBuilder, SchemaType, Type},
};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";
/// The name of the shared problem schema under `#/components/schemas`.
pub const PROBLEM_SCHEMA: &str = "Problem";

/// Applies the conventions above to a finished document (all routes merged).
pub fn finish(doc: &mut OpenApi) {
    for (path, item) in &mut doc.paths.paths {
        let operations = [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            shared_statuses(path, operation);
            path_ids_are_uuids(operation);
            problem_bodies(operation);
        }
    }
    add_links(doc);
}

/// The statuses that come from the layers and extractors rather than from the handler.
fn shared_statuses(path: &str, operation: &mut Operation) {
    let api = path.starts_with("/api/v1/");
    let security = operation.security.get_or_insert_with(Vec::new);
    let takes_token = security.iter().any(|requirement| {
        serde_json::to_value(requirement).is_ok_and(|v| v.get("bearer").is_some())
    });
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let has_query = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query));
    let has_path = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path));
    let json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.contains_key("application/json"));
    let mut add = |status: &str, description: &str| {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(Response::new(description)));
    };
    if takes_token {
        add(
            "401",
            "no valid bearer token (missing where required, malformed, expired or revoked)",
        );
    }
    if path.starts_with("/api/v1/admin/") {
        add("403", "the signed-in user is not an administrator");
    }
    if json_body {
        add("400", "the body is not well-formed JSON");
        add("413", "the body is over the size limit (1 MiB)");
        add("415", "the body is not `application/json`");
        add("422", "the body has invalid or unknown fields");
    }
    if has_query {
        add(
            "400",
            "a query parameter of the wrong type, or an unknown one",
        );
        add("422", "a query parameter out of range");
    }
    if has_path {
        add("404", "nothing with this id (or not yours)");
    }
    if api {
        add(
            "429",
            "too many requests from this client; retry after `Retry-After` seconds",
        );
        add(
            "503",
            "the request took too long, or a service it needs is unavailable",
        );
    }
}

/// Every error response carries the shared problem schema as `application/problem+json`.
fn problem_bodies(operation: &mut Operation) {
    for (status, response) in &mut operation.responses.responses {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(response)) = (is_error, response) {
            if response.description.is_empty() {
                response.description = default_description(status).to_owned();
            }
            response.content.clear();
            response.content.insert(
                PROBLEM_JSON.to_owned(),
                Content::new(Some(Ref::from_schema_name(PROBLEM_SCHEMA))),
            );
        }
    }
}

/// What an error status means when the handler did not say.
fn default_description(status: &str) -> &'static str {
    match status {
        "400" => "a malformed request",
        "401" => "no valid bearer token",
        "403" => "not allowed for this user",
        "404" => "not found (or not yours)",
        "409" => "conflicts with the current state",
        "413" => "the body is over the size limit",
        "415" => "the body is not `application/json`",
        "422" => "invalid fields, or a rule of the shop refuses the request",
        "429" => "too many requests; retry after `Retry-After` seconds",
        "503" => "unavailable; try again",
        _ => "an error",
    }
}

/// Every id in a path is a UUID (other values get 400 or 404, which the operations declare).
fn path_ids_are_uuids(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        let is_id = parameter.name == "id" || parameter.name.ends_with("_id");
        if matches!(parameter.parameter_in, ParameterIn::Path) && is_id {
            let description = parameter.description.clone();
            parameter.schema = Some(RefOr::T(openapi::schema::Schema::Object(uuid(false))));
            parameter.description = description;
        }
    }
}

/// Links from an answer to the operations that take its `id`: what a client does next with
/// what it was just given.
fn add_links(doc: &mut OpenApi) {
    const FIRST: &str = "$response.body#/items/0/id";
    const CREATED: &str = "$response.body#/id";
    // (path, method, status, link name, target operation id, where the id is in the answer)
    const LINKS: &[(&str, &str, &str, &str, &str, &str)] = &[
        (
            "/api/v1/admin/products",
            "post",
            "201",
            "GetProduct",
            "get_product",
            CREATED,
        ),
        (
            "/api/v1/admin/products",
            "post",
            "201",
            "UpdateProduct",
            "update_product",
            CREATED,
        ),
        (
            "/api/v1/admin/products",
            "post",
            "201",
            "AdjustStock",
            "adjust_stock",
            CREATED,
        ),
        (
            "/api/v1/admin/products",
            "post",
            "201",
            "DeactivateProduct",
            "deactivate_product",
            CREATED,
        ),
        (
            "/api/v1/admin/categories",
            "post",
            "201",
            "UpdateCategory",
            "update_category",
            CREATED,
        ),
        (
            "/api/v1/users/me/addresses",
            "post",
            "201",
            "UpdateAddress",
            "update_address",
            CREATED,
        ),
        (
            "/api/v1/users/me/addresses",
            "post",
            "201",
            "RemoveAddress",
            "remove_address",
            CREATED,
        ),
        (
            "/api/v1/orders",
            "post",
            "201",
            "GetOrder",
            "get_order",
            CREATED,
        ),
        (
            "/api/v1/orders",
            "post",
            "201",
            "OrderHistory",
            "order_history",
            CREATED,
        ),
        (
            "/api/v1/orders",
            "post",
            "201",
            "CancelOrder",
            "cancel_order",
            CREATED,
        ),
        (
            "/api/v1/orders",
            "post",
            "201",
            "StartPayment",
            "start_payment",
            CREATED,
        ),
        (
            "/api/v1/orders",
            "post",
            "201",
            "OrderPayments",
            "order_payments",
            CREATED,
        ),
        (
            "/api/v1/orders",
            "get",
            "200",
            "GetFirstOrder",
            "get_order",
            FIRST,
        ),
        (
            "/api/v1/orders",
            "get",
            "200",
            "FirstOrderHistory",
            "order_history",
            FIRST,
        ),
        (
            "/api/v1/admin/orders",
            "get",
            "200",
            "ChangeFirstOrderStatus",
            "change_order_status",
            FIRST,
        ),
        (
            "/api/v1/admin/orders",
            "get",
            "200",
            "RefundFirstOrder",
            "refund_order",
            FIRST,
        ),
        (
            "/api/v1/admin/users",
            "get",
            "200",
            "UpdateFirstUser",
            "update_user",
            FIRST,
        ),
        (
            "/api/v1/notifications",
            "get",
            "200",
            "MarkFirstRead",
            "mark_read",
            FIRST,
        ),
        (
            "/api/v1/products",
            "get",
            "200",
            "GetFirstProduct",
            "get_product",
            FIRST,
        ),
        (
            "/api/v1/products",
            "get",
            "200",
            "UpdateFirstProduct",
            "update_product",
            FIRST,
        ),
    ];
    let operation_ids = operation_ids(doc);
    for (path, method, status, name, target, pointer) in LINKS {
        // A link to an operation that is not in the document would be a lie.
        let Some(target_path) = operation_ids.get(*target) else {
            continue;
        };
        let parameter = if target_path.contains("{id_or_slug}") {
            "id_or_slug"
        } else {
            "id"
        };
        let Some(operation) = doc
            .paths
            .paths
            .get_mut(*path)
            .and_then(|item| operation_mut(item, method))
        else {
            continue;
        };
        if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status) {
            // Written as an extension: utoipa 5.5 serialises `Link::operation_id` as
            // `operation_id`, which no client reads (the specification says `operationId`).
            let links = response
                .extensions
                .get_or_insert_with(Default::default)
                .entry("links".to_owned())
                .or_insert_with(|| serde_json::json!({}));
            links[*name] = serde_json::json!({
                "operationId": target,
                "parameters": { parameter: pointer },
            });
        }
    }
}

fn operation_ids(doc: &OpenApi) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for (path, item) in &doc.paths.paths {
        for operation in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
            .into_iter()
            .flatten()
        {
            if let Some(id) = &operation.operation_id {
                ids.insert(id.clone(), path.clone());
            }
        }
    }
    ids
}

fn operation_mut<'a>(item: &'a mut openapi::PathItem, method: &str) -> Option<&'a mut Operation> {
    match method {
        "get" => item.get.as_mut(),
        "put" => item.put.as_mut(),
        "post" => item.post.as_mut(),
        "delete" => item.delete.as_mut(),
        "patch" => item.patch.as_mut(),
        _ => None,
    }
}

/// Characters `char::is_control` refuses (Unicode Cc), as a regex class body.
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// What `str::trim` removes (Unicode White_Space), as a regex class body. Spelled out: `\s`
/// differs between regex dialects (Python's takes `\x1c`-`\x1f`, which Rust keeps).
pub const WHITE_SPACE: &str =
    r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// The schema of `shop_core::domain::Text<MIN, MAX, MULTILINE>`: the value is trimmed, its
/// trimmed length must lie in `min..=max` characters and hold no control characters (but for
/// line breaks and tabs in multi-line text). Leading and trailing white space is allowed and
/// dropped; the length therefore lives in the pattern, not in `maxLength`.
pub fn text(min: usize, max: usize, multiline: bool, nullable: bool) -> Object {
    let inner = if multiline {
        r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]".to_owned()
    } else {
        format!("[^{CONTROL}]")
    };
    let edge = format!(r"[^{WHITE_SPACE}{CONTROL}]");
    let space = format!("[{WHITE_SPACE}]*");
    // One character, or an edge, up to max-2 inner characters, and an edge.
    let core = match max {
        0 => String::new(),
        1 => edge.clone(),
        _ => format!("{edge}(?:{inner}{{0,{}}}{edge})?", max - 2),
    };
    let pattern = if min == 0 {
        format!(r"^{space}(?:{core})?{space}$")
    } else {
        format!(r"^{space}{core}{space}$")
    };
    let kind = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    let mut description = format!("{min} to {max} characters once trimmed, no control characters");
    if multiline {
        description.push_str(" but line breaks and tabs");
    }
    ObjectBuilder::new()
        .schema_type(kind)
        .pattern(Some(pattern))
        .description(Some(description))
        .build()
}

/// A UUID as the API prints ids, optionally nullable.
pub fn uuid(nullable: bool) -> Object {
    let kind = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(kind)
        .format(Some(openapi::SchemaFormat::KnownFormat(
            openapi::KnownFormat::Uuid,
        )))
        .build()
}

/// Named schemas for `#[schema(schema_with = …)]`, which takes a function without arguments.
macro_rules! text_schemas {
    ($($name:ident => ($min:literal, $max:literal, $multiline:literal, $nullable:literal);)*) => {
        $(
            #[doc = concat!("`Text<", stringify!($min), ", ", stringify!($max), ">`",
                " (multi-line: ", stringify!($multiline), ", nullable: ", stringify!($nullable), ").")]
            pub fn $name() -> Object {
                text($min, $max, $multiline, $nullable)
            }
        )*
    };
}

text_schemas! {
    text_1_50 => (1, 50, false, false);
    text_1_100 => (1, 100, false, false);
    text_1_100_opt => (1, 100, false, true);
    text_1_200 => (1, 200, false, false);
    text_1_200_opt => (1, 200, false, true);
    text_1_20 => (1, 20, false, false);
    text_1_500 => (1, 500, false, false);
    text_0_100_opt => (0, 100, false, true);
    text_0_200_opt => (0, 200, false, true);
    text_0_30_opt => (0, 30, false, true);
    text_0_500_opt => (0, 500, false, true);
    text_0_10000_multiline_opt => (0, 10_000, true, true);
}

/// A required id.
pub fn id() -> Object {
    uuid(false)
}

/// An optional id (`null` is the same as absent).
pub fn id_opt() -> Object {
    uuid(true)
}

/// The currencies `shop_core` takes (ISO 4217 with minor units), asked of the core itself so the
/// list cannot drift.
pub fn currency() -> Object {
    let mut codes = Vec::new();
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            for c in b'A'..=b'Z' {
                let code = String::from_utf8_lossy(&[a, b, c]).into_owned();
                if shop_core::domain::money::Currency::parse(&code).is_ok() {
                    codes.push(code);
                }
            }
        }
    }
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .enum_values(Some(codes))
        .description(Some("ISO 4217 code, e.g. `USD`"))
        .examples(["USD"])
        .build()
}

/// The same, optional.
pub fn currency_opt() -> Object {
    let mut schema = currency();
    schema.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    if let Some(values) = &mut schema.enum_values {
        values.push(serde_json::Value::Null);
    }
    schema
}

/// A stock change: a non-zero number of units, at most 10⁹ either way.
pub fn stock_delta() -> openapi::schema::Schema {
    let range = |min: i64, max: i64| {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::Integer))
            .format(Some(openapi::SchemaFormat::KnownFormat(
                openapi::KnownFormat::Int64,
            )))
            .minimum(Some(min))
            .maximum(Some(max))
    };
    openapi::schema::OneOfBuilder::new()
        .item(range(-1_000_000_000, -1))
        .item(range(1, 1_000_000_000))
        .description(Some("units to add; negative to remove; never 0"))
        .build()
        .into()
}

/// A string matching `^<white space>*<core><white space>*$`: the core's parsers trim first.
fn trimmed(core: &str, nullable: bool) -> Object {
    let kind = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(kind)
        .pattern(Some(format!("^[{WHITE_SPACE}]*{core}[{WHITE_SPACE}]*$")))
        .build()
}

/// `shop_core::domain::Sku`: 1 to 64 letters, digits, `-`, `_` and `.`.
pub fn sku() -> Object {
    trimmed("[A-Za-z0-9._-]{1,64}", false)
}

/// `shop_core::domain::Slug` (at most 120 characters), optional.
pub fn slug_opt() -> Object {
    let mut schema = trimmed("[a-z0-9]+(?:-[a-z0-9]+)*", true);
    schema.max_length = Some(120);
    schema
}

/// `shop_core::domain::CountryCode`: two letters, either case.
pub fn country() -> Object {
    trimmed("[A-Za-z]{2}", false)
}

/// `shop_core::domain::Password`: 8 to 128 characters, not all white space.
pub fn password() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .min_length(Some(8))
        .max_length(Some(128))
        .pattern(Some(format!("[^{WHITE_SPACE}]")))
        .build()
}

/// `shop_core::domain::OrderNumber`, optional: `SO-`, a four-digit year, `-` and a sequence
/// number of at most 18 digits that is not zero (e.g. `SO-2026-000123`), either case.
pub fn order_number_opt() -> Object {
    // Sequence: k leading zeros, a non-zero digit, then at most 17-k digits.
    let sequence = (0..18)
        .map(|zeros| format!("0{{{zeros}}}[1-9][0-9]{{0,{}}}", 17 - zeros))
        .collect::<Vec<_>>()
        .join("|");
    let mut schema = trimmed(&format!("[Ss][Oo]-[0-9]{{4}}-(?:{sequence})"), false);
    schema.examples = vec![serde_json::json!("SO-2026-000123")];
    schema
}
