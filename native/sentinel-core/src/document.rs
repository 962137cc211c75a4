//! The rules of docs/audit-format.md sections 1 and 2 for one stored event document.
//!
//! The native twin of `sentinel/audit/document_rules.py` (the reference): the same findings
//! with the same wording. A verifier re-canonicalises each stored document and compares the
//! bytes, then checks every member's type and form; the facts it extracts (id, stream,
//! revision, Lamport value) feed the rules that span events (uniqueness, revision order,
//! Lamport order), which the chain walk applies in position order.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::canonical::{utf16_key_cmp, write_f64, write_i64, write_string, write_u64};
use crate::document_scan::{scan_document, Scanned};

/// Largest canonical event, in bytes (1 MiB): `MAX_EVENT_BYTES` of the Python store.
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Deepest nesting of arrays and objects in a payload (the payload object is level 1).
pub const MAX_PAYLOAD_DEPTH: usize = 64;
/// Longest idempotency key, correlation or causation id, in characters.
pub const MAX_ID_CHARS: usize = 256;
/// Longest event type, in characters.
pub const MAX_TYPE_CHARS: usize = 64;
/// Longest node name, in characters.
pub const MAX_NODE_CHARS: usize = 255;
/// The members of a version 1 document, sorted as canonical bytes list them.
pub const MEMBERS: [&str; 15] = [
    "causation_id",
    "correlation_id",
    "event_id",
    "idempotency_key",
    "lamport",
    "node",
    "payload",
    "position",
    "prev_hash",
    "stream",
    "stream_rev",
    "tick",
    "type",
    "v",
    "wall_ns",
];

/// What the cross-event rules need from one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The `event_id` member.
    pub event_id: String,
    /// The `position` member.
    pub position: i64,
    /// The `stream` member.
    pub stream: String,
    /// The `stream_rev` member.
    pub stream_rev: i64,
    /// The `lamport` member.
    pub lamport: i64,
}

/// The outcome of checking one document.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DocumentCheck {
    /// Findings as `(kind, detail)`: `not_canonical` or `invalid_event`.
    pub findings: Vec<(&'static str, String)>,
    /// The facts, when the document has the right shape.
    pub facts: Option<Facts>,
    /// True when the document is JSON and passes every member rule.
    pub well_formed: bool,
    /// Where the indexed members sit, when the single-pass scanner accepted the document.
    pub scanned: Option<Scanned>,
}

fn pattern(cell: &'static OnceLock<Regex>, text: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(text).expect("constant pattern"))
}

fn stream_pattern() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    pattern(&CELL, r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$")
}

fn type_pattern() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    pattern(&CELL, r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+){0,7}$")
}

fn uuid7_pattern() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    pattern(
        &CELL,
        r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
    )
}

fn hash_pattern() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    pattern(&CELL, r"^[0-9a-f]{64}$")
}

/// Writes a parsed value canonically; `false` when it has no canonical form.
fn write_canonical(out: &mut Vec<u8>, value: &Value) -> bool {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            if let Some(i) = number.as_i64() {
                write_i64(out, i);
            } else if let Some(u) = number.as_u64() {
                write_u64(out, u);
            } else {
                let Some(f) = number.as_f64() else {
                    return false;
                };
                if write_f64(out, f).is_err() {
                    return false;
                }
            }
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if !write_canonical(out, item) {
                    return false;
                }
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut names: Vec<&String> = members.keys().collect();
            names.sort_by(|a, b| utf16_key_cmp(a, b));
            out.push(b'{');
            for (i, name) in names.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, name);
                out.push(b':');
                if !write_canonical(out, &members[name]) {
                    return false;
                }
            }
            out.push(b'}');
        }
    }
    true
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A non-negative integer that fits 64-bit signed arithmetic.
fn natural(value: &Value) -> Option<i64> {
    value.as_i64().filter(|v| *v >= 0)
}

fn optional_id(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => (1..=MAX_ID_CHARS).contains(&s.chars().count()),
        _ => false,
    }
}

