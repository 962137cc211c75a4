"""A store's Merkle tree and signed checkpoints: when to sign, signing, witnessing, rotation.

Used only on the store's writer thread (signing, rotation) and under the tree lock (proofs),
so the tree and the signer are never touched by two threads at once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sentinel.audit.checkpoints import Checkpoint, CheckpointSigner, SignedCheckpoint, VerifierKey
from sentinel.audit.merkle import MerkleLog, leaf_hashes
from sentinel.audit.store_file import write_lock_transaction
from sentinel.audit.store_keys import insert_key, retire_and_replace
from sentinel.audit.subtrees import INSERT_SUBTREE, SUBTREE_MIN_LEVEL, subtree_rows, write_subtrees
from sentinel.audit.witness import Witness
from sentinel.errors import StoreCorruptError

READ_BATCH: Final = 10_000
INSERT_CHECKPOINT: Final = (
    "INSERT OR IGNORE INTO checkpoints (size, root, note, key_id, wall_ns) VALUES (?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class PendingCheckpoint:
    """A checkpoint signed but not stored yet: it rides on the next group's transaction.

    Signing needs no lock (the tree holds a prefix of the log this writer has committed),
    and storing it with the next group's events saves a transaction and its fsync (with
    5,000-event groups and a checkpoint every 10,000 events, one commit in three). It is
    witnessed only after that commit, as any checkpoint.
    """

    signed: SignedCheckpoint
    row: tuple[int, bytes, str, str, int]
    """``(size, root, note, key_id, wall_ns)``, the ``checkpoints`` columns."""
    subtrees: list[tuple[int, int, bytes]]
    """The complete subtrees it completes, ``(level, idx, hash)``."""


class Checkpointer:
    """The tree over a store's event hashes and the signer of its checkpoints.

    Args:
        path: The store (for messages).
        origin: The log's origin, ``sentinel/<log id>``.
        signer: The current signing key.
        key_path: Where the signing key is kept (rotation replaces the file).
        every: Sign after this many new events...
        interval_s: ...or after this long with unsigned events.
        last_size: The size of the newest stored checkpoint.
        witness: Where every signed checkpoint is also recorded, if anywhere.
    """

    def __init__(
        self,
        path: Path,
        origin: str,
        signer: CheckpointSigner,
        key_path: Path,
        *,
        every: int,
        interval_s: float,
        last_size: int,
        witness: Witness | None,
    ) -> None:
        self.path, self.origin, self.key_path = path, origin, key_path
        self.signer = signer
        self.cosigner: CheckpointSigner | None = None
        self.every, self.interval_s = every, interval_s
        self.last_size, self.last_time = last_size, time.monotonic()
        self.witness = witness
        self.tree = MerkleLog()
        self.subtrees_current = False
        """Whether the stored subtrees cover every signed checkpoint (checked once)."""
        self.lock = threading.RLock()
        self.pending: PendingCheckpoint | None = None
        self.gap = False
        """Whether :meth:`extend` met another writer's events that only :meth:`sync` reads."""

    def sync(self, conn: sqlite3.Connection) -> int:
        """Bring the in-memory tree up to the log's tail; returns the tree size.

        Raises:
            StoreCorruptError: Positions are not dense.
        """
        with self.lock:
            start = len(self.tree)
            cursor = conn.execute(
                "SELECT position, hash FROM events WHERE position >= ? ORDER BY position",
                (start,),
            )
            while rows := cursor.fetchmany(READ_BATCH):
                if rows[0][0] != len(self.tree):
                    raise StoreCorruptError(
                        f"{self.path}: positions are not dense near {len(self.tree)}; "
                        "run audit verify"
                    )
                self.tree.append(leaf_hashes([row[1] for row in rows]))
            self.gap = False
            return len(self.tree)

    def extend(self, hashes: Sequence[tuple[int, bytes]]) -> None:
        """Add the hashes of events this store just committed, as ``(position, hash)``.

        Only events that continue the tree exactly are taken (the rest, such as events
        another process appended first, are read by :meth:`sync`): the writer thread hands
        over what it committed instead of reading it back (that read cost a quarter of a
        batched append).
        """
        with self.lock:
            fresh: list[bytes] = []
            for position, digest in hashes:
                due = len(self.tree) + len(fresh)
                if position > due:  # a gap: another writer's events; sync reads them all
                    self.gap = True
                    break
                if position == due:  # lower ones: known already (idempotent answers, repeats)
                    fresh.append(digest)
            if fresh:
                self.tree.append(leaf_hashes(fresh))

    def after_group(self, conn: sqlite3.Connection) -> None:
        """After a group commits: sign what is due, to be stored with the next group.

        Only when the tree holds everything this writer committed and enough events are
        pending; otherwise (another writer's events, a due interval, subtrees to catch up)
        :meth:`sign_if_due` reads the store under the write lock as before.
        """
        if self.pending is not None:  # the group that should have carried it failed
            self.flush_pending(conn)
        with self.lock:
            size = len(self.tree)
            ready = self.subtrees_current and not self.gap and size - self.last_size >= self.every
            if ready:
                root = self.tree.root(size)
                start = (self.last_size >> SUBTREE_MIN_LEVEL) << SUBTREE_MIN_LEVEL
                subtrees = subtree_rows(self.tree, start, size)
        if not ready:
            self.sign_if_due(conn)
            return
        signed = self._sign(Checkpoint(self.origin, size, root))
        row = (size, root, signed.to_note(), f"{self.signer.verifier.key_id:08x}", time.time_ns())
        self.pending = PendingCheckpoint(signed, row, subtrees)

    def store_pending(self, conn: sqlite3.Connection) -> None:
        """Insert the pending checkpoint's rows; the caller's transaction commits them."""
        if self.pending is not None:
            conn.executemany(INSERT_SUBTREE, self.pending.subtrees)
            conn.execute(INSERT_CHECKPOINT, self.pending.row)

    def pending_committed(self) -> None:
        """The transaction holding the pending checkpoint committed: witness it."""
        pending, self.pending = self.pending, None
        if pending is not None:
            self._stored(pending.signed)

    def flush_pending(self, conn: sqlite3.Connection) -> None:
        """Store the pending checkpoint in a transaction of its own (no group came)."""
        if self.pending is not None:
            with write_lock_transaction(conn):
                self.store_pending(conn)
            self.pending_committed()

    def _sign(self, head: Checkpoint) -> SignedCheckpoint:
        signed = self.signer.sign(head)
        if self.cosigner is not None:  # the first checkpoint after a key rotation
            signed = SignedCheckpoint(head, self.cosigner.sign(head).signatures + signed.signatures)
        return signed

    def _stored(self, signed: SignedCheckpoint) -> None:
        self.last_size, self.last_time = signed.checkpoint.size, time.monotonic()
        self.cosigner = None
        if self.witness is not None:  # after the commit: verifiers read the witness first
            self.witness.record(signed)

    def sign_if_due(
        self, conn: sqlite3.Connection, *, force: bool = False
    ) -> SignedCheckpoint | None:
        """Sign, store and witness a checkpoint when one is due (or forced and anything new)."""
        self.flush_pending(conn)
        if not force and self.subtrees_current and not self._maybe_due():
            return None  # no write lock taken: most groups end here
        with write_lock_transaction(conn):
            size = self.sync(conn)
            if not self.subtrees_current:  # a store written before the table: catch up once
                with self.lock:
                    write_subtrees(conn, self.tree, min(self.last_size, size))
                self.subtrees_current = True
            pending = size - self.last_size
            due = pending >= self.every or (
                pending > 0 and time.monotonic() - self.last_time >= self.interval_s
            )
            if not (due or (force and pending > 0)):
                return None
            with self.lock:
                root = self.tree.root(size)
                # Derived rows ride on the checkpoint's commit: no fsync of their own.
                write_subtrees(conn, self.tree, size)
            signed = self._sign(Checkpoint(self.origin, size, root))
            conn.execute(
                INSERT_CHECKPOINT,
                (
                    size,
                    signed.checkpoint.root,
                    signed.to_note(),
                    f"{self.signer.verifier.key_id:08x}",
                    time.time_ns(),
                ),
            )
        self._stored(signed)
        return signed

    def _maybe_due(self) -> bool:
        """False when no checkpoint can be due yet, judged without reading the store.

        The tree holds at most the stored events (other processes' events join it at the
        next sync), so it never overstates what is pending; the interval bounds how late
        their events are signed.
        """
        with self.lock:
            pending = len(self.tree) - self.last_size
        return pending >= self.every or time.monotonic() - self.last_time >= self.interval_s

    def rotate(self, conn: sqlite3.Connection) -> VerifierKey:
        """Replace the signing key; the next checkpoint is signed by the old and the new key."""
        self.flush_pending(conn)  # signed by the old key alone, as it was signed
        old = self.signer
        new = retire_and_replace(self.key_path, old, self.origin)
        with write_lock_transaction(conn):
            size = self.sync(conn)
            insert_key(conn, new.verifier, first_size=size)
        self.signer, self.cosigner = new, old
        return new.verifier

    def inclusion_proof(
        self, conn: sqlite3.Connection, position: int, size: int
    ) -> tuple[bytes, list[bytes]]:
        """``(root, audit path)`` of the event at ``position`` in the tree of ``size`` events."""
        with self.lock:
            self.sync(conn)
            return self.tree.root(size), self.tree.inclusion_proof(position, size)

    def consistency_proof(
        self, conn: sqlite3.Connection, old_size: int, new_size: int
    ) -> list[bytes]:
        """Proof that the first ``old_size`` events are a prefix of the first ``new_size``."""
        with self.lock:
            self.sync(conn)
            return self.tree.consistency_proof(old_size, new_size)
