//! The single conversion from `CoreError` to the exception classes of `sentinel.errors`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;
use sentinel_core::CoreError;

/// Raises the `sentinel.errors` class that matches `err`; falls back to `ValueError` only if
/// the Python package itself cannot be imported (which would be a broken install).
pub(crate) fn to_pyerr(py: Python<'_>, err: CoreError) -> PyErr {
    let class_name = match err {
        CoreError::DigestLength { .. }
        | CoreError::TreeSize { .. }
        | CoreError::LeafIndex { .. }
        | CoreError::ConsistencyRange { .. }
        | CoreError::InvalidRule { .. }
        | CoreError::WorldShape { .. }
        | CoreError::BatchShape { .. } => "InvalidInputError",
        CoreError::NotCanonical { .. } => "InvalidEventError",
        CoreError::Storage { .. } | CoreError::TailUnverified { .. } => "StoreCorruptError",
        CoreError::StorageWrite { .. } => "AuditError",
    };
    let message = err.to_string();
    match lookup_class(py, class_name) {
        Ok(class) => PyErr::from_type(class, message),
        Err(_) => PyValueError::new_err(message),
    }
}

fn lookup_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    let module = py.import("sentinel.errors")?;
    Ok(module.getattr(name)?.cast_into::<PyType>()?)
}
