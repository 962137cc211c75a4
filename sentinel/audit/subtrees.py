"""Complete Merkle subtrees kept in the store, so that a proof reads O(log n) rows, not n.

Transparency logs serve their trees as tiles (C2SP ``tlog-tiles``): hashes of complete
subtrees, written once as the log grows, from which any root or proof is assembled. A store
keeps the same in its ``subtrees`` table (docs/audit-format.md section 6): the hash of every
complete subtree of ``2**level`` leaves, ``level >= SUBTREE_MIN_LEVEL``, written in the
transaction of each signed checkpoint. Smaller subtrees are hashed on demand from the
events' ``hash`` column: a proof reads at most two blocks of 256 events.

The rows are derived data, not evidence, and are never trusted unchecked: a proof assembled
from them is checked against the signed checkpoint before it is handed out (a wrong row can
only make that check fail; the caller then rebuilds the tree from the events), and
``audit verify`` compares every row with the tree it rebuilds (``subtree_mismatch``).
"""

from __future__ import annotations

import sqlite3
from typing import Final

from sentinel.audit.merkle import MerkleLog, leaf_hashes, merkle_root, reference_node_hash
from sentinel.errors import AuditError

SUBTREE_MIN_LEVEL: Final = 8
"""The smallest subtree kept: 256 leaves, the width of a tile in C2SP tlog-tiles."""
DIGEST_SIZE: Final = 32
_MAX_LEVEL: Final = 63
"""A tree of at most 2**63 leaves (positions are SQLite's signed 64-bit integers)."""
_BLOCK_HASHES: Final = (
    "SELECT hash FROM events WHERE position >= ? AND position < ? ORDER BY position"
)


class LeavesMissingError(AuditError):
    """The events a subtree needs are not all stored (the store does not verify)."""