/// The first rule of section 1 that `doc` breaks, as a message naming the member.
fn member_problem(doc: &Map<String, Value>) -> Option<String> {
    if let Some(name) = MEMBERS.iter().find(|name| !doc.contains_key(**name)) {
        return Some(format!("member {name} is missing"));
    }
    if let Some(name) = doc.keys().find(|name| !MEMBERS.contains(&name.as_str())) {
        return Some(format!("unknown member \"{name}\""));
    }
    let v = &doc["v"];
    if v.as_i64() != Some(1) {
        return Some(if v.is_i64() || v.is_u64() {
            format!("v is {v}, this format is version 1")
        } else {
            "v is not an integer, this format is version 1".to_owned()
        });
    }
    let is_str = |name: &str, re: &Regex| doc[name].as_str().is_some_and(|s| re.is_match(s));
    if !is_str("event_id", uuid7_pattern()) {
        return Some("event_id is not a lower-case UUIDv7".to_owned());
    }
    for name in ["position", "stream_rev", "wall_ns"] {
        if natural(&doc[name]).is_none() {
            return Some(format!("{name} is not an integer in 0..2^63-1"));
        }
    }
    if doc["lamport"].as_i64().is_none_or(|v| v < 1) {
        return Some("lamport is not an integer in 1..2^63-1".to_owned());
    }
    if !is_str("stream", stream_pattern()) {
        return Some("stream does not match the stream grammar".to_owned());
    }
    let type_ok = doc["type"]
        .as_str()
        .is_some_and(|s| s.chars().count() <= MAX_TYPE_CHARS && type_pattern().is_match(s));
    if !type_ok {
        return Some("type does not match the type grammar".to_owned());
    }
    let node_ok = doc["node"]
        .as_str()
        .is_some_and(|s| (1..=MAX_NODE_CHARS).contains(&s.chars().count()));
    if !node_ok {
        return Some(format!(
            "node is not a string of 1-{MAX_NODE_CHARS} characters"
        ));
    }
    if !(doc["tick"].is_null() || natural(&doc["tick"]).is_some()) {
        return Some("tick is neither null nor an integer in 0..2^63-1".to_owned());
    }
    for name in ["correlation_id", "causation_id", "idempotency_key"] {
        if !optional_id(&doc[name]) {
            return Some(format!(
                "{name} is neither null nor a string of 1-{MAX_ID_CHARS} characters"
            ));
        }
    }
    if !is_str("prev_hash", hash_pattern()) {
        return Some("prev_hash is not 64 lower-case hex digits".to_owned());
    }
    let Value::Object(_) = doc["payload"] else {
        return Some("payload is not an object".to_owned());
    };
    if depth(&doc["payload"]) > MAX_PAYLOAD_DEPTH {
        return Some(format!(
            "payload nests deeper than {MAX_PAYLOAD_DEPTH} levels"
        ));
    }
    None
}

fn facts(doc: &Map<String, Value>) -> Option<Facts> {
    Some(Facts {
        event_id: doc.get("event_id")?.as_str()?.to_owned(),
        position: doc.get("position")?.as_i64()?,
        stream: doc.get("stream")?.as_str()?.to_owned(),
        stream_rev: doc.get("stream_rev")?.as_i64()?,
        lamport: doc.get("lamport")?.as_i64()?,
    })
}

/// Message for stored bytes that are not JSON at all.
pub const NOT_JSON: &str = "the stored bytes are not JSON in UTF-8";
/// Message for JSON nested beyond what a verifier parses.
pub const TOO_DEEP: &str = "the document nests deeper than a verifier parses";
/// Message for JSON that is not written canonically.
pub const NOT_CANONICAL: &str = "the stored bytes are not the canonical encoding of their document";

