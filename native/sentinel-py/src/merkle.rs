use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sentinel_core::merkle;

use crate::errors::to_pyerr;

/// RFC 6962 leaf hashes, `SHA-256(0x00 || item)`, for a batch of byte strings.
#[pyfunction]
pub(crate) fn merkle_leaf_hashes<'py>(
    py: Python<'py>,
    items: Vec<Vec<u8>>,
) -> Vec<Bound<'py, PyBytes>> {
    let hashes: Vec<merkle::Hash> =
        py.detach(|| items.iter().map(|d| merkle::leaf_hash(d)).collect());
    hashes.iter().map(|h| PyBytes::new(py, h)).collect()
}

/// RFC 6962 Merkle tree hash over a batch of 32-byte leaf hashes.
#[pyfunction]
pub(crate) fn merkle_root<'py>(
    py: Python<'py>,
    leaf_hashes: Vec<Vec<u8>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let digests = merkle::digests_from_slices(&leaf_hashes).map_err(|e| to_pyerr(py, e))?;
    let root = py.detach(|| merkle::root(&digests));
    Ok(PyBytes::new(py, &root))
}
