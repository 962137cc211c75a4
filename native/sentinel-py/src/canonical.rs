//! Walks Python values and writes canonical JSON with `sentinel_core::canonical`.

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use sentinel_core::canonical::{
    push_hex, utf16_key_cmp, write_f64, write_i64, write_string, write_u64,
};
use sentinel_core::document::MAX_PAYLOAD_DEPTH;
use sentinel_core::{chain, CoreError};

use crate::errors::to_pyerr;

/// Where a value sits in the document, built only when an error is reported.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self) -> String {
        match self {
            Path::Root(name) => (*name).to_owned(),
            Path::Key(parent, key) => format!("{}.{key}", parent.render()),
            Path::Index(parent, index) => format!("{}[{index}]", parent.render()),
        }
    }
}

fn refuse(path: &Path<'_>, reason: impl Into<String>) -> CoreError {
    CoreError::NotCanonical {
        path: path.render(),
        reason: reason.into(),
    }
}

fn str_of<'a>(s: &'a Bound<'_, PyString>, path: &Path<'_>) -> Result<&'a str, CoreError> {
    s.to_str()
        .map_err(|_| refuse(path, "string is not valid Unicode (lone surrogate)"))
}

fn write_int(
    out: &mut Vec<u8>,
    value: &Bound<'_, PyAny>,
    path: &Path<'_>,
) -> Result<(), CoreError> {
    if let Ok(i) = value.extract::<i64>() {
        write_i64(out, i);
    } else if let Ok(u) = value.extract::<u64>() {
        write_u64(out, u);
    } else {
        return Err(refuse(path, "integer outside the 64-bit range"));
    }
    Ok(())
}

fn too_deep(path: &Path<'_>) -> CoreError {
    refuse(
        path,
        format!("arrays and objects nest deeper than {MAX_PAYLOAD_DEPTH} levels in a payload"),
    )
}

/// Writes `value` canonically; `extra` is one more member merged into a top-level object.
/// Arrays and objects may nest `levels` deep (a payload `MAX_PAYLOAD_DEPTH`, an event one more).
pub(crate) fn write_py(
    out: &mut Vec<u8>,
    value: &Bound<'_, PyAny>,
    path: &Path<'_>,
    extra: Option<(&str, &str)>,
    levels: usize,
) -> Result<(), CoreError> {
    // Exact-type checks first (a pointer comparison each), in order of frequency in events;
    // subclasses (IntEnum, OrderedDict, str subclasses) take the slower paths below.
    if value.is_exact_instance_of::<PyString>() {
        write_string(
            out,
            str_of(value.cast_exact::<PyString>().expect("checked"), path)?,
        );
    } else if value.is_exact_instance_of::<PyInt>() {
        write_int(out, value, path)?;
    } else if value.is_none() {
        out.extend_from_slice(b"null");
    } else if value.is_exact_instance_of::<PyBool>() || value.is_instance_of::<PyBool>() {
        out.extend_from_slice(if value.is_truthy().unwrap_or(false) {
            b"true"
        } else {
            b"false"
        });
    } else if value.is_instance_of::<PyInt>() {
        write_int(out, value, path)?;
    } else if let Ok(f) = value.cast::<PyFloat>() {
        write_f64(out, f.value()).map_err(|_| refuse(path, "NaN and infinity are not JSON"))?;
    } else if let Ok(s) = value.cast::<PyString>() {
        write_string(out, str_of(s, path)?);
    } else if let Ok(dict) = value.cast::<PyDict>() {
        if levels == 0 {
            return Err(too_deep(path));
        }
        // Keys stay Python strings (their UTF-8 is cached in the object): a String per key
        // cost a fifth of encoding a small event payload.
        let mut owned: Vec<(Bound<'_, PyString>, Bound<'_, PyAny>)> =
            Vec::with_capacity(dict.len() + 1);
        for (key, item) in dict.iter() {
            let key = key.cast_into::<PyString>().map_err(|key| {
                refuse(
                    path,
                    format!("object key {} is not a string", key.into_inner()),
                )
            })?;
            owned.push((key, item));
        }
        if let Some((name, text)) = extra {
            let py = value.py();
            owned.push((PyString::new(py, name), PyString::new(py, text).into_any()));
        }
        let mut members: Vec<(&str, &Bound<'_, PyAny>)> = Vec::with_capacity(owned.len());
        for (key, item) in &owned {
            members.push((str_of(key, path)?, item));
        }
        if let Some((name, _)) = extra {
            if members[..members.len() - 1]
                .iter()
                .any(|(key, _)| *key == name)
            {
                return Err(refuse(
                    path,
                    format!("{name:?} is set by the log, not the caller"),
                ));
            }
        }
        members.sort_by(|a, b| utf16_key_cmp(a.0, b.0));
        out.push(b'{');
        for (i, (key, item)) in members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(out, key);
            out.push(b':');
            write_py(out, item, &Path::Key(path, key), None, levels - 1)?;
        }
        out.push(b'}');
    } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        if levels == 0 {
            return Err(too_deep(path));
        }
        out.push(b'[');
        for (i, item) in value
            .try_iter()
            .map_err(|_| refuse(path, "not iterable"))?
            .enumerate()
        {
            if i > 0 {
                out.push(b',');
            }
            let item = item.map_err(|_| refuse(path, "iteration failed"))?;
            write_py(out, &item, &Path::Index(path, i), None, levels - 1)?;
        }
        out.push(b']');
    } else {
        let type_name = value
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "object".to_owned());
        return Err(refuse(path, format!("{type_name} is not a JSON value")));
    }
    Ok(())
}

