//! `VerificationStore`: a control plane's open verifications (`sentinel_core::verification`),
//! opened in batches and measured against an observation's numpy columns in one call.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use sentinel_core::verification::{Check, Closed, Measured, Op, Verdict, VerificationStore};
use sentinel_core::verification_json::write_closed_entry;
use sentinel_core::CoreError;

use crate::arrays::{readable, unreadable};
use crate::errors::to_pyerr;
use crate::stdlib_json::{is_flat_dict, write_json};

fn shape(py: Python<'_>, reason: String) -> PyErr {
    to_pyerr(py, CoreError::BatchShape { reason })
}

/// A check's rule id and condition as Python strings, made once: every entry it closes
/// names both.
struct CheckNames {
    rule: Py<PyString>,
    condition: Py<PyString>,
}

/// Every open verification of one plane, in the order of their actions.
#[pyclass(name = "VerificationStore", module = "sentinel._native")]
pub(crate) struct PyVerificationStore {
    store: VerificationStore,
    names: Vec<CheckNames>,
    /// What the last `measure` or `finish` closed, for `closed_json`.
    last: Vec<Closed>,
}

#[pymethods]
impl PyVerificationStore {
    #[new]
    fn new() -> Self {
        PyVerificationStore {
            store: VerificationStore::new(),
            names: Vec::new(),
            last: Vec::new(),
        }
    }

