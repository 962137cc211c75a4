//! `group_holds`: a rule's fired targets sorted by why each is held (the codes of
//! `VerificationStore.holds`), in one pass instead of a numpy comparison, a list and a
//! `compress` per reason. Reference: `sentinel.control.verification_store.reference_group_holds`
//! (a hypothesis test pins the two).

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyList;

/// The free rows (code 0) as an array, their targets, and per hold code (in the order
/// each is first seen) the targets held for it. `fired[n]` is row n's target.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub(crate) fn group_holds<'py>(
    py: Python<'py>,
    codes: PyReadonlyArray1<'py, i8>,
    fired: &Bound<'py, PyList>,
) -> PyResult<(
    Bound<'py, PyArray1<isize>>,
    Bound<'py, PyList>,
    Vec<(i8, Bound<'py, PyList>)>,
)> {
    let codes = codes.as_array();
    if codes.len() != fired.len() {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "group_holds: {} codes for {} targets",
            codes.len(),
            fired.len()
        )));
    }
    let mut free_rows: Vec<isize> = Vec::with_capacity(codes.len());
    let free_targets = PyList::empty(py);
    let mut held: Vec<(i8, Bound<'py, PyList>)> = Vec::new();
    for (row, &code) in codes.iter().enumerate() {
        let target = fired.get_item(row)?;
        if code == 0 {
            free_rows.push(isize::try_from(row)?);
            free_targets.append(target)?;
        } else if let Some((_, targets)) = held.iter().find(|(seen, _)| *seen == code) {
            targets.append(target)?;
        } else {
            held.push((code, PyList::new(py, [target])?));
        }
    }
    Ok((PyArray1::from_vec(py, free_rows), free_targets, held))
}
