//! `sentinel._native`: the PyO3 face of `sentinel-core`.
//!
//! This crate only converts types, maps `CoreError` to `sentinel.errors` and releases the GIL
//! around work that may take long. All logic lives in `sentinel-core`.

use pyo3::prelude::*;

mod build;
mod errors;
mod merkle;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(build::build_info, m)?)?;
    m.add_function(wrap_pyfunction!(merkle::merkle_leaf_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(merkle::merkle_root, m)?)?;
    Ok(())
}