/// The canonical JSON bytes of a Python value (dict, list, str, int, float, bool, None);
/// `path` names the value in error messages.
#[pyfunction]
#[pyo3(signature = (value, path = "value"))]
pub(crate) fn canonical_json<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
    path: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::new();
    write_py(&mut out, value, &Path::Root(path), None, MAX_PAYLOAD_DEPTH)
        .map_err(|e| to_pyerr(py, e))?;
    Ok(PyBytes::new(py, &out))
}

fn hash32(py: Python<'_>, value: &[u8]) -> PyResult<[u8; 32]> {
    <[u8; 32]>::try_from(value).map_err(|_| {
        to_pyerr(
            py,
            CoreError::DigestLength {
                index: 0,
                found: value.len(),
            },
        )
    })
}

/// Seals events into the chain: for each event dict in order, writes its canonical bytes
/// with `prev_hash` (hex) merged in, and its hash `SHA-256(prev_hash || canonical)`.
#[pyfunction]
pub(crate) fn seal_events<'py>(
    py: Python<'py>,
    prev_hash: &[u8],
    events: &Bound<'py, PyList>,
) -> PyResult<Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)>> {
    let mut prev = hash32(py, prev_hash)?;
    let mut sealed = Vec::with_capacity(events.len());
    let mut buffer = Vec::with_capacity(512);
    let mut hex = Vec::with_capacity(64);
    for (index, event) in events.iter().enumerate() {
        let label = format!("events[{index}]");
        if !event.is_instance_of::<PyDict>() {
            return Err(to_pyerr(
                py,
                CoreError::NotCanonical {
                    path: label,
                    reason: "an event must be a dict".to_owned(),
                },
            ));
        }
        buffer.clear();
        hex.clear();
        push_hex(&mut hex, &prev);
        let hex_text = std::str::from_utf8(&hex).expect("hex digits are ASCII");
        write_py(
            &mut buffer,
            &event,
            &Path::Root(&label),
            Some(("prev_hash", hex_text)),
            MAX_PAYLOAD_DEPTH + 1,
        )
        .map_err(|e| to_pyerr(py, e))?;
        prev = chain::link_hash(&prev, &buffer);
        sealed.push((PyBytes::new(py, &buffer), PyBytes::new(py, &prev)));
    }
    Ok(sealed)
}

/// Extends a hash chain from `prev_hash` over canonical records.
#[pyfunction]
pub(crate) fn chain_extend<'py>(
    py: Python<'py>,
    prev_hash: &[u8],
    records: Vec<PyBackedBytes>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let prev = hash32(py, prev_hash)?;
    let hashes = py.detach(|| chain::extend(&prev, &records));
    Ok(hashes.iter().map(|h| PyBytes::new(py, h)).collect())
}

/// Indices of records whose stored hash is not `SHA-256(prev || record)` for their own
/// stored `prev`: the per-event check of a verification pass.
#[pyfunction]
pub(crate) fn chain_mismatched_links(
    py: Python<'_>,
    prevs: Vec<Vec<u8>>,
    records: Vec<PyBackedBytes>,
    hashes: Vec<Vec<u8>>,
) -> PyResult<Vec<usize>> {
    if prevs.len() != records.len() || records.len() != hashes.len() {
        return Err(to_pyerr(
            py,
            CoreError::BatchShape {
                reason: format!(
                    "{} prevs, {} records and {} hashes: lengths must match",
                    prevs.len(),
                    records.len(),
                    hashes.len()
                ),
            },
        ));
    }
    let prevs = sentinel_core::merkle::digests_from_slices(&prevs).map_err(|e| to_pyerr(py, e))?;
    let hashes =
        sentinel_core::merkle::digests_from_slices(&hashes).map_err(|e| to_pyerr(py, e))?;
    Ok(py.detach(|| chain::mismatched_links(&prevs, &records, &hashes)))
}
