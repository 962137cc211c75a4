//! Sentinel's pure-Rust core.
//!
//! Nothing here knows about Python: every function takes and returns plain Rust values so
//! that it can be tested with `cargo test` alone. The `sentinel-py` crate converts types and
//! releases the GIL around calls into this crate.

pub mod canonical;
pub mod chain;
pub mod compare;
pub mod document;
pub mod document_scan;
pub mod error;
pub mod logscan;
pub mod logwriter;
pub mod merkle;
pub mod observation_digest;
pub mod rule_rows;
pub mod stdlib_json;
pub mod synthesis;
pub mod verification;
pub mod verification_json;
pub mod world;

pub use error::{CoreError, CoreResult};
