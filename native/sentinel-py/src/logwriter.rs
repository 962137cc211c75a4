use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBool, PyBytes, PyList};
use sentinel_core::logwriter::{CheckpointRows, LogWriter, NewRecord, Refusal, Request, Stored};

use crate::errors::to_pyerr;

/// `(stream, type, canonical payload, tick, correlation_id, causation_id, idempotency_key)`
type RecordIn = (
    String,
    String,
    PyBackedBytes,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);
/// `(records, [(stream, expected revision)])`
type RequestIn = (Vec<RecordIn>, Vec<(String, i64)>);
/// `((size, root, note, key_id, wall_ns), [(level, idx, hash)])`
type CheckpointIn = (
    (i64, Vec<u8>, String, String, i64),
    Vec<(i64, i64, Vec<u8>)>,
);

/// The native write path of an audit store (one SQLite connection).
#[pyclass(name = "LogWriter", module = "sentinel._native")]
pub(crate) struct PyLogWriter {
    // A Mutex makes the connection shareable as PyO3 requires; only the store's writer
    // thread ever calls it, so the lock is never contended.
    inner: Mutex<LogWriter>,
}

#[pymethods]
impl PyLogWriter {
    #[new]
    fn new(py: Python<'_>, path: &str, node: &str, max_event_bytes: usize) -> PyResult<Self> {
        let inner = LogWriter::open(path, node, max_event_bytes).map_err(|e| to_pyerr(py, e))?;
        Ok(Self {
            inner: Mutex::new(inner),
        })
    }

    /// Commits requests (and a signed checkpoint's rows, if given) in one durable
    /// transaction. Per request, returns either the stored events as columns, a tuple of
    /// nine lists `(positions, event_ids, stream_revs, lamports, wall_ns, canonicals,
    /// hashes, prevs, existing)` (columns: nine lists cost less to build and collect than
    /// a tuple per event), or a refusal tuple: `("wrong_revision", stream, expected,
    /// actual)` or `("too_large", index, size)`.
    ///
    /// `build`, when given, is called with that list while the COMMIT (its fsync) runs on
    /// another thread, and its result is returned once the COMMIT succeeded: the caller's
    /// Python work on the outcomes overlaps the wait for the disk, and nothing is returned
    /// before the group is durable.
    #[pyo3(signature = (requests, clock, checkpoint=None, build=None))]
    fn commit_group<'py>(
        &self,
        py: Python<'py>,
        requests: Vec<RequestIn>,
        clock: i64,
        checkpoint: Option<CheckpointIn>,
        build: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let derived = match checkpoint {
            Some((row, subtrees)) => CheckpointRows {
                checkpoint: Some(row),
                subtrees,
            },
            None => CheckpointRows::default(),
        };
        let requests: Vec<Request> = requests
            .into_iter()
            .map(|(records, expected)| Request {
                events: records
                    .into_iter()
                    .map(
                        |(
                            stream,
                            type_,
                            payload,
                            tick,
                            correlation_id,
                            causation_id,
                            idempotency_key,
                        )| {
                            NewRecord {
                                stream,
                                type_,
                                payload: payload.to_vec(),
                                tick,
                                correlation_id,
                                causation_id,
                                idempotency_key,
                            }
                        },
                    )
                    .collect(),
                expected,
            })
            .collect();
        // Taken with the GIL held, so never waited for: a thread blocked here holding the
        // GIL would deadlock with the owner, which needs the GIL back to return. Only the
        // store's writer thread calls this; a second caller is refused instead.
        let mut guard = match self.inner.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "this LogWriter is already committing a group; \
                     one caller at a time (the store's writer thread)",
                ))
            }
        };
        let writer: &mut LogWriter = &mut guard;
        let outcomes = py
            .detach(|| writer.write_group(&requests, clock, &derived))
            .map_err(|e| to_pyerr(py, e))?;
        std::thread::scope(|scope| {
            let committing = scope.spawn(move || writer.finish());
            let built = outcomes_to_py(py, outcomes).and_then(|raw| match &build {
                Some(build) => build.call1((raw,)),
                None => Ok(raw),
            });
            let committed = py.detach(|| committing.join());
            match committed {
                Ok(Ok(())) => built,
                Ok(Err(e)) => Err(to_pyerr(py, e)),
                Err(_) => Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "the audit store's commit thread panicked",
                )),
            }
        })
    }
}

fn outcomes_to_py<'py>(
    py: Python<'py>,
    outcomes: Vec<sentinel_core::logwriter::Outcome>,
) -> PyResult<Bound<'py, PyAny>> {
    let items = outcomes
        .into_iter()
        .map(|outcome| -> PyResult<Bound<'py, PyAny>> {
            match outcome {
                Ok(stored) => {
                    let column = |f: &dyn Fn(&Stored) -> PyResult<Bound<'py, PyAny>>| {
                        let items = stored.iter().map(f).collect::<PyResult<Vec<_>>>()?;
                        PyList::new(py, items)
                    };
                    let int = |v: i64| Ok(v.into_pyobject(py)?.into_any());
                    let bytes = |v: &[u8]| Ok(PyBytes::new(py, v).into_any());
                    Ok((
                        column(&|s| int(s.position))?,
                        column(&|s| Ok(s.event_id.as_str().into_pyobject(py)?.into_any()))?,
                        column(&|s| int(s.stream_rev))?,
                        column(&|s| int(s.lamport))?,
                        column(&|s| int(s.wall_ns))?,
                        column(&|s| bytes(&s.canonical))?,
                        column(&|s| bytes(&s.hash))?,
                        column(&|s| bytes(&s.prev))?,
                        column(&|s| Ok(PyBool::new(py, s.existing).to_owned().into_any()))?,
                    )
                        .into_pyobject(py)?
                        .into_any())
                }
                Err(Refusal::WrongRevision {
                    stream,
                    expected,
                    actual,
                }) => Ok(("wrong_revision", stream, expected, actual)
                    .into_pyobject(py)?
                    .into_any()),
                Err(Refusal::TooLarge { index, size }) => {
                    Ok(("too_large", index, size).into_pyobject(py)?.into_any())
                }
            }
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any())
}
