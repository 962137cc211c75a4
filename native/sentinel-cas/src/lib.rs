//! A content-addressed FUSE workspace for Sentinel's agents.
//!
//! File contents are stored by SHA-256 in a per-run object store ([`ObjectStore`]) that
//! every agent's mount shares, so identical files are stored once. A snapshot commits
//! every file and stores each directory as a tree object; the root tree's id is the
//! snapshot's Merkle root ([`ids`] defines the bytes). Any snapshot can be restored.
//!
//! The FUSE daemon runs as root and serves content agents wrote: no name an agent
//! chooses ever becomes a host path (objects are named by hash), directory depth and
//! name length are bounded, and every walk over the tree is iterative.

pub mod fuse_fs;
pub mod ids;
pub mod linger;
pub mod mount;
pub mod object_store;
pub mod table;

pub use ids::{decode_tree, encode_tree, object_id, EntryKind, Id, TreeEntry};
pub use linger::LingerStats;
pub use mount::{CasMount, MountSettings};
pub use object_store::{ObjectStore, StoreStats};
pub use table::Creator;

/// Deepest directory nesting below the root (EMLINK beyond): deep enough for any source
/// tree, shallow enough that no walk over it is a risk.
pub const MAX_DEPTH: u32 = 256;

/// Longest entry name in bytes: Linux's NAME_MAX.
pub const MAX_NAME_BYTES: usize = 255;

/// Longest symbolic link target in bytes: Linux's PATH_MAX.
pub const MAX_LINK_BYTES: usize = 4096;

/// Largest file (EFBIG beyond): a file being written is held in memory until committed.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Default most inodes per workspace (ENOSPC beyond): the table lives in memory.
pub const DEFAULT_MAX_NODES: usize = 1_000_000;

/// Default spin of the request thread after each reply (see [`linger`]): long enough to
/// catch the next request of a burst (a few µs after the reply), short enough that an
/// idle workspace costs at most this much CPU per request.
pub const DEFAULT_LINGER_MICROS: u64 = 50;
