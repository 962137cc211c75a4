"""Audit trail benchmarks: each native path against its Python reference in the same run.

Goals from the audit issues, reported (not asserted as times) in the closing notes:
durable batched append >= 150k events/s and within 1.2x of raw SQLite inserts of the same
rows at the same durability, full verify >= 1.5M events/s on two cores, inclusion proof in
a 1M-event log < 100 us. The gates below are ratios against references measured alongside.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benches.conftest import MEDIANS, speedup
from sentinel.audit import AuditStore, NewEvent, verify_store
from sentinel.audit.chain import GENESIS, chain_extend, reference_chain_extend
from sentinel.audit.merkle import MerkleLog, leaf_hashes, reference_inclusion_proof
from sentinel.audit.schema import SCHEMA, TRIGGERS
from sentinel.audit.store_file import PAGE_SIZE
from sentinel.audit.uuid7 import uuid7

CHAIN_RECORDS = 10_000
RECORD_BYTES = 300
APPEND_BATCH = 5_000
VERIFY_EVENTS = 100_000
PROOF_LOG_SIZE = 1_000_000

CHAIN_MIN_SPEEDUP = 1.5  # measured 2-3x: hashlib is C too; the gain is one call per batch
PROOF_MIN_SPEEDUP = 1_000.0  # the reference recomputes subtrees: O(n) against O(log^2 n)
APPEND_MIN_SHARE_OF_RAW_SQLITE = 0.15  # full append (seal, index, checks) vs bare INSERTs


def _events(count: int) -> list[NewEvent]:
    return [
        NewEvent(
            f"agent/A-{i % 60}",
            "sandbox.executed_like",
            {"i": i, "argv": ["python", "-c", "print(1)"], "cpu_s": 0.0123, "exit_code": 0},
        )
        for i in range(count)
    ]


def test_chain_native(measure: Callable[..., Any]) -> None:
    records = [os.urandom(RECORD_BYTES) for _ in range(CHAIN_RECORDS)]
    result = measure("chain-extend", "native", lambda: chain_extend(GENESIS, records))
    assert result == reference_chain_extend(GENESIS, records)


def test_chain_reference(measure: Callable[..., Any]) -> None:
    records = [os.urandom(RECORD_BYTES) for _ in range(CHAIN_RECORDS)]
    measure("chain-extend", "reference", lambda: reference_chain_extend(GENESIS, records))


def test_chain_gate() -> None:
    assert speedup("chain-extend") >= CHAIN_MIN_SPEEDUP


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[AuditStore]:
    store = AuditStore(tmp_path / "bench.db", checkpoint_every=10_000, witness=tmp_path / "w")
    yield store
    store.close()


APPEND_ROUNDS = 15


def test_append_durable_batched(benchmark: Any, fresh_store: AuditStore) -> None:
    batch = _events(APPEND_BATCH)
    benchmark.group = "append"
    benchmark.pedantic(fresh_store.append_batch, args=(batch,), rounds=APPEND_ROUNDS)
    MEDIANS[("append", "native")] = benchmark.stats.stats.median


@pytest.fixture(scope="module")
def stored_rows(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    """One batch exactly as the store writes it: every column of every row, same bytes."""
    path = tmp_path_factory.mktemp("rows") / "rows.db"
    with AuditStore(path, witness=False) as store:
        store.append_batch(_events(APPEND_BATCH))
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT * FROM events ORDER BY position").fetchall()
    conn.close()
    return rows


def test_append_raw_sqlite_reference(
    benchmark: Any, tmp_path: Path, stored_rows: list[tuple[Any, ...]]
) -> None:
    """The floor: the store's own rows INSERTed into the same schema, no hashing or checks.

    The same durability and file as the store's: WAL, ``synchronous=FULL``, the store's
    page size, its indexes and triggers; the same bytes per row (canonical documents and
    UUIDv7 ids as the store wrote them). Each round gets fresh positions, ids and stream
    revisions, built before the clock starts.
    """
    conn = sqlite3.connect(tmp_path / "raw.db", isolation_level=None)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(SCHEMA + TRIGGERS)
    per_stream = Counter(row[2] for row in stored_rows)
    state = {"round": 0}

    def next_rows() -> tuple[tuple[list[tuple[Any, ...]]], dict[str, Any]]:
        k = state["round"]
        state["round"] += 1
        rows = [
            (k * APPEND_BATCH + position, uuid7(), stream, k * per_stream[stream] + rev, *rest)
            for position, _, stream, rev, *rest in stored_rows
        ]
        return (rows,), {}

    def insert(rows: list[tuple[Any, ...]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")

    benchmark.group = "append"
    benchmark.pedantic(insert, setup=next_rows, rounds=APPEND_ROUNDS)
    MEDIANS[("append", "reference")] = benchmark.stats.stats.median
    conn.close()


def test_append_gate_and_rate(stored_rows: list[tuple[Any, ...]]) -> None:
    share = MEDIANS[("append", "reference")] / MEDIANS[("append", "native")]
    rate = APPEND_BATCH / MEDIANS[("append", "native")]
    size = sum(len(row[-1]) for row in stored_rows) / len(stored_rows)
    print(
        f"\ndurable batched append: {rate:,.0f} events/s of {size:.0f} canonical bytes "
        f"({share:.0%} of bare SQLite inserts of the same rows; native/raw "
        f"{1 / share:.2f}x)"
    )
    assert share >= APPEND_MIN_SHARE_OF_RAW_SQLITE


@pytest.fixture(scope="module")
def verified_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("verify") / "log.db"
    with AuditStore(path, checkpoint_every=10_000) as store:
        for _ in range(VERIFY_EVENTS // APPEND_BATCH):
            store.append_batch(_events(APPEND_BATCH))
    return path


def test_verify_full(benchmark: Any, verified_log: Path) -> None:
    benchmark.group = "verify"
    report = benchmark.pedantic(verify_store, args=(verified_log,), rounds=3, iterations=1)
    assert report.ok
    rate = VERIFY_EVENTS / benchmark.stats.stats.median
    print(f"\nfull verify: {rate:,.0f} events/s")


@pytest.fixture(scope="module")
def million_leaf_log() -> tuple[MerkleLog, list[bytes]]:
    hashes = leaf_hashes([i.to_bytes(8, "little") for i in range(PROOF_LOG_SIZE)])
    log = MerkleLog()
    log.append(hashes)
    return log, hashes


def test_inclusion_proof_native(
    measure: Callable[..., Any], million_leaf_log: tuple[MerkleLog, list[bytes]]
) -> None:
    log, _ = million_leaf_log
    index = PROOF_LOG_SIZE * 2 // 3 + 17
    proof = measure("proof-1M", "native", lambda: log.inclusion_proof(index, PROOF_LOG_SIZE))
    assert len(proof) == 20


def test_inclusion_proof_reference(
    benchmark: Any, million_leaf_log: tuple[MerkleLog, list[bytes]]
) -> None:
    _, hashes = million_leaf_log
    benchmark.group = "proof-1M"
    benchmark.pedantic(
        reference_inclusion_proof,
        args=(hashes, PROOF_LOG_SIZE * 2 // 3 + 17),
        rounds=1,
        iterations=1,
    )
    MEDIANS[("proof-1M", "reference")] = benchmark.stats.stats.median


def test_inclusion_proof_gate() -> None:
    print(f"\ninclusion proof in a 1M-event log: {MEDIANS[('proof-1M', 'native')] * 1e6:.1f} us")
    assert speedup("proof-1M") >= PROOF_MIN_SPEEDUP
