//! The content-addressed workspace: a shared object store and mounts on it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sentinel_cas::{
    encode_tree, object_id, CasMount, Creator, EntryKind, Id, MountSettings, ObjectStore,
    TreeEntry, DEFAULT_LINGER_MICROS, DEFAULT_MAX_NODES,
};

fn parse_id(text: &str) -> PyResult<Id> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(text, &mut id)
        .map_err(|_| PyValueError::new_err(format!("not a 64-digit hex object id: {text:?}")))?;
    Ok(id)
}

fn kind_of(word: &str) -> PyResult<EntryKind> {
    match word {
        "file" => Ok(EntryKind::File),
        "dir" => Ok(EntryKind::Dir),
        "link" => Ok(EntryKind::Link),
        other => Err(PyValueError::new_err(format!(
            "entry kind {other:?} is not one of file, dir, link"
        ))),
    }
}

/// A per-run object store shared by every mount made on it.
#[pyclass(name = "CasStore", module = "sentinel._native", frozen)]
pub(crate) struct PyCasStore {
    inner: Arc<ObjectStore>,
}

#[pymethods]
impl PyCasStore {
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        let store = ObjectStore::open(&path).map_err(|e| {
            PyOSError::new_err(format!(
                "cannot open the object store {}: {e}",
                path.display()
            ))
        })?;
        Ok(Self {
            inner: Arc::new(store),
        })
    }

    /// `(logical_bytes, stored_bytes, dedup_hits, objects_written)`.
    fn stats(&self) -> (u64, u64, u64, u64) {
        let s = self.inner.stats();
        (
            s.logical_bytes,
            s.stored_bytes,
            s.dedup_hits,
            s.objects_written,
        )
    }

    /// The payload of object `id` (hex).
    fn get<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyBytes>> {
        let id = parse_id(id)?;
        let bytes = py
            .detach(|| self.inner.get(&id))
            .map_err(|e| PyOSError::new_err(format!("object {}: {e}", hex::encode(id))))?;
        Ok(PyBytes::new(py, &bytes))
    }
}

/// A mounted workspace on a `CasStore`.
#[pyclass(name = "CasMount", module = "sentinel._native", frozen)]
pub(crate) struct PyCasMount {
    inner: Mutex<CasMount>,
}

#[pymethods]
impl PyCasMount {
    #[new]
    #[pyo3(signature = (store, mountpoint, uid, gid, mode, max_nodes = DEFAULT_MAX_NODES, linger_us = DEFAULT_LINGER_MICROS))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        store: &PyCasStore,
        mountpoint: PathBuf,
        uid: u32,
        gid: u32,
        mode: u16,
        max_nodes: usize,
        linger_us: u64,
    ) -> PyResult<Self> {
        if linger_us > 10_000 {
            return Err(PyValueError::new_err(format!(
                "linger_us: {linger_us} is over the 10000 us bound"
            )));
        }
        let settings = MountSettings {
            owner: Creator { uid, gid },
            root_mode: mode,
            max_nodes,
            linger: std::time::Duration::from_micros(linger_us),
        };
        let store = Arc::clone(&store.inner);
        let mount = py
            .detach(|| CasMount::mount(store, &mountpoint, settings))
            .map_err(|e| {
                PyOSError::new_err(format!("cannot mount on {}: {e}", mountpoint.display()))
            })?;
        Ok(Self {
            inner: Mutex::new(mount),
        })
    }

    /// Commit every file, store the tree; returns the Merkle root (hex).
    fn snapshot(&self, py: Python<'_>) -> PyResult<String> {
        let id = py
            .detach(|| {
                self.inner
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .snapshot()
            })
            .map_err(|e| PyOSError::new_err(format!("snapshot failed: {e}")))?;
        Ok(hex::encode(id))
    }

    /// Make the workspace the tree of snapshot `root` (hex).
    fn restore(&self, py: Python<'_>, root: &str) -> PyResult<()> {
        let id = parse_id(root)?;
        py.detach(|| {
            self.inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .restore(&id)
        })
        .map_err(|e| PyValueError::new_err(format!("cannot restore snapshot {root}: {e}")))
    }

    /// The spin after each reply so far: `(spins, hits, spun_ns, cpu_ns)`.
    fn linger_stats(&self) -> (u64, u64, u64, u64) {
        let stats = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .linger_stats();
        (stats.spins, stats.hits, stats.spun_ns, stats.cpu_ns)
    }

    /// Live inodes.
    fn inodes(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .inodes()
    }

    /// Unmount and wait for the session to end (idempotent).
    fn unmount(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| {
            self.inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .unmount()
        })
        .map_err(|e| PyOSError::new_err(format!("unmount failed: {e}")))
    }
}

/// The id of an object of `kind` ("file", "dir", "link") with `payload`.
#[pyfunction]
pub(crate) fn cas_object_id(kind: &str, payload: &[u8]) -> PyResult<String> {
    Ok(hex::encode(object_id(kind_of(kind)?, payload)))
}

/// The tree encoding of `entries`: `(kind, mode, uid, gid, name, id hex)` tuples.
#[pyfunction]
pub(crate) fn cas_encode_tree<'py>(
    py: Python<'py>,
    entries: Vec<(String, u16, u32, u32, Vec<u8>, String)>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut tree = Vec::with_capacity(entries.len());
    for (kind, mode, uid, gid, name, id) in entries {
        if !sentinel_cas::ids::valid_name(&name) {
            return Err(PyValueError::new_err(format!(
                "invalid entry name {name:?}"
            )));
        }
        tree.push(TreeEntry {
            kind: kind_of(&kind)?,
            mode,
            uid,
            gid,
            name,
            id: parse_id(&id)?,
        });
    }
    Ok(PyBytes::new(py, &encode_tree(&tree)))
}
