use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use sentinel_core::synthesis::Matcher;

use crate::errors::to_pyerr;

/// Synthesis rules compiled once; decides batches of fingerprints.
#[pyclass(name = "SynthesisMatcher", module = "sentinel._native", frozen)]
pub(crate) struct PySynthesisMatcher {
    matcher: Matcher,
}

#[pymethods]
impl PySynthesisMatcher {
    #[new]
    fn new(py: Python<'_>, gate: Vec<String>, rules: Vec<Vec<String>>) -> PyResult<Self> {
        let matcher = Matcher::new(&gate, &rules).map_err(|e| to_pyerr(py, e))?;
        Ok(PySynthesisMatcher { matcher })
    }

    fn __len__(&self) -> usize {
        self.matcher.len()
    }

    fn decide(&self, fingerprint: &str) -> i32 {
        self.matcher.decide(fingerprint)
    }

    fn decide_many(&self, py: Python<'_>, fingerprints: Vec<PyBackedStr>) -> Vec<i32> {
        // Hold the GIL for small batches: releasing it costs more than deciding them.
        if fingerprints.len() < DETACH_BATCH {
            return self.matcher.decide_many(&fingerprints);
        }
        py.detach(|| self.matcher.decide_many(&fingerprints))
    }
}

/// Batches at least this long are decided with the GIL released.
const DETACH_BATCH: usize = 256;
