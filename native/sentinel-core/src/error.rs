//! The one error type of the core. `sentinel-py` converts it to the matching class of
//! `sentinel.errors` in a single place.

use std::fmt;

/// Everything the core can refuse, with enough context to say where the input was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreError {
    /// An input that must be a SHA-256 digest had another length.
    DigestLength {
        /// Position of the offending item in the caller's batch.
        index: usize,
        /// The length that was found, in bytes.
        found: usize,
    },
}

/// Result alias used across the core.
pub type CoreResult<T> = Result<T, CoreError>;

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::DigestLength { index, found } => write!(
                f,
                "item {index}: expected a 32-byte SHA-256 digest, found {found} bytes"
            ),
        }
    }
}

impl std::error::Error for CoreError {}
