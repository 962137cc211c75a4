//! `sentinel._native`: the PyO3 face of `sentinel-core`.
//!
//! This crate only converts types, maps `CoreError` to `sentinel.errors` and releases the GIL
//! around work that may take long. All logic lives in `sentinel-core`.

use pyo3::prelude::*;

mod action_entries;
mod arrays;
mod build;
mod canonical;
mod cas;
mod errors;
mod group_holds;
mod logscan;
mod logwriter;
mod merkle;
mod observation_digest;
mod probe;
mod rule_rows;
mod stdlib_json;
mod synthesis;
mod verification;
mod world;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(build::build_info, m)?)?;
    m.add_function(wrap_pyfunction!(build::shim_executable, m)?)?;
    m.add_function(wrap_pyfunction!(canonical::canonical_json, m)?)?;
    m.add_function(wrap_pyfunction!(canonical::seal_events, m)?)?;
    m.add_function(wrap_pyfunction!(canonical::chain_extend, m)?)?;
    m.add_function(wrap_pyfunction!(canonical::chain_mismatched_links, m)?)?;
    m.add_function(wrap_pyfunction!(merkle::merkle_leaf_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(merkle::merkle_root, m)?)?;
    m.add_function(wrap_pyfunction!(merkle::merkle_verify_inclusion, m)?)?;
    m.add_function(wrap_pyfunction!(merkle::merkle_verify_consistency, m)?)?;
    m.add_function(wrap_pyfunction!(logscan::scan_store, m)?)?;
    m.add_function(wrap_pyfunction!(logscan::sqlite_library_address, m)?)?;
    m.add_function(wrap_pyfunction!(stdlib_json::stdlib_sorted_json, m)?)?;
    m.add_function(wrap_pyfunction!(observation_digest::observation_digest, m)?)?;
    m.add_function(wrap_pyfunction!(group_holds::group_holds, m)?)?;
    m.add_function(wrap_pyfunction!(action_entries::action_entries, m)?)?;
    m.add_function(wrap_pyfunction!(world::world_step, m)?)?;
    m.add_function(wrap_pyfunction!(world::world_param_names, m)?)?;
    m.add_function(wrap_pyfunction!(cas::cas_object_id, m)?)?;
    m.add_function(wrap_pyfunction!(cas::cas_encode_tree, m)?)?;
    m.add_class::<cas::PyCasStore>()?;
    m.add_class::<cas::PyCasMount>()?;
    m.add_class::<merkle::PyMerkleLog>()?;
    m.add_class::<probe::PyAgentProbe>()?;
    m.add_class::<logwriter::PyLogWriter>()?;
    m.add_class::<synthesis::PySynthesisMatcher>()?;
    m.add_class::<verification::PyVerificationStore>()?;
    m.add_class::<rule_rows::PyRuleRows>()?;
    Ok(())
}
