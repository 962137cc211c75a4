use pyo3::prelude::*;
use pyo3::types::PyDict;

/// How this extension was built: profile, cargo features, rustc version, target.
#[pyfunction]
pub(crate) fn build_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let info = PyDict::new(py);
    info.set_item("version", env!("CARGO_PKG_VERSION"))?;
    info.set_item("profile", env!("SENTINEL_BUILD_PROFILE"))?;
    let features: Vec<&str> = env!("SENTINEL_BUILD_FEATURES")
        .split(',')
        .filter(|f| !f.is_empty())
        .collect();
    info.set_item("features", features)?;
    info.set_item("rustc", env!("SENTINEL_RUSTC_VERSION"))?;
    info.set_item("target", env!("SENTINEL_BUILD_TARGET"))?;
    info.set_item("debug_assertions", cfg!(debug_assertions))?;
    Ok(info)
}

/// The in-sandbox Landlock shim, compiled for this target by build.rs.
static SHIM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sentinel-shim"));

/// The bytes of the native Landlock shim executable (see `shim/sentinel_shim.rs`).
#[pyfunction]
pub(crate) fn shim_executable<'py>(py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
    pyo3::types::PyBytes::new(py, SHIM)
}