/// Checks one stored document against sections 1 and 2 of the format.
///
/// Documents that are canonical and pass every rule (nearly all of them) are decided by
/// the single-pass scanner of `document_scan`; every other one by [`check_document_fully`],
/// which finds exactly what is wrong.
pub fn check_document(canonical: &[u8]) -> DocumentCheck {
    let Some(scanned) = scan_document(canonical) else {
        return check_document_fully(canonical);
    };
    let text = |range: &std::ops::Range<usize>| {
        // The scanner checked that the document is UTF-8 and the ranges lie between quotes.
        std::str::from_utf8(&canonical[range.clone()])
            .unwrap_or_default()
            .to_owned()
    };
    DocumentCheck {
        findings: Vec::new(),
        facts: Some(Facts {
            event_id: text(&scanned.event_id),
            position: scanned.position,
            stream: text(&scanned.stream),
            stream_rev: scanned.stream_rev,
            lamport: scanned.lamport,
        }),
        well_formed: true,
        scanned: Some(scanned),
    }
}

/// Checks one stored document by parsing it into a tree and re-encoding it: the definition
/// of the rules, and the path that words the findings.
pub fn check_document_fully(canonical: &[u8]) -> DocumentCheck {
    let mut check = DocumentCheck::default();
    if canonical.len() > MAX_EVENT_BYTES {
        check.findings.push((
            "invalid_event",
            format!("{} bytes, the limit is {MAX_EVENT_BYTES}", canonical.len()),
        ));
    }
    let value: Value = match serde_json::from_slice(canonical) {
        Ok(value) => value,
        Err(err) => {
            let detail = if err.to_string().starts_with("recursion limit exceeded") {
                TOO_DEEP
            } else {
                NOT_JSON
            };
            check.findings.push(("not_canonical", detail.to_owned()));
            return check;
        }
    };
    let mut written = Vec::with_capacity(canonical.len());
    if !write_canonical(&mut written, &value) || written != canonical {
        check
            .findings
            .push(("not_canonical", NOT_CANONICAL.to_owned()));
    }
    let Value::Object(doc) = value else {
        check
            .findings
            .push(("invalid_event", "the document is not an object".to_owned()));
        return check;
    };
    match member_problem(&doc) {
        Some(problem) => check.findings.push(("invalid_event", problem)),
        None => check.well_formed = canonical.len() <= MAX_EVENT_BYTES,
    }
    check.facts = facts(&doc);
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"causation_id":null,"correlation_id":null,"event_id":"01934b6e-5a00-7000-8000-000000000001","idempotency_key":null,"lamport":1,"node":"host-a","payload":{"a":[1,2.5]},"position":0,"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","stream":"agent/AGENT-07","stream_rev":0,"tick":120,"type":"sandbox.violation","v":1,"wall_ns":1732780800000000000}"#;

    #[test]
    fn a_canonical_document_passes() {
        let check = check_document(GOOD.as_bytes());
        assert_eq!(check.findings, vec![]);
        assert_eq!(check.facts.unwrap().stream_rev, 0);
    }

    #[test]
    fn whitespace_order_and_escapes_are_not_canonical() {
        for bad in [
            GOOD.replacen(",", ", ", 1),
            GOOD.replacen(r#""a":[1,2.5]"#, r#""a":[1,2.50]"#, 1),
            GOOD.replacen("host-a", "host-\\u0061", 1),
        ] {
            let check = check_document(bad.as_bytes());
            assert_eq!(
                check.findings,
                vec![("not_canonical", NOT_CANONICAL.to_owned())]
            );
        }
    }

    #[test]
    fn version_and_extra_members_are_invalid() {
        let v2 = GOOD.replacen(r#""v":1"#, r#""v":2"#, 1);
        assert_eq!(
            check_document(v2.as_bytes()).findings,
            vec![(
                "invalid_event",
                "v is 2, this format is version 1".to_owned()
            )]
        );
        let extra = GOOD.replacen(r#"{"causation_id""#, r#"{"a":1,"causation_id""#, 1);
        assert_eq!(
            check_document(extra.as_bytes()).findings,
            vec![("invalid_event", "unknown member \"a\"".to_owned())]
        );
    }
}
