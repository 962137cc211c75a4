use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyTuple};
use sentinel_core::logwriter::{LogWriter, NewRecord, Refusal, Request};

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

    /// Commits requests in one durable transaction. Per request, returns either a list of
    /// `(position, event_id, stream_rev, lamport, wall_ns, canonical, hash, prev, existing)`
    /// or a refusal tuple: `("wrong_revision", stream, expected, actual)` or
    /// `("too_large", index, size)`.
    fn commit_group<'py>(
        &self,
        py: Python<'py>,
        requests: Vec<RequestIn>,
        clock: i64,
    ) -> PyResult<Vec<Bound<'py, PyAny>>> {
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
        let writer = &self.inner;
        let outcomes = py
            .detach(|| {
                let mut writer = writer
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                writer.commit_group(&requests, clock)
            })
            .map_err(|e| to_pyerr(py, e))?;
        outcomes
            .into_iter()
            .map(|outcome| -> PyResult<Bound<'py, PyAny>> {
                match outcome {
                    Ok(stored) => {
                        let items: Vec<Bound<'py, PyTuple>> = stored
                            .iter()
                            .map(|s| {
                                (
                                    s.position,
                                    s.event_id.as_str(),
                                    s.stream_rev,
                                    s.lamport,
                                    s.wall_ns,
                                    PyBytes::new(py, &s.canonical),
                                    PyBytes::new(py, &s.hash),
                                    PyBytes::new(py, &s.prev),
                                    s.existing,
                                )
                                    .into_pyobject(py)
                            })
                            .collect::<PyResult<_>>()?;
                        Ok(items.into_pyobject(py)?.into_any())
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
            .collect()
    }
}
