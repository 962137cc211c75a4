use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyBytes;
use sentinel_core::error::CoreError;
use sentinel_core::merkle::{self, Hash, MerkleTree};

use crate::errors::to_pyerr;

fn digests(py: Python<'_>, items: &[Vec<u8>]) -> PyResult<Vec<Hash>> {
    merkle::digests_from_slices(items).map_err(|e| to_pyerr(py, e))
}

fn digest(py: Python<'_>, item: &[u8]) -> PyResult<Hash> {
    Ok(digests(py, &[item.to_vec()])?[0])
}

fn to_bytes<'py>(py: Python<'py>, hashes: &[Hash]) -> Vec<Bound<'py, PyBytes>> {
    hashes.iter().map(|h| PyBytes::new(py, h)).collect()
}

/// RFC 6962 leaf hashes, `SHA-256(0x00 || item)`, for a batch of byte strings.
#[pyfunction]
pub(crate) fn merkle_leaf_hashes<'py>(
    py: Python<'py>,
    items: Vec<PyBackedBytes>,
) -> Vec<Bound<'py, PyBytes>> {
    let hashes: Vec<Hash> = py.detach(|| items.iter().map(|d| merkle::leaf_hash(d)).collect());
    to_bytes(py, &hashes)
}

/// RFC 6962 Merkle tree hash over a batch of 32-byte leaf hashes.
#[pyfunction]
pub(crate) fn merkle_root<'py>(
    py: Python<'py>,
    leaf_hashes: Vec<Vec<u8>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let digests = digests(py, &leaf_hashes)?;
    let root = py.detach(|| merkle::root(&digests));
    Ok(PyBytes::new(py, &root))
}

/// RFC 9162 inclusion proof check.
#[pyfunction]
pub(crate) fn merkle_verify_inclusion(
    py: Python<'_>,
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: Vec<Vec<u8>>,
    root: &[u8],
) -> PyResult<bool> {
    let (leaf, root, proof) = (
        digest(py, leaf_hash)?,
        digest(py, root)?,
        digests(py, &proof)?,
    );
    Ok(merkle::verify_inclusion(&leaf, index, size, &proof, &root))
}

/// RFC 9162 consistency proof check.
#[pyfunction]
pub(crate) fn merkle_verify_consistency(
    py: Python<'_>,
    old_size: u64,
    new_size: u64,
    old_root: &[u8],
    new_root: &[u8],
    proof: Vec<Vec<u8>>,
) -> PyResult<bool> {
    let (old, new, proof) = (
        digest(py, old_root)?,
        digest(py, new_root)?,
        digests(py, &proof)?,
    );
    Ok(merkle::verify_consistency(
        old_size, new_size, &old, &new, &proof,
    ))
}

/// An append-only Merkle tree kept in memory, with roots and proofs at any earlier size.
#[pyclass(name = "MerkleLog", module = "sentinel._native")]
pub(crate) struct PyMerkleLog {
    tree: MerkleTree,
}

impl PyMerkleLog {
    pub(crate) fn from_tree(tree: MerkleTree) -> Self {
        Self { tree }
    }
}

#[pymethods]
impl PyMerkleLog {
    #[new]
    fn new() -> Self {
        Self {
            tree: MerkleTree::new(),
        }
    }

    fn __len__(&self) -> usize {
        self.tree.len() as usize
    }

    /// Appends leaf hashes (each 32 bytes) in order.
    fn append(&mut self, py: Python<'_>, leaf_hashes: Vec<Vec<u8>>) -> PyResult<()> {
        let digests = digests(py, &leaf_hashes)?;
        let tree = &mut self.tree;
        py.detach(|| tree.extend(&digests));
        Ok(())
    }

    /// The hash of the complete subtree over leaves `[index * 2**level, (index + 1) * 2**level)`.
    fn subtree<'py>(
        &self,
        py: Python<'py>,
        level: u32,
        index: u64,
    ) -> PyResult<Bound<'py, PyBytes>> {
        match self.tree.subtree(level, index) {
            Some(hash) => Ok(PyBytes::new(py, &hash)),
            None => Err(to_pyerr(
                py,
                CoreError::TreeSize {
                    size: index
                        .saturating_add(1)
                        .saturating_mul(1u64.checked_shl(level).unwrap_or(u64::MAX)),
                    len: self.tree.len(),
                },
            )),
        }
    }

    /// The root at `size` leaves (default: all).
    #[pyo3(signature = (size=None))]
    fn root<'py>(&self, py: Python<'py>, size: Option<u64>) -> PyResult<Bound<'py, PyBytes>> {
        let root = self
            .tree
            .root(size.unwrap_or(self.tree.len()))
            .map_err(|e| to_pyerr(py, e))?;
        Ok(PyBytes::new(py, &root))
    }

    /// The audit path of leaf `index` in the tree of `size` leaves.
    fn inclusion_proof<'py>(
        &self,
        py: Python<'py>,
        index: u64,
        size: u64,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let proof = self
            .tree
            .inclusion_proof(index, size)
            .map_err(|e| to_pyerr(py, e))?;
        Ok(to_bytes(py, &proof))
    }

    /// Proof that the tree of `old_size` leaves is a prefix of the tree of `new_size`.
    fn consistency_proof<'py>(
        &self,
        py: Python<'py>,
        old_size: u64,
        new_size: u64,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let proof = self
            .tree
            .consistency_proof(old_size, new_size)
            .map_err(|e| to_pyerr(py, e))?;
        Ok(to_bytes(py, &proof))
    }
}
