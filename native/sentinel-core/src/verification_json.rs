//! The JSON text of closed verifications' record entries, as the record's digest writes
//! them (`json.dumps(entry, sort_keys=True, separators=(",", ":"))`), straight from the
//! store's values: a storm iteration closes ~115 verifications with ~245 measurements,
//! and walking their Python dicts again to write this text was the largest part of the
//! digest. The reference is the standard library over the entries `Analysis.to_record`
//! writes (`ReferenceVerificationStore.closed_json`); a hypothesis test pins the two.

use crate::stdlib_json::{write_ascii_string, write_repr_f64};
use crate::verification::{Check, Closed};

fn write_float_or_null(out: &mut Vec<u8>, value: Option<f64>) {
    match value {
        Some(v) => write_repr_f64(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_int(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// Writes one closed verification's entry, its members in key order; `rollback` is the
/// JSON text of its rollback (None: `null`).
pub fn write_closed_entry(
    out: &mut Vec<u8>,
    check: &Check,
    closed: &Closed,
    rollback: Option<&[u8]>,
) {
    let open = &closed.open;
    out.extend_from_slice(b"{\"baseline\":");
    write_float_or_null(out, open.baseline);
    out.extend_from_slice(b",\"condition\":");
    write_ascii_string(out, &check.condition);
    out.extend_from_slice(b",\"decision\":");
    write_ascii_string(out, &open.decision);
    out.extend_from_slice(b",\"key\":");
    write_ascii_string(out, &open.key);
    out.extend_from_slice(b",\"rollback\":");
    out.extend_from_slice(rollback.unwrap_or(b"null"));
    out.extend_from_slice(b",\"rule\":");
    write_ascii_string(out, &check.rule);
    out.extend_from_slice(b",\"series\":[");
    for (n, &(tick, value, result)) in open.series.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"result\":\"");
        out.extend_from_slice(result.name().as_bytes());
        out.extend_from_slice(b"\",\"tick\":");
        write_int(out, tick);
        out.extend_from_slice(b",\"value\":");
        write_float_or_null(out, value);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"target\":");
    write_ascii_string(out, &open.target);
    out.extend_from_slice(b",\"verdict\":\"");
    out.extend_from_slice(closed.verdict.name().as_bytes());
    out.extend_from_slice(b"\",\"why\":");
    write_ascii_string(out, &closed.why);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verification::{Op, VerificationStore};

    #[test]
    fn an_entry_in_key_order() {
        let mut store = VerificationStore::new();
        let check = store.add_check(Check {
            rule: "r0".into(),
            condition: "a < 3".into(),
            text: "a < 3".into(),
            metric: "a".into(),
            metric_index: 0,
            op: Op::Lt,
            threshold: 3.0,
            tolerance: 0.0,
            delay: 0,
            ttl: 600,
            failure_limit: 0,
            error_limit: 0,
            inconclusive_limit: 5,
        });
        store.open(
            check,
            0,
            "agent/r0/T0/0".into(),
            "T0".into(),
            "agent-000001".into(),
            0,
            Some(5.0),
        );
        let closed = store.measure(60, |_, _| Some(6.0));
        let mut out = Vec::new();
        write_closed_entry(
            &mut out,
            store.check(check).unwrap(),
            &closed[0],
            Some(b"{\"x\":1}"),
        );
        let expected = concat!(
            r#"{"baseline":5.0,"condition":"a < 3","decision":"agent-000001","#,
            r#""key":"agent/r0/T0/0","rollback":{"x":1},"rule":"r0","#,
            r#""series":[{"result":"failure","tick":60,"value":6.0}],"target":"T0","#,
            r#""verdict":"Failed","why":"a worse than 5 at tick 60"}"#
        );
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}
