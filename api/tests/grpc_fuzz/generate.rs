//! Request bodies for any method, made from its input descriptor alone: messages whose fields
//! hold plausible, edge and hostile values, and byte strings that are not the message at all.
//! Everything comes from one seeded generator, so a failing run can be replayed exactly.

use prost::{Message as _, bytes::Bytes};
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};
use rand::{Rng, rngs::StdRng, seq::SliceRandom as _};

/// Nested messages deeper than this are left unset (the protos nest two levels at most).
const MAX_DEPTH: usize = 3;

/// Ids the server knows, so some requests reach past "not found" into the handlers' logic.
#[derive(Debug, Default, Clone)]
pub struct KnownIds {
    pub ids: Vec<String>,
}

/// One request body to send, and what it is (for the failure report).
#[derive(Debug)]
pub struct Case {
    pub label: &'static str,
    pub body: Vec<u8>,
    /// The bytes are certainly not a message of the type: INVALID_ARGUMENT is the only answer.
    pub invalid: bool,
}

/// What the generated values look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// What a well-meaning client sends: ids the server knows, small positive numbers, defined
    /// enum values. Gets past validation into the handlers' logic.
    Plausible,
    /// Edges and junk: empty, huge, negative, undefined enum numbers, injection strings.
    Hostile,
}

/// A message of type `descriptor` with generated field values, encoded.
pub fn message(
    rng: &mut StdRng,
    descriptor: &MessageDescriptor,
    known: &KnownIds,
    style: Style,
) -> Vec<u8> {
    build(rng, descriptor, known, style, 0).encode_to_vec()
}

fn build(
    rng: &mut StdRng,
    descriptor: &MessageDescriptor,
    known: &KnownIds,
    style: Style,
    depth: usize,
) -> DynamicMessage {
    let mut message = DynamicMessage::new(descriptor.clone());
    for field in descriptor.fields() {
        // Unset is a value too: the zero value, or absent for optional fields and messages.
        if field.is_map() || !rng.gen_bool(0.75) {
            continue;
        }
        let value = if field.is_list() {
            let count = rng.gen_range(0..4);
            let items = (0..count)
                .filter_map(|_| single(rng, &field, known, style, depth))
                .collect();
            Some(Value::List(items))
        } else {
            single(rng, &field, known, style, depth)
        };
        if let Some(value) = value {
            // Setting a field of a oneof clears its siblings, as on the wire.
            message.set_field(&field, value);
        }
    }
    message
}

