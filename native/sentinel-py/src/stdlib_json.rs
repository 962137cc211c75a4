//! Walks Python values and writes the text of `json.dumps(value, sort_keys=True,
//! separators=(",", ":"))` with `sentinel_core::stdlib_json` (the control records' digest).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use sentinel_core::stdlib_json::{write_ascii_string, write_repr_f64};

/// Nesting deeper than this is left to the standard library (which also finds cycles).
const MAX_DEPTH: usize = 64;

/// Writes `value`; `false` when it holds something this encoder leaves to the standard
/// library (a subclass, a non-string key, an integer beyond 64 bits, deep nesting).
fn write_value(out: &mut Vec<u8>, value: &Bound<'_, PyAny>, depth: usize) -> bool {
    if value.is_exact_instance_of::<PyString>() {
        match value.cast_exact::<PyString>().map(|s| s.to_str()) {
            Ok(Ok(text)) => write_ascii_string(out, text),
            _ => return false, // a lone surrogate: the standard library escapes it
        }
    } else if value.is_exact_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            out.extend_from_slice(i.to_string().as_bytes());
        } else if let Ok(u) = value.extract::<u64>() {
            out.extend_from_slice(u.to_string().as_bytes());
        } else {
            return false;
        }
    } else if value.is_none() {
        out.extend_from_slice(b"null");
    } else if value.is_exact_instance_of::<PyBool>() {
        out.extend_from_slice(if value.is_truthy().unwrap_or(false) {
            b"true"
        } else {
            b"false"
        });
    } else if value.is_exact_instance_of::<PyFloat>() {
        match value.cast_exact::<PyFloat>() {
            Ok(f) => write_repr_f64(out, f.value()),
            Err(_) => return false,
        }
    } else if value.is_exact_instance_of::<PyDict>() {
        if depth >= MAX_DEPTH {
            return false;
        }
        let Ok(dict) = value.cast_exact::<PyDict>() else {
            return false;
        };
        let mut members: Vec<(Bound<'_, PyString>, Bound<'_, PyAny>)> =
            Vec::with_capacity(dict.len());
        for (key, item) in dict.iter() {
            if !key.is_exact_instance_of::<PyString>() {
                return false;
            }
            let Ok(key) = key.cast_into_exact::<PyString>() else {
                return false;
            };
            members.push((key, item));
        }
        let mut order: Vec<(&str, usize)> = Vec::with_capacity(members.len());
        for (index, (key, _)) in members.iter().enumerate() {
            match key.to_str() {
                Ok(text) => order.push((text, index)),
                Err(_) => return false,
            }
        }
        // Python orders str by code point, which is the byte order of UTF-8.
        order.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out.push(b'{');
        for (n, &(text, index)) in order.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_ascii_string(out, text);
            out.push(b':');
            if !write_value(out, &members[index].1, depth + 1) {
                return false;
            }
        }
        out.push(b'}');
    } else if value.is_exact_instance_of::<PyList>() || value.is_exact_instance_of::<PyTuple>() {
        if depth >= MAX_DEPTH {
            return false;
        }
        let Ok(items) = value.try_iter() else {
            return false;
        };
        out.push(b'[');
        for (n, item) in items.enumerate() {
            if n > 0 {
                out.push(b',');
            }
            let Ok(item) = item else {
                return false;
            };
            if !write_value(out, &item, depth + 1) {
                return false;
            }
        }
        out.push(b']');
    } else {
        return false;
    }
    true
}

/// The bytes of `json.dumps(value, sort_keys=True, separators=(",", ":"))`, or None when
/// the value holds something left to the standard library.
#[pyfunction]
pub(crate) fn stdlib_sorted_json<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
) -> Option<Bound<'py, PyBytes>> {
    let mut out = Vec::with_capacity(4096);
    write_value(&mut out, value, 0).then(|| PyBytes::new(py, &out))
}
