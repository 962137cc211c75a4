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
    /// A tree size larger than the tree.
    TreeSize {
        /// The size asked for.
        size: u64,
        /// The number of leaves the tree has.
        len: u64,
    },
    /// A leaf index outside the tree of the given size.
    LeafIndex {
        /// The index asked for.
        index: u64,
        /// The tree size it was asked in.
        size: u64,
    },
    /// A consistency proof needs `0 < old_size <= new_size`.
    ConsistencyRange {
        /// The older tree size.
        old_size: u64,
        /// The newer tree size.
        new_size: u64,
    },
    /// The audit store could not be read.
    Storage {
        /// The database file.
        path: String,
        /// SQLite's message.
        reason: String,
    },
    /// The audit store could not be written (the transaction was rolled back).
    StorageWrite {
        /// The database file.
        path: String,
        /// SQLite's message.
        reason: String,
    },
    /// The store's last event does not verify: appending would chain onto a forgery.
    TailUnverified {
        /// The database file.
        path: String,
        /// The position of the last stored event.
        position: i64,
    },
    /// A synthesis rule condition does not compile.
    InvalidRule {
        /// The rule's index (`usize::MAX` for the gate).
        rule: usize,
        /// The condition as written.
        condition: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value has no canonical JSON form; `path` says where in the document.
    NotCanonical {
        /// Where the value sits, as `payload.items[2]`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Parallel inputs of one call disagree in length.
    BatchShape {
        /// What disagrees.
        reason: String,
    },
    /// A world component or table has the wrong size or holds an impossible value.
    WorldShape {
        /// The component or table, as named in `sentinel.world.layout`.
        component: String,
        /// What is wrong with it.
        reason: String,
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
            CoreError::TreeSize { size, len } => {
                write!(f, "tree size {size} is larger than the log ({len} events)")
            }
            CoreError::LeafIndex { index, size } => {
                write!(f, "leaf index {index} is outside a tree of {size} leaves")
            }
            CoreError::ConsistencyRange { old_size, new_size } => write!(
                f,
                "a consistency proof needs 0 < old size <= new size, got {old_size} and {new_size}"
            ),
            CoreError::NotCanonical { path, reason } => write!(f, "{path}: {reason}"),
            CoreError::InvalidRule {
                rule,
                condition,
                reason,
            } => {
                if *rule == usize::MAX {
                    write!(f, "gate condition {condition:?}: {reason}")
                } else {
                    write!(f, "rule {rule}, condition {condition:?}: {reason}")
                }
            }
            CoreError::Storage { path, reason } => {
                write!(f, "{path}: reading the audit store failed: {reason}")
            }
            CoreError::StorageWrite { path, reason } => {
                write!(f, "{path}: writing the audit store failed: {reason}")
            }
            CoreError::TailUnverified { path, position } => write!(
                f,
                "{path}: the last stored event (position {position}) does not verify; \
                 refusing to append after it (run `sentinel-run audit verify`)"
            ),
            CoreError::BatchShape { reason } => write!(f, "{reason}"),
            CoreError::WorldShape { component, reason } => {
                write!(f, "world component {component:?} {reason}")
            }
        }
    }
}

impl std::error::Error for CoreError {}
