//! `observation_digest`: `Observation.digest` (sentinel/control/observation.py) natively,
//! with `sentinel_core::observation_digest`. Only plain values are hashed here (exact
//! `int` tick within 64 bits, a tuple of `str` targets, float64 columns as long as the
//! targets); anything else is handed back (None) to the Python reference, which also
//! raises what it raises (a lone surrogate cannot be encoded).

use numpy::{PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyString, PyTuple};
use sentinel_core::observation_digest::ObservationDigest;

use crate::arrays::readable;

/// The text of an exact `str` that UTF-8 can encode, else None (a subclass may format
/// itself otherwise than its text, as the reference's f-string would use).
fn exact_text<'a>(item: &'a Bound<'_, PyAny>) -> Option<&'a str> {
    if !item.is_exact_instance_of::<PyString>() {
        return None;
    }
    item.cast::<PyString>().ok()?.to_str().ok()
}

/// The text of each item of `items`, or None if one is not an exact `str` that UTF-8 can
/// encode.
fn texts<'a>(items: &'a [Bound<'_, PyAny>]) -> Option<Vec<&'a str>> {
    items.iter().map(exact_text).collect()
}

/// The hex SHA-256 `Observation.digest` gives, or None when the values are left to it.
/// `names` are the column names in sorted order, `columns` their arrays in that order.
#[pyfunction]
pub(crate) fn observation_digest(
    plane: &Bound<'_, PyAny>,
    tick: &Bound<'_, PyAny>,
    targets: &Bound<'_, PyAny>,
    names: Vec<Bound<'_, PyAny>>,
    columns: Vec<Bound<'_, PyAny>>,
) -> Option<String> {
    if !tick.is_exact_instance_of::<PyInt>() || names.len() != columns.len() {
        return None;
    }
    let tick: i64 = tick.extract().ok()?;
    let plane = exact_text(plane)?;
    let targets = targets.cast::<PyTuple>().ok()?;
    // The targets joined, read through borrowed items: the tuple, which the caller holds
    // and which cannot change, keeps each alive.
    let mut joined = Vec::with_capacity(targets.len() * 12);
    for (n, target) in targets.iter_borrowed().enumerate() {
        if n > 0 {
            joined.push(0x1f);
        }
        joined.extend_from_slice(target.cast::<PyString>().ok()?.to_str().ok()?.as_bytes());
    }
    let name_texts = texts(&names)?;
    let arrays: Vec<PyReadonlyArray1<'_, f64>> = columns
        .iter()
        .map(|column| column.extract().ok())
        .collect::<Option<_>>()?;
    if arrays
        .iter()
        .any(|array| !readable(array) || array.len() != targets.len())
    {
        return None;
    }
    let mut digest = ObservationDigest::with_joined_targets(plane, tick, targets.len(), &joined);
    for (name, array) in name_texts.into_iter().zip(&arrays) {
        match array.as_slice() {
            Ok(values) => digest.column_slice(name, values),
            Err(_) => digest.column(name, array.as_array().iter().copied()),
        }
    }
    Some(digest.finish())
}
