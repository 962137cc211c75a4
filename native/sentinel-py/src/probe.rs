use std::sync::Mutex;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sentinel_probe::AgentProbe;

/// The agent probe: eBPF programs on BTF tracepoints, filtered to registered cgroups.
#[pyclass(name = "AgentProbe", module = "sentinel._native")]
pub(crate) struct PyAgentProbe {
    // The probe's map handles are shareable; the Mutex is for `close`, which needs `&mut`.
    inner: Mutex<AgentProbe>,
}

fn locked(probe: &PyAgentProbe) -> std::sync::MutexGuard<'_, AgentProbe> {
    probe
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[pymethods]
impl PyAgentProbe {
    #[new]
    fn new(py: Python<'_>, capacity: usize) -> PyResult<Self> {
        let probe = py
            .detach(|| AgentProbe::start(capacity))
            .map_err(PyOSError::new_err)?;
        Ok(Self {
            inner: Mutex::new(probe),
        })
    }

    /// The attached programs' names.
    fn programs(&self) -> Vec<String> {
        locked(self).programs().to_vec()
    }

    /// Report cgroup `cgroup_id` (a cgroup v2 id) as agent `slot`.
    fn watch(&self, cgroup_id: u64, slot: u32) -> PyResult<()> {
        locked(self)
            .watch(cgroup_id, slot)
            .map_err(PyOSError::new_err)
    }

    /// Stop reporting cgroup `cgroup_id`.
    fn unwatch(&self, cgroup_id: u64) -> PyResult<()> {
        locked(self).unwatch(cgroup_id).map_err(PyOSError::new_err)
    }

    /// The raw kernel-side totals of agent `slot`, or None.
    fn totals<'py>(&self, py: Python<'py>, slot: u32) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let raw = locked(self).totals(slot).map_err(PyOSError::new_err)?;
        Ok(raw.map(|bytes| PyBytes::new(py, &bytes)))
    }

    /// `(records, lost)`: the raw records queued so far, and how many the full queue dropped.
    fn drain<'py>(&self, py: Python<'py>) -> (Vec<Bound<'py, PyBytes>>, u64) {
        // The worker reads the ring first (a short wait): without the GIL.
        let (records, lost) = py.detach(|| locked(self).drain());
        let records = records
            .iter()
            .map(|record| PyBytes::new(py, record))
            .collect();
        (records, lost)
    }

    /// Attach (True) or detach (False) every program; the maps and totals stay.
    fn set_attached(&self, py: Python<'_>, on: bool) -> PyResult<()> {
        py.detach(|| locked(self).set_attached(on))
            .map_err(PyOSError::new_err)
    }

    /// Whether the programs are attached now.
    fn attached(&self) -> bool {
        locked(self).attached()
    }

    /// Whether the polling thread still runs.
    fn running(&self) -> bool {
        locked(self).running()
    }

    /// Detach the programs and stop the polling thread (idempotent).
    fn close(&self, py: Python<'_>) {
        py.detach(|| locked(self).close());
    }
}
