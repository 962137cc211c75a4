//! `RuleRows`: the rows each of a plane's control rules fires for
//! (`sentinel_core::rule_rows`), over an observation's float64 columns, in one call.

use std::borrow::Cow;

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use sentinel_core::compare::Op;
use sentinel_core::rule_rows::{rows_where, Condition};

use crate::arrays::{readable, unreadable};

/// A plane's rules as comparisons of numbered columns, read once from the policy.
#[pyclass(name = "RuleRows", module = "sentinel._native", frozen)]
pub(crate) struct PyRuleRows {
    rules: Vec<Vec<Condition>>,
    columns: usize,
}

#[pymethods]
impl PyRuleRows {
    /// `rules[i]` lists rule i's comparisons as `(column, op, value)`; `columns` is how
    /// many columns `fired` is given.
    #[new]
    fn new(rules: Vec<Vec<(usize, String, f64)>>, columns: usize) -> PyResult<Self> {
        let mut compiled = Vec::with_capacity(rules.len());
        for comparisons in rules {
            let mut conditions = Vec::with_capacity(comparisons.len());
            for (column, op, value) in comparisons {
                let Some(op) = Op::parse(&op) else {
                    return Err(PyValueError::new_err(format!("no operator {op:?}")));
                };
                if column >= columns {
                    return Err(PyValueError::new_err(format!(
                        "column {column} of {columns}"
                    )));
                }
                conditions.push(Condition { column, op, value });
            }
            compiled.push(conditions);
        }
        Ok(PyRuleRows {
            rules: compiled,
            columns,
        })
    }

    /// Per rule (its position) that fires for any row, the rows it fires for; `columns`
    /// holds a float64 column of `count` values per column number (None: not observed,
    /// a rule comparing it fires nothing).
    fn fired<'py>(
        &self,
        py: Python<'py>,
        columns: Vec<Option<PyReadonlyArray1<'py, f64>>>,
        count: usize,
    ) -> PyResult<Vec<(usize, Bound<'py, PyArray1<isize>>)>> {
        if columns.len() != self.columns {
            return Err(PyValueError::new_err(format!(
                "{} columns given for {}",
                columns.len(),
                self.columns
            )));
        }
        if columns.iter().flatten().any(|c| !readable(c)) {
            return Err(unreadable("RuleRows.fired"));
        }
        // Each column as a slice: numpy's own memory when contiguous, else a copy.
        let copies: Vec<Option<Cow<'_, [f64]>>> = columns
            .iter()
            .map(|c| {
                c.as_ref().map(|c| match c.as_slice() {
                    Ok(slice) => Cow::Borrowed(slice),
                    Err(_) => Cow::Owned(c.as_array().to_vec()),
                })
            })
            .collect();
        if let Some(other) = copies.iter().flatten().find(|v| v.len() != count) {
            return Err(PyValueError::new_err(format!(
                "a column of {} values for {count} rows",
                other.len()
            )));
        }
        let slices: Vec<Option<&[f64]>> = copies.iter().map(|c| c.as_deref()).collect();
        let mut fired = Vec::new();
        let (mut mask, mut rows) = (Vec::new(), Vec::new());
        for (index, conditions) in self.rules.iter().enumerate() {
            rows_where(conditions, &slices, count, &mut mask, &mut rows);
            if !rows.is_empty() {
                let found = rows
                    .iter()
                    .map(|&r| isize::try_from(r))
                    .collect::<Result<Vec<_>, _>>()?;
                fired.push((index, PyArray1::from_vec(py, found)));
            }
        }
        Ok(fired)
    }
}