def has_subtrees(conn: sqlite3.Connection) -> bool:
    """Whether the store has a ``subtrees`` table (stores written before it have none)."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'subtrees'"
    ).fetchone()
    return row is not None


def stored_extent(conn: sqlite3.Connection, *, min_level: int = SUBTREE_MIN_LEVEL) -> int:
    """How many leaves the stored subtrees of the smallest level cover, from the start."""
    (top,) = conn.execute("SELECT max(idx) FROM subtrees WHERE level = ?", (min_level,)).fetchone()
    return 0 if top is None else (int(top) + 1) << min_level


def write_subtrees(
    conn: sqlite3.Connection, tree: MerkleLog, size: int, *, min_level: int = SUBTREE_MIN_LEVEL
) -> int:
    """Store every complete subtree of the first ``size`` leaves not stored yet.

    Runs inside the caller's write transaction (a checkpoint's), so the rows commit with it.
    Returns how many rows were written.
    """
    rows = subtree_rows(tree, stored_extent(conn, min_level=min_level), size, min_level=min_level)
    conn.executemany(INSERT_SUBTREE, rows)
    return len(rows)


INSERT_SUBTREE: Final = "INSERT OR IGNORE INTO subtrees (level, idx, hash) VALUES (?, ?, ?)"


def subtree_rows(
    tree: MerkleLog, start: int, size: int, *, min_level: int = SUBTREE_MIN_LEVEL
) -> list[tuple[int, int, bytes]]:
    """Rows ``(level, idx, hash)`` of the complete subtrees among the first ``size`` leaves.

    Subtrees wholly below leaf ``start`` (rows stored already) are left out.
    """
    rows = []
    level = min_level
    while size >> level:
        rows += [
            (level, index, tree.subtree(level, index))
            for index in range(start >> level, size >> level)
        ]
        level += 1
    return rows


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


class StoredTree:
    """The Merkle tree of the first ``size`` events, read from the store on demand.

    Complete subtrees of at least ``2**min_level`` leaves come from the ``subtrees`` table
    when a row is there (unchecked: check what is built from them); everything else is
    hashed from the events' ``hash`` column, one block of ``2**min_level`` events at a time.

    Args:
        conn: A connection to the store (read-only is enough).
        size: The tree size.
        min_level: The smallest level the table keeps.
    """

    def __init__(
        self, conn: sqlite3.Connection, size: int, *, min_level: int = SUBTREE_MIN_LEVEL
    ) -> None:
        self.conn, self.size, self.min_level = conn, size, min_level
        self._blocks: dict[int, list[bytes]] = {}
        self._hashes: dict[tuple[int, int], bytes] = {}

    def _block(self, block: int) -> list[bytes]:
        """Leaf hashes of the events in block ``block`` (below ``size``)."""
        leaves = self._blocks.get(block)
        if leaves is None:
            start = block << self.min_level
            end = min(start + (1 << self.min_level), self.size)
            hashes = [row[0] for row in self.conn.execute(_BLOCK_HASHES, (start, end))]
            if len(hashes) != end - start or not all(
                isinstance(digest, bytes) for digest in hashes
            ):
                raise LeavesMissingError(
                    f"events {start}..{end - 1} are not all stored with a BLOB hash"
                )
            leaves = self._blocks[block] = leaf_hashes(hashes)
        return leaves

    def _stored(self, level: int, index: int) -> bytes | None:
        row = self.conn.execute(
            "SELECT hash FROM subtrees WHERE level = ? AND idx = ?", (level, index)
        ).fetchone()
        if row is None or not isinstance(row[0], bytes) or len(row[0]) != DIGEST_SIZE:
            return None
        return row[0]

    def range_hash(self, start: int, n: int) -> bytes:
        """MTH of leaves ``[start, start + n)``, ``n >= 1``."""
        key = (start, n)
        known = self._hashes.get(key)
        if known is not None:
            return known
        width = 1 << self.min_level
        value = None
        if n >= width and n & (n - 1) == 0 and start % n == 0:
            value = self._stored(n.bit_length() - 1, start // n)
        if value is None and n <= width:
            first, last = start >> self.min_level, (start + n - 1) >> self.min_level
            leaves = [leaf for block in range(first, last + 1) for leaf in self._block(block)]
            offset = start - (first << self.min_level)
            value = merkle_root(leaves[offset : offset + n])
        if value is None:
            k = _split(n)
            value = reference_node_hash(
                self.range_hash(start, k), self.range_hash(start + k, n - k)
            )
        self._hashes[key] = value
        return value

    def root(self) -> bytes:
        """The root of the tree of ``size`` leaves (``size >= 1``)."""
        return self.range_hash(0, self.size)

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 9162 section 2.1.3.1 ``PATH(index, D[size])``, leaf-side first."""
        if not 0 <= index < self.size:
            raise AuditError(f"leaf index {index} is outside a tree of {self.size} leaves")
        path: list[bytes] = []
        start, n, m = 0, self.size, index
        while n > 1:
            k = _split(n)
            if m < k:
                path.append(self.range_hash(start + k, n - k))
                n = k
            else:
                path.append(self.range_hash(start, k))
                start, n, m = start + k, n - k, m - k
        return path[::-1]

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """RFC 9162 section 2.1.4.1 ``PROOF(old_size, D[size])``."""
        if not 0 < old_size <= self.size:
            raise AuditError(
                f"a consistency proof needs 0 < old size <= new size, got {old_size} and "
                f"{self.size}"
            )
        steps: list[bytes] = []
        start, n, m, complete = 0, self.size, old_size, True
        while m != n:
            k = _split(n)
            if m <= k:
                steps.append(self.range_hash(start + k, n - k))
                n = k
            else:
                steps.append(self.range_hash(start, k))
                start, n, m, complete = start + k, n - k, m - k, False
        if not complete:
            steps.append(self.range_hash(start, n))
        return steps[::-1]


def mismatched_subtrees(conn: sqlite3.Connection, tree: MerkleLog) -> list[tuple[object, object]]:
    """``(level, idx)`` of every stored row that is not the subtree of ``tree`` it names.

    ``tree`` is the tree rebuilt from the events' hashes (as ``audit verify`` does); a row
    for a subtree the log does not hold yet, or not stored as an INTEGER, INTEGER, 32-byte
    BLOB, is a mismatch too. An empty list for stores without the table.
    """
    if not has_subtrees(conn):
        return []
    wrong = []
    for level, index, digest in conn.execute(
        "SELECT level, idx, hash FROM subtrees ORDER BY level, idx"
    ):
        shaped = (
            type(level) is int and 0 <= level < _MAX_LEVEL and type(index) is int and index >= 0
        )
        if not (shaped and ((index + 1) << level) <= len(tree)) or (
            tree.subtree(level, index) != digest
        ):
            wrong.append((level, index))
    return wrong