    fn __len__(&self) -> usize {
        self.store.len()
    }

    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (rule, condition, text, metric, metric_index, op, threshold, tolerance,
                        delay, ttl, failure_limit, error_limit, inconclusive_limit))]
    fn add_check(
        &mut self,
        py: Python<'_>,
        rule: String,
        condition: String,
        text: String,
        metric: String,
        metric_index: usize,
        op: &str,
        threshold: f64,
        tolerance: f64,
        delay: i64,
        ttl: i64,
        failure_limit: u64,
        error_limit: u64,
        inconclusive_limit: u64,
    ) -> PyResult<usize> {
        let Some(op) = Op::parse(op) else {
            return Err(shape(
                py,
                format!("rule {rule:?}: operator {op:?} is not one of >= <= > < == !="),
            ));
        };
        self.names.push(CheckNames {
            rule: PyString::new(py, &rule).unbind(),
            condition: PyString::new(py, &condition).unbind(),
        });
        Ok(self.store.add_check(Check {
            rule,
            condition,
            text,
            metric,
            metric_index,
            op,
            threshold,
            tolerance,
            delay,
            ttl,
            failure_limit,
            error_limit,
            inconclusive_limit,
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn open_many(
        &mut self,
        py: Python<'_>,
        check: usize,
        decision: &str,
        acted_at: i64,
        keys: Vec<String>,
        targets: Vec<String>,
        target_ids: Vec<usize>,
        baselines: Vec<Option<f64>>,
    ) -> PyResult<()> {
        if self.store.check(check).is_none() {
            return Err(shape(py, format!("no check {check}")));
        }
        let count = keys.len();
        if targets.len() != count || target_ids.len() != count || baselines.len() != count {
            return Err(shape(
                py,
                format!(
                    "open_many: {count} keys, {} targets, {} target ids, {} baselines",
                    targets.len(),
                    target_ids.len(),
                    baselines.len()
                ),
            ));
        }
        let rows = keys.into_iter().zip(targets).zip(target_ids).zip(baselines);
        for (((key, target), target_id), baseline) in rows {
            let baseline = baseline.filter(|b| !b.is_nan());
            self.store.open(
                check,
                target_id,
                key,
                target,
                decision.to_owned(),
                acted_at,
                baseline,
            );
        }
        Ok(())
    }

    fn verifying<'py>(
        &self,
        py: Python<'py>,
        check: usize,
        ids: PyReadonlyArray1<'py, isize>,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        if !readable(&ids) {
            return Err(unreadable("VerificationStore.verifying"));
        }
        let flags: Vec<bool> = ids
            .as_array()
            .iter()
            .map(|&id| usize::try_from(id).is_ok_and(|id| self.store.is_verifying(check, id)))
            .collect();
        Ok(PyArray1::from_vec(py, flags))
    }

    /// Per id, why its key is held: 1 under verification, 2 in error backoff
    /// (`tick < backoff_until[id]`), 3 in cooldown (`tick < cooldown_until[id]`), the
    /// first that applies; 0 free.
    fn holds<'py>(
        &self,
        py: Python<'py>,
        check: usize,
        ids: PyReadonlyArray1<'py, isize>,
        tick: i64,
        backoff_until: PyReadonlyArray1<'py, i64>,
        cooldown_until: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<i8>>> {
        if !(readable(&ids) && readable(&backoff_until) && readable(&cooldown_until)) {
            return Err(unreadable("VerificationStore.holds"));
        }
        let (backoff, cooldown) = (backoff_until.as_array(), cooldown_until.as_array());
        let mut codes = Vec::with_capacity(ids.len()?);
        for &id in ids.as_array() {
            let index = usize::try_from(id).ok();
            let until = |column: &numpy::ndarray::ArrayView1<'_, i64>| {
                index.and_then(|i| column.get(i).copied()).ok_or_else(|| {
                    pyo3::exceptions::PyIndexError::new_err(format!(
                        "target id {id} is outside the rule's key arrays"
                    ))
                })
            };
            let (backoff_until, cooldown_until) = (until(&backoff)?, until(&cooldown)?);
            codes.push(
                if index.is_some_and(|i| self.store.is_verifying(check, i)) {
                    1
                } else if tick < backoff_until {
                    2
                } else if tick < cooldown_until {
                    3
                } else {
                    0
                },
            );
        }
        Ok(PyArray1::from_vec(py, codes))
    }

    fn measure<'py>(
        &mut self,
        py: Python<'py>,
        tick: i64,
        rows: PyReadonlyArray1<'py, i64>,
        columns: Vec<Option<PyReadonlyArray1<'py, f64>>>,
    ) -> PyResult<(Bound<'py, PyList>, Vec<usize>)> {
        if !readable(&rows) || columns.iter().flatten().any(|c| !readable(c)) {
            return Err(unreadable("VerificationStore.measure"));
        }
        let rows = rows.as_array();
        let columns: Vec<_> = columns
            .iter()
            .map(|c| c.as_ref().map(|c| c.as_array()))
            .collect();
        let closed = self.store.measure(tick, |metric, target_id| {
            let row = usize::try_from(*rows.get(target_id)?).ok()?;
            columns.get(metric)?.as_ref()?.get(row).copied()
        });
        self.entries(py, closed)
    }

    fn finish<'py>(
        &mut self,
        py: Python<'py>,
        why: &str,
    ) -> PyResult<(Bound<'py, PyList>, Vec<usize>)> {
        let closed = self.store.finish(why);
        self.entries(py, closed)
    }

    /// The JSON text (sorted keys, compact) of the entries the last `measure` or `finish`
    /// returned, as a list, with each Failed entry's `rollback` the next of `rollbacks`
    /// (one per Failed entry, in order); None when a rollback holds what the native
    /// encoder leaves to the standard library, or `rollbacks` has another length.
    fn closed_json<'py>(
        &self,
        py: Python<'py>,
        rollbacks: Vec<Bound<'py, PyAny>>,
    ) -> Option<Bound<'py, PyBytes>> {
        let failed = self.last.iter().filter(|c| c.verdict == Verdict::Failed);
        // A rollback's values come from the actuator: written now only when nothing can
        // change them before the step ends (else the step's end walks the entries).
        if failed.count() != rollbacks.len() || !rollbacks.iter().all(is_flat_dict) {
            return None;
        }
        let mut rollbacks = rollbacks.iter();
        let mut out = Vec::with_capacity(512 * self.last.len() + 2);
        let mut rollback = Vec::new();
        out.push(b'[');
        for (n, closed) in self.last.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            let check = self.store.check(closed.open.check)?;
            let written = if closed.verdict == Verdict::Failed {
                rollback.clear();
                if !write_json(&mut rollback, rollbacks.next()?) {
                    return None;
                }
                Some(rollback.as_slice())
            } else {
                None
            };
            write_closed_entry(&mut out, check, closed, written);
        }
        out.push(b']');
        Some(PyBytes::new(py, &out))
    }
}

