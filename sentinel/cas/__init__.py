"""A content-addressed workspace: file contents stored by hash, snapshots as Merkle roots.

The file system itself is native (``native/sentinel-cas``, served over FUSE on its own
thread); this package mounts it (:class:`CasWorkspace`), records its snapshots in the
audit trail, and holds the pure-Python reference of its Merkle root
(:mod:`sentinel.cas.reference`).
"""

from sentinel.cas.reference import (
    MAX_DEPTH,
    MAX_NAME_BYTES,
    directory_tree_id,
    encode_tree,
    object_id,
)
from sentinel.cas.workspace import CasStore, CasWorkspace, DedupStats

__all__ = [
    "MAX_DEPTH",
    "MAX_NAME_BYTES",
    "CasStore",
    "CasWorkspace",
    "DedupStats",
    "directory_tree_id",
    "encode_tree",
    "object_id",
]
