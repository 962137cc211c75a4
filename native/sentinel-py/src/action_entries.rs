//! `action_entries`: one rule's action entries of a decision record, and their JSON text
//! as the record's digest writes it, in one pass. A storm iteration records ~115 actions;
//! their dicts were walked again (sorted, typed, written) for the digest. The reference is
//! `sentinel.control.loop.reference_action_entries` with the standard library's JSON (a
//! hypothesis test pins the two).

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use sentinel_core::stdlib_json::write_ascii_string;

use crate::stdlib_json::{is_flat_dict, is_scalar, write_json};

/// Writes `text` as a JSON string; `false` for a lone surrogate (left to the standard
/// library).
fn write_text(out: &mut Vec<u8>, text: &Bound<'_, PyString>) -> bool {
    match text.to_str() {
        Ok(text) => {
            write_ascii_string(out, text);
            true
        }
        Err(_) => false,
    }
}

/// The entries `{"rule", "target", "action", "key", "params", "status", "detail"}` of a
/// rule's commands (`params` the one dict every entry shares; `status` and `detail` read
/// from each outcome), and their JSON text (sorted keys, compact),
/// joined by commas without brackets; the text is None when something in it is left to the
/// standard library.
#[pyfunction]
pub(crate) fn action_entries<'py>(
    py: Python<'py>,
    rule: &Bound<'py, PyString>,
    action: &Bound<'py, PyString>,
    params: &Bound<'py, PyDict>,
    targets: &Bound<'py, PyList>,
    keys: &Bound<'py, PyList>,
    outcomes: &Bound<'py, PyList>,
) -> PyResult<(Bound<'py, PyList>, Option<Bound<'py, PyBytes>>)> {
    let count = targets.len();
    if keys.len() != count || outcomes.len() != count {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "action_entries: {count} targets, {} keys, {} outcomes",
            keys.len(),
            outcomes.len()
        )));
    }
    let (k_rule, k_target, k_action, k_key) = (
        intern!(py, "rule"),
        intern!(py, "target"),
        intern!(py, "action"),
        intern!(py, "key"),
    );
    let (k_params, k_status, k_detail) = (
        intern!(py, "params"),
        intern!(py, "status"),
        intern!(py, "detail"),
    );
    // What every entry shares, written once: `"action":...,` and the params' text.
    let mut action_text = Vec::new();
    let mut params_text = Vec::new();
    let mut rule_text = Vec::new();
    // The text is written now, the dicts read at the step's end: only values nobody can
    // change meanwhile are written (a detail the actuator keeps and changes, or a params
    // value that is a container, leaves the whole text to the step's end).
    let mut writing = is_flat_dict(params.as_any())
        && write_text(&mut action_text, action)
        && write_json(&mut params_text, params.as_any())
        && write_text(&mut rule_text, rule);
    let mut out = Vec::with_capacity(if writing { count * 192 } else { 0 });
    let entries = PyList::empty(py);
    for n in 0..count {
        let target = targets.get_item(n)?;
        let key = keys.get_item(n)?;
        let outcome = outcomes.get_item(n)?;
        let (status, detail) = (outcome.getattr(k_status)?, outcome.getattr(k_detail)?);
        let entry = PyDict::new(py);
        entry.set_item(k_rule, rule)?;
        entry.set_item(k_target, &target)?;
        entry.set_item(k_action, action)?;
        entry.set_item(k_key, &key)?;
        entry.set_item(k_params, params)?;
        entry.set_item(k_status, &status)?;
        entry.set_item(k_detail, &detail)?;
        entries.append(entry)?;
        writing = writing
            && is_scalar(&target)
            && is_scalar(&key)
            && is_scalar(&status)
            && is_scalar(&detail);
        if writing {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"action\":");
            out.extend_from_slice(&action_text);
            out.extend_from_slice(b",\"detail\":");
            writing = write_json(&mut out, &detail);
            out.extend_from_slice(b",\"key\":");
            writing &= write_json(&mut out, &key);
            out.extend_from_slice(b",\"params\":");
            out.extend_from_slice(&params_text);
            out.extend_from_slice(b",\"rule\":");
            out.extend_from_slice(&rule_text);
            out.extend_from_slice(b",\"status\":");
            writing &= write_json(&mut out, &status);
            out.extend_from_slice(b",\"target\":");
            writing &= write_json(&mut out, &target);
            out.push(b'}');
        }
    }
    let text = writing.then(|| PyBytes::new(py, &out));
    Ok((entries, text))
}