/// A measurement's result as an interned Python string (one object for every point, not a
/// new string for each of a busy iteration's thousand).
fn measured_text(py: Python<'_>, result: Measured) -> &Bound<'_, PyString> {
    match result {
        Measured::Success => intern!(py, "success"),
        Measured::Failure => intern!(py, "failure"),
        Measured::Inconclusive => intern!(py, "inconclusive"),
        Measured::Error => intern!(py, "error"),
    }
}

/// A verdict as an interned Python string.
fn verdict_text(py: Python<'_>, verdict: Verdict) -> &Bound<'_, PyString> {
    match verdict {
        Verdict::Successful => intern!(py, "Successful"),
        Verdict::Failed => intern!(py, "Failed"),
        Verdict::Inconclusive => intern!(py, "Inconclusive"),
    }
}

impl PyVerificationStore {
    /// The record entries of `closed` (what `Analysis.to_record` writes, with `rollback`
    /// None), and the positions of the Failed ones (the caller rolls them back); `closed`
    /// is kept for `closed_json`.
    fn entries<'py>(
        &mut self,
        py: Python<'py>,
        closed: Vec<Closed>,
    ) -> PyResult<(Bound<'py, PyList>, Vec<usize>)> {
        self.last = closed;
        let (k_key, k_decision, k_rule, k_target) = (
            intern!(py, "key"),
            intern!(py, "decision"),
            intern!(py, "rule"),
            intern!(py, "target"),
        );
        let (k_condition, k_baseline, k_series, k_verdict) = (
            intern!(py, "condition"),
            intern!(py, "baseline"),
            intern!(py, "series"),
            intern!(py, "verdict"),
        );
        let (k_why, k_rollback, k_tick, k_value, k_result) = (
            intern!(py, "why"),
            intern!(py, "rollback"),
            intern!(py, "tick"),
            intern!(py, "value"),
            intern!(py, "result"),
        );
        let none = py.None().into_bound(py);
        let list = PyList::empty(py);
        let mut failed = Vec::new();
        // Entries closed together mostly share a few decisions: one string for each run.
        let mut decision: Option<(&str, Bound<'py, PyString>)> = None;
        for (position, item) in self.last.iter().enumerate() {
            let open = &item.open;
            let Some(names) = self.names.get(open.check) else {
                return Err(shape(py, format!("no check {}", open.check)));
            };
            let series = PyList::empty(py);
            for &(tick, value, result) in &open.series {
                let point = PyDict::new(py);
                point.set_item(k_tick, tick)?;
                point.set_item(k_value, value)?;
                point.set_item(k_result, measured_text(py, result))?;
                series.append(point)?;
            }
            let decision_text = match &decision {
                Some((text, object)) if *text == open.decision => object.clone(),
                _ => {
                    let object = PyString::new(py, &open.decision);
                    decision = Some((open.decision.as_str(), object.clone()));
                    object
                }
            };
            let entry = PyDict::new(py);
            entry.set_item(k_key, PyString::new(py, &open.key))?;
            entry.set_item(k_decision, decision_text)?;
            entry.set_item(k_rule, names.rule.bind(py))?;
            entry.set_item(k_target, PyString::new(py, &open.target))?;
            entry.set_item(k_condition, names.condition.bind(py))?;
            entry.set_item(k_baseline, open.baseline)?;
            entry.set_item(k_series, series)?;
            entry.set_item(k_verdict, verdict_text(py, item.verdict))?;
            entry.set_item(k_why, PyString::new(py, &item.why))?;
            entry.set_item(k_rollback, &none)?;
            list.append(entry)?;
            if item.verdict == Verdict::Failed {
                failed.push(position);
            }
        }
        Ok((list, failed))
    }
}
