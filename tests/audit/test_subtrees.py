"""Stored subtrees: proofs assembled from them equal the in-memory tree's, and a wrong or
missing row never yields a wrong proof (prove checks and falls back; verify reports it)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.audit import AuditStore
from sentinel.audit.merkle import (
    MerkleLog,
    leaf_hashes,
    reference_consistency_proof,
    reference_inclusion_proof,
    reference_root,
    reference_subtree,
)
from sentinel.audit.proofs import prove, prove_in_file
from sentinel.audit.schema import SCHEMA
from sentinel.audit.subtrees import (
    SUBTREE_MIN_LEVEL,
    StoredTree,
    mismatched_subtrees,
    write_subtrees,
)
from sentinel.audit.verify import verify_store
from sentinel.errors import AuditError, InvalidInputError
from tests.audit.conftest import Attacker, fill


def _bare_store(hashes: list[bytes]) -> sqlite3.Connection:
    """The two tables a StoredTree reads, in memory."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    conn.executemany(
        "INSERT INTO events (position, event_id, stream, stream_rev, type, lamport, prev_hash,"
        " hash, canonical) VALUES (?, ?, 's', ?, 't', ?, x'', ?, x'')",
        [(i, f"id-{i}", i, i, digest) for i, digest in enumerate(hashes)],
    )
    return conn


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 300),
    level=st.integers(1, 4),
    checkpoints=st.lists(st.integers(1, 300), max_size=4),
    dropped=st.lists(st.integers(0, 40), max_size=6),
    data=st.data(),
)
def test_stored_tree_proofs_equal_the_in_memory_tree(
    size: int, level: int, checkpoints: list[int], dropped: list[int], data: st.DataObject
) -> None:
    hashes = [i.to_bytes(32, "little") for i in range(size)]
    leaves = leaf_hashes(hashes)
    tree = MerkleLog()
    tree.append(leaves)
    conn = _bare_store(hashes)
    for written in sorted(min(c, size) for c in checkpoints):  # as checkpoints grow the log
        write_subtrees(conn, tree, written, min_level=level)
    for row in dropped:  # rows lost (or never written): the leaves stand in
        conn.execute(
            "DELETE FROM subtrees WHERE (level, idx) IN "
            "(SELECT level, idx FROM subtrees LIMIT 1 OFFSET ?)",
            (row,),
        )
    stored = StoredTree(conn, size, min_level=level)
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    assert stored.root() == tree.root(size) == reference_root(leaves)
    assert stored.inclusion_proof(index) == tree.inclusion_proof(index, size)
    assert stored.inclusion_proof(index) == reference_inclusion_proof(leaves, index)
    assert stored.consistency_proof(old) == tree.consistency_proof(old, size)
    assert stored.consistency_proof(old) == reference_consistency_proof(leaves, old)
    assert mismatched_subtrees(conn, tree) == []


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 200), level=st.integers(0, 8), index=st.integers(0, 200))
def test_native_subtree_equals_the_reference(size: int, level: int, index: int) -> None:
    leaves = leaf_hashes([i.to_bytes(4, "little") for i in range(size)])
    tree = MerkleLog()
    tree.append(leaves)
    if (index + 1) << level <= size:
        assert tree.subtree(level, index) == reference_subtree(leaves, level, index)
    else:
        with pytest.raises(InvalidInputError):
            tree.subtree(level, index)
        with pytest.raises(InvalidInputError):
            reference_subtree(leaves, level, index)


EVENTS = 700  # subtrees of 256 and 512 events: two levels, and a partial block at the end


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "sealed.db"
    with AuditStore(path, checkpoint_every=100_000) as store:
        fill(store, EVENTS)
        ids = [store.at(p).event_id for p in (0, 255, 256, 511, 600, EVENTS - 1)]  # type: ignore[union-attr]
    return path, ids


def _rows(path: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT level, idx FROM subtrees ORDER BY level, idx").fetchall()


def _in_memory_proofs(path: Path, ids: list[str]) -> list[dict[str, object]]:
    with AuditStore(path, create=False) as store:
        return [json.loads(prove(store, event_id).to_json()) for event_id in ids]


def test_a_checkpoint_stores_the_subtrees_it_completes(sealed: tuple[Path, list[str]]) -> None:
    path, _ = sealed
    assert _rows(path) == [
        (SUBTREE_MIN_LEVEL, 0),
        (SUBTREE_MIN_LEVEL, 1),
        (SUBTREE_MIN_LEVEL + 1, 0),
    ]


def test_proofs_from_subtrees_are_byte_identical(sealed: tuple[Path, list[str]]) -> None:
    path, ids = sealed
    from_file = [json.loads(prove_in_file(path, event_id).to_json()) for event_id in ids]
    assert from_file == _in_memory_proofs(path, ids)


def test_a_wrong_subtree_row_never_reaches_a_proof(sealed: tuple[Path, list[str]]) -> None:
    path, ids = sealed
    expected = _in_memory_proofs(path, ids)
    attacker = Attacker(path)
    attacker.sql(
        "UPDATE subtrees SET hash = zeroblob(32) WHERE level = ? AND idx = 0", SUBTREE_MIN_LEVEL
    )
    attacker.close()
    assert [json.loads(prove_in_file(path, i).to_json()) for i in ids] == expected
    report = verify_store(path)
    assert [(p.kind, p.position) for p in report.problems] == [("subtree_mismatch", 0)]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO subtrees VALUES (8, 99, zeroblob(32))",  # a subtree the log does not hold
        "INSERT INTO subtrees VALUES ('8', 5, zeroblob(32))",  # not stored as the format says
        "UPDATE subtrees SET hash = 'text' WHERE level = 9",
    ],
)
def test_verify_reports_every_kind_of_wrong_row(
    sealed: tuple[Path, list[str]], statement: str
) -> None:
    path, _ = sealed
    attacker = Attacker(path)
    attacker.sql(statement)
    attacker.close()
    kinds = {p.kind for p in verify_store(path).problems}
    assert kinds == {"subtree_mismatch"}


def test_stores_without_the_table_prove_and_get_it_from_the_next_writer(
    sealed: tuple[Path, list[str]],
) -> None:
    path, ids = sealed
    expected = _in_memory_proofs(path, ids)
    with sqlite3.connect(path) as conn:  # as written before the table existed
        conn.executescript("DROP TABLE subtrees;")
    assert verify_store(path).ok
    assert [json.loads(prove_in_file(path, i).to_json()) for i in ids] == expected
    with AuditStore(path, create=False):
        pass
    assert len(_rows(path)) == 3
    assert verify_store(path).ok


def test_a_rewritten_history_still_fails_to_prove(sealed: tuple[Path, list[str]]) -> None:
    """The subtrees of the original history do not vouch for re-hashed events."""
    path, ids = sealed
    attacker = Attacker(path)
    attacker.sql("UPDATE events SET hash = zeroblob(32) WHERE position = 600")
    attacker.close()
    with pytest.raises(AuditError, match="no longer matches its checkpoint"):
        prove_in_file(path, ids[4])