fn single(
    rng: &mut StdRng,
    field: &FieldDescriptor,
    known: &KnownIds,
    style: Style,
    depth: usize,
) -> Option<Value> {
    let plausible = style == Style::Plausible;
    Some(match field.kind() {
        Kind::String if plausible => {
            let n = rng.gen_range(0..1_000_000);
            Value::String(self::plausible(rng, field.name(), n, known))
        }
        Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 if plausible => {
            let small = rng.gen_range(1..5);
            match field.kind() {
                Kind::Int32 => Value::I32(small),
                Kind::Int64 => Value::I64(i64::from(small)),
                Kind::Uint32 => Value::U32(small.unsigned_abs()),
                _ => Value::U64(u64::from(small.unsigned_abs())),
            }
        }
        Kind::Enum(enumeration) if plausible => {
            let numbers: Vec<i32> = enumeration.values().map(|value| value.number()).collect();
            Value::EnumNumber(*numbers.choose(rng)?)
        }
        Kind::String => Value::String(string(rng, field.name(), known)),
        Kind::Bytes => Value::Bytes(Bytes::from(string(rng, field.name(), known))),
        Kind::Bool => Value::Bool(rng.r#gen()),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(int(rng) as i32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(int(rng)),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(int(rng) as u32),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(int(rng) as u64),
        Kind::Float => Value::F32(*[0.0, -1.0, f32::NAN, f32::INFINITY].choose(rng)?),
        Kind::Double => Value::F64(*[0.0, -1.0, f64::NAN, f64::MAX].choose(rng)?),
        Kind::Enum(enumeration) => {
            let mut numbers: Vec<i32> = enumeration.values().map(|value| value.number()).collect();
            // Numbers the enum does not define arrive as they are (proto3 enums are open).
            numbers.extend([-1, 99, i32::MAX]);
            Value::EnumNumber(*numbers.choose(rng)?)
        }
        Kind::Message(descriptor) => {
            if depth >= MAX_DEPTH {
                return None;
            }
            Value::Message(build(rng, &descriptor, known, style, depth + 1))
        }
    })
}

/// Integers around every edge a handler might mishandle: zero, signs, the type's ends.
fn int(rng: &mut StdRng) -> i64 {
    match rng.gen_range(0..10) {
        0 => 0,
        1 => -1,
        2 => i64::MIN,
        3 => i64::MAX,
        4 => i64::from(i32::MIN),
        5 => i64::from(i32::MAX),
        6 => rng.gen_range(-1_000_000..0),
        _ => rng.gen_range(1..200),
    }
}

/// A string for a field: often what the field's name asks for, often not.
fn string(rng: &mut StdRng, name: &str, known: &KnownIds) -> String {
    let n: u32 = rng.gen_range(0..1_000_000);
    match rng.gen_range(0..16) {
        0 => String::new(),
        1 => uuid::Uuid::new_v4().to_string(),
        2 => "not-a-uuid".to_owned(),
        3 => "x".repeat(rng.gen_range(300..70_000)),
        4 => "' OR 1=1; -- \u{0} ../../etc/passwd %s %n".to_owned(),
        5 => "ünïcødé 🛒 \u{202e}rtl".to_owned(),
        6 => "   ".to_owned(),
        7 => format!("{}", -i64::from(n)),
        8..=10 if !known.ids.is_empty() => known.ids.choose(rng).cloned().unwrap_or_default(),
        _ => plausible(rng, name, n, known),
    }
}

/// What a well-meaning client would put in a field of this name.
fn plausible(rng: &mut StdRng, name: &str, n: u32, known: &KnownIds) -> String {
    if name.ends_with("id") || name.ends_with("ids") {
        return known
            .ids
            .choose(rng)
            .cloned()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    }
    let pick = |rng: &mut StdRng, choices: &[&str]| -> String {
        choices.choose(rng).copied().unwrap_or_default().to_owned()
    };
    match name {
        "email" => format!("fuzz-{n}@example.com"),
        "password" => format!("a long enough password {n}"),
        "currency" => pick(rng, &["USD", "EUR", "JPY", "usd", "XXX", "US"]),
        "sku" => format!("FUZZ-{n}"),
        "slug" => format!("fuzz-{n}"),
        "country" => pick(rng, &["US", "DE", "ZZ", "usa"]),
        "idempotency_key" => format!("fuzz-key-{n}"),
        "page_token" => pick(rng, &["", "bm90IGEgY3Vyc29y", "%%%"]),
        "query" | "q" => pick(rng, &["shirt", "mug", "*", ""]),
        "sort" | "order_by" => pick(rng, &["newest", "price", "price desc", "nonsense"]),
        _ => format!("fuzz {name} {n}"),
    }
}

/// Bodies that are not a valid encoding of `descriptor`, or are but say nothing: each must be
/// refused (or, for the valid ones, handled) without the server failing.
pub fn malformed(rng: &mut StdRng, descriptor: &MessageDescriptor, known: &KnownIds) -> Vec<Case> {
    let mut cases = vec![
        Case {
            label: "empty message (every field unset)",
            body: Vec::new(),
            invalid: false,
        },
        Case {
            // Random bytes may happen to be a valid encoding: any documented answer will do.
            label: "random bytes",
            body: (0..rng.gen_range(1..64)).map(|_| rng.r#gen()).collect(),
            invalid: false,
        },
        Case {
            // A length-delimited field promising far more bytes than follow.
            label: "truncated field",
            body: vec![(1 << 3) | 2, 0x7f, b'a'],
            invalid: true,
        },
        Case {
            label: "an unknown field (999, varint)",
            body: {
                let mut body = message(rng, descriptor, known, Style::Plausible);
                body.extend([0xb8, 0x3e, 0x01]); // tag (999 << 3 | 0), then 1
                body
            },
            invalid: false,
        },
    ];
    let valid = message(rng, descriptor, known, Style::Plausible);
    if valid.len() > 1 {
        cases.push(Case {
            // Cut on a field boundary, the rest is still a message.
            label: "a valid message cut short",
            body: valid[..valid.len() / 2].to_vec(),
            invalid: false,
        });
    }
    for field in descriptor.fields() {
        let number = field.number();
        let tag = |wire_type: u32| varint(u64::from((number << 3) | wire_type));
        let wrong_type = match field.kind() {
            // A string or message sent as a varint.
            Kind::String | Kind::Bytes | Kind::Message(_) => {
                let mut body = tag(0);
                body.push(0x01);
                body
            }
            // A number sent as a string.
            _ if !field.is_list() => {
                let mut body = tag(2);
                body.extend([0x03, b'a', b'b', b'c']);
                body
            }
            _ => continue,
        };
        cases.push(Case {
            label: "a field of the wrong wire type",
            body: wrong_type,
            invalid: true,
        });
        if matches!(field.kind(), Kind::String) {
            let mut body = tag(2);
            body.extend([0x03, 0xff, 0xfe, 0xfd]);
            cases.push(Case {
                label: "a string that is not UTF-8",
                body,
                invalid: true,
            });
        }
    }
    cases
}

pub fn varint(mut value: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(byte);
            return bytes;
        }
        bytes.push(byte | 0x80);
    }
}
