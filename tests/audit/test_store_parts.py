"""The parts of AuditStore work alone: file, reference writer, keys, checkpoints, reads."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sentinel.audit.checkpoints import CheckpointSigner
from sentinel.audit.events import NewEvent
from sentinel.audit.merkle import MerkleLog, leaf_hashes
from sentinel.audit.reference_writer import apply_request, verified_tail
from sentinel.audit.store_checkpoints import Checkpointer, PendingCheckpoint
from sentinel.audit.store_file import connect, initialize, write_lock_transaction
from sentinel.audit.store_keys import choose_key_path, load_signer
from sentinel.audit.store_reads import StoreReader
from sentinel.audit.verify import verify_store
from sentinel.audit.witness import Witness
from sentinel.errors import StoreCorruptError, WrongExpectedRevisionError


def _pending(checkpoints: Checkpointer) -> PendingCheckpoint | None:
    """The pending checkpoint, read afresh (the calls in between change it)."""
    return checkpoints.pending


def test_parts_build_a_store_that_verifies(tmp_path: Path) -> None:
    path = tmp_path / "parts.db"
    conn = connect(path)
    origin = initialize(conn, path, create=True)
    key_path = choose_key_path(path, origin, None)
    signer = load_signer(conn, conn, path, origin, key_path)
    with write_lock_transaction(conn):
        tail = verified_tail(conn, path)
        events, tail = apply_request(
            conn, [NewEvent("agent/A", "test.step", {"i": i}) for i in range(5)], {}, tail, {},
            clock=0, node="parts",
        )  # fmt: skip
    assert [e.position for e in events] == list(range(5)) and tail.size == 5
    with write_lock_transaction(conn), pytest.raises(WrongExpectedRevisionError):
        apply_request(conn, [NewEvent("agent/A", "test.step")], {"agent/A": 0}, tail, {},
                      clock=0, node="parts")  # fmt: skip
    checkpoints = Checkpointer(
        path, origin, signer, key_path, every=1000, interval_s=3600, last_size=0, witness=None
    )
    signed = checkpoints.sign_if_due(conn, force=True)
    assert signed is not None and signed.checkpoint.size == 5
    assert checkpoints.sign_if_due(conn) is None  # nothing new
    reads = StoreReader(path, connect(path))
    assert reads.size() == 5 and reads.at(3) == events[3]
    assert reads.latest_checkpoint() == signed
    assert [str(k) for k in reads.verifier_keys()] == [str(signer.verifier)]
    reads.close()
    conn.close()
    assert verify_store(path, witness=False).ok


def test_initialize_never_creates_when_told_not_to(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    with pytest.raises(StoreCorruptError, match="only writers"):
        initialize(connect(path), path, create=False)


def test_rotation_signs_the_next_checkpoint_with_both_keys(tmp_path: Path) -> None:
    path = tmp_path / "rotate.db"
    conn = connect(path)
    origin = initialize(conn, path, create=True)
    key_path = tmp_path / "keys" / "k"
    key_path.parent.mkdir()
    old = load_signer(conn, conn, path, origin, key_path)
    assert isinstance(old, CheckpointSigner)
    with write_lock_transaction(conn):
        apply_request(conn, [NewEvent("agent/A", "test.step")], {}, verified_tail(conn, path),
                      {}, clock=0, node="n")  # fmt: skip
    checkpoints = Checkpointer(
        path, origin, old, key_path, every=1000, interval_s=3600, last_size=0, witness=None
    )
    new = checkpoints.rotate(conn)
    signed = checkpoints.sign_if_due(conn, force=True)
    assert signed is not None
    assert old.verifier.verifies(signed) and new.verifies(signed)
    assert list(key_path.parent.glob("k.retired-*"))
    conn.close()


def _parts_store(path: Path) -> tuple[sqlite3.Connection, Checkpointer]:
    conn = connect(path)
    origin = initialize(conn, path, create=True)
    key_path = choose_key_path(path, origin, None)
    signer = load_signer(conn, conn, path, origin, key_path)
    checkpoints = Checkpointer(
        path, origin, signer, key_path, every=4, interval_s=3600, last_size=0, witness=None
    )
    return conn, checkpoints


def _append(conn: sqlite3.Connection, path: Path, count: int) -> list[tuple[int, bytes]]:
    with write_lock_transaction(conn):
        events, _ = apply_request(
            conn, [NewEvent("agent/A", "test.step", {"i": i}) for i in range(count)], {},
            verified_tail(conn, path), {}, clock=0, node="parts",
        )  # fmt: skip
    return [(event.position, event.hash) for event in events]


def test_the_tree_takes_committed_hashes_only_where_they_continue_it(tmp_path: Path) -> None:
    path = tmp_path / "extend.db"
    conn, checkpoints = _parts_store(path)
    first = _append(conn, path, 3)
    checkpoints.extend(first + first[:1])  # a repeated answer adds nothing
    assert len(checkpoints.tree) == 3
    checkpoints.extend(first)  # known already
    assert len(checkpoints.tree) == 3
    skipped = _append(conn, path, 2)  # as if another process wrote these
    later = _append(conn, path, 2)
    checkpoints.extend(later)  # a gap: left to sync, which reads from the store
    assert len(checkpoints.tree) == 3
    assert checkpoints.sync(conn) == 7
    reference = MerkleLog()
    reference.append(leaf_hashes([digest for _, digest in first + skipped + later]))
    assert checkpoints.tree.root(7) == reference.root(7)
    conn.close()


def test_a_group_that_makes_no_checkpoint_due_takes_no_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "due.db"
    conn, checkpoints = _parts_store(path)
    checkpoints.sign_if_due(conn, force=True)  # the first call catches subtrees up
    checkpoints.extend(_append(conn, path, 3))
    other = connect(path)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    conn.execute("PRAGMA busy_timeout = 50")  # taking it would fail, not wait
    try:
        assert checkpoints.sign_if_due(conn) is None  # 3 < every: returns at once
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            checkpoints.sign_if_due(conn, force=True)  # control: forcing takes the lock
    finally:
        other.execute("ROLLBACK")
        other.close()
    checkpoints.extend(_append(conn, path, 1))
    signed = checkpoints.sign_if_due(conn)
    assert signed is not None and signed.checkpoint.size == 4
    conn.close()
    assert verify_store(path, witness=False).ok


def _checkpoint_sizes(path: Path) -> list[int]:
    reader = sqlite3.connect(path)
    try:
        return [row[0] for row in reader.execute("SELECT size FROM checkpoints ORDER BY size")]
    finally:
        reader.close()


def test_a_due_checkpoint_rides_on_the_next_groups_transaction(tmp_path: Path) -> None:
    """Signed after a group without the write lock, stored by the next group's commit, and
    witnessed only once that commit is durable; stored alone if that group fails."""
    path = tmp_path / "ride.db"
    conn, checkpoints = _parts_store(path)
    checkpoints.witness = Witness(tmp_path / "witness", checkpoints.origin)
    checkpoints.sign_if_due(conn, force=True)  # the first call catches subtrees up
    checkpoints.extend(_append(conn, path, 4))  # every=4: one is due
    other = connect(path)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    conn.execute("PRAGMA busy_timeout = 50")  # taking it would fail, not wait
    try:
        checkpoints.after_group(conn)  # signs without the lock
    finally:
        other.execute("ROLLBACK")
        other.close()
    pending = _pending(checkpoints)
    assert pending is not None and pending.signed.checkpoint.size == 4
    assert _checkpoint_sizes(path) == [] and checkpoints.witness.latest() is None
    with write_lock_transaction(conn):  # the next group
        events, _ = apply_request(conn, [NewEvent("agent/A", "test.step")], {},
                                  verified_tail(conn, path), {}, clock=0, node="parts")  # fmt: skip
        checkpoints.store_pending(conn)
        assert checkpoints.witness.latest() is None  # not before the commit
    checkpoints.pending_committed()
    checkpoints.extend([(event.position, event.hash) for event in events])
    assert _checkpoint_sizes(path) == [4] and _pending(checkpoints) is None
    latest = checkpoints.witness.latest()
    assert latest is not None and latest.checkpoint.size == 4
    checkpoints.extend(_append(conn, path, 3))  # 5 + 3 = 8: due again
    checkpoints.after_group(conn)
    assert _pending(checkpoints) is not None
    checkpoints.after_group(conn)  # as if the group meant to carry it had failed
    assert _pending(checkpoints) is None and _checkpoint_sizes(path) == [4, 8]
    conn.close()
    assert verify_store(path, witness=tmp_path / "witness").ok


def test_a_gap_in_the_tree_leaves_signing_to_the_locked_path(tmp_path: Path) -> None:
    """Another writer's events break the tree's run: nothing is signed without a sync."""
    path = tmp_path / "gap.db"
    conn, checkpoints = _parts_store(path)
    checkpoints.sign_if_due(conn, force=True)
    checkpoints.extend(_append(conn, path, 2))
    _append(conn, path, 2)  # as if another process wrote these
    checkpoints.extend(_append(conn, path, 2))
    gap = checkpoints.gap  # (a local: mypy would keep the attribute narrowed to True)
    assert gap
    checkpoints.after_group(conn)  # 2 in the tree < every: nothing due, no pending
    assert _pending(checkpoints) is None and _checkpoint_sizes(path) == []
    signed = checkpoints.sign_if_due(conn, force=True)  # syncs: all 6
    assert signed is not None and signed.checkpoint.size == 6 and not checkpoints.gap
    conn.close()
    assert verify_store(path, witness=False).ok
