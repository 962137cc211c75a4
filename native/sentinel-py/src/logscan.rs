use pyo3::prelude::*;
use sentinel_core::logscan;

use crate::errors::to_pyerr;
use crate::merkle::PyMerkleLog;

/// One finding: `(position, kind, detail)`.
type Finding = (i64, &'static str, String);

/// Walks the chain of the store at `path` read-only; returns the findings, the positions
/// whose index columns disagree with their canonical bytes, and the Merkle tree.
#[pyfunction]
pub(crate) fn scan_store(
    py: Python<'_>,
    path: &str,
) -> PyResult<(Vec<Finding>, Vec<i64>, PyMerkleLog)> {
    let scan = py
        .detach(|| logscan::scan_store(path))
        .map_err(|e| to_pyerr(py, e))?;
    let findings = scan
        .findings
        .into_iter()
        .map(|f| (f.position, f.kind, f.detail))
        .collect();
    Ok((
        findings,
        scan.column_mismatches,
        PyMerkleLog::from_tree(scan.tree),
    ))
}

/// Address of `sqlite3_libversion` in the SQLite library the native core is linked to.
#[pyfunction]
pub(crate) fn sqlite_library_address() -> usize {
    logscan::sqlite_library_address()
}
