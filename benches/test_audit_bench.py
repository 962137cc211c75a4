"""Audit trail benchmarks: each native path against its Python reference in the same run.

Goals from the audit issues, reported (not asserted as times) in the closing notes:
durable batched append >= 150k events/s and within 1.2x of raw SQLite inserts of the same
rows at the same durability, full verify >= 1.5M events/s on two cores, inclusion proof in
a 1M-event log < 100 us. The gates below are ratios against references measured alongside.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benches.conftest import interleaved_samples
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

CHAIN_MIN_SPEEDUP = 1.5
"""Interleaved medians; measured 2.5-3.4x at load 4-8 (hashlib is C too; the gain is one
call per batch)."""
PROOF_MIN_SPEEDUP = 1_000.0
"""The reference recomputes subtrees, O(n) against O(log^2 n); measured 0.7-1.8 million
times faster at load 4-8."""
APPEND_MAX_RATIO_OF_RAW_SQLITE = 2.0
"""A full durable append (checks, canonical bytes, chain, ids, returned events, checkpoints)
against bare INSERTs of the same rows, interleaved batch by batch; measured 1.16-1.37x
(ratio of medians) at load 2-5, one run 1.61x and one 1.03x while the audit tests ran
beside it. The goal is 1.2x; the gate leaves room for the noise of a loaded 2-core machine."""
GATE_ROUNDS = 30
VERIFY_GATE_ROUNDS = 9
VERIFY_MAX_RATIO_OF_SELECT = 2.5
"""Full verify (every hash, every document rule, the tree, the checkpoints) against Python
merely reading the same rows, interleaved medians; measured 1.13-1.31x at load 3-4 (verify
376k-425k events/s, the bare SELECT 423k-557k rows/s) and 1.41-1.92x at load 5-6 (verify
125k-202k events/s). The margin is for the noise of a loaded 2-core machine; a verify that
fell back to the Python walk would be ~10x."""
VERIFIED_COLUMNS = (
    "SELECT position, prev_hash, hash, canonical, event_id, stream, stream_rev, type, lamport, "
    "correlation_id, idempotency_key FROM events ORDER BY position"
)
PROOF_GATE_ROUNDS = 3
PROOFS_PER_CALL = 1_000
"""One timed native call asks this many proofs: a single one is a few microseconds, too
short for the clock and the scheduler to time fairly."""


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
    """Both sides again, interleaved call by call (see ``interleaved_samples``)."""
    records = [os.urandom(RECORD_BYTES) for _ in range(CHAIN_RECORDS)]
    samples = interleaved_samples(
        {
            "native": lambda: chain_extend(GENESIS, records),
            "reference": lambda: reference_chain_extend(GENESIS, records),
        },
        rounds=GATE_ROUNDS,
        warmup=2,
    )
    native, reference = (statistics.median(samples[name]) for name in ("native", "reference"))
    print(f"\nchain-extend, interleaved medians: {reference / native:.2f}x the reference")
    assert reference / native >= CHAIN_MIN_SPEEDUP


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


class RawInserts:
    """The floor: the store's own rows INSERTed into the same schema, no hashing or checks.

    The same durability and file as the store's: WAL, ``synchronous=FULL``, the store's
    page size, its indexes and triggers; the same bytes per row (canonical documents and
    UUIDv7 ids as the store wrote them). Each batch gets fresh positions, ids and stream
    revisions, built before the clock starts (:meth:`prepare`).
    """

    def __init__(self, path: Path, stored_rows: list[tuple[Any, ...]]) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.executescript(SCHEMA + TRIGGERS)
        self.stored_rows = stored_rows
        self.per_stream = Counter(row[2] for row in stored_rows)
        self.batches: list[list[tuple[Any, ...]]] = []
        self.made = 0

    def prepare(self, count: int) -> None:
        """Build the rows of the next ``count`` batches."""
        for _ in range(count):
            k = self.made
            self.made += 1
            self.batches.append(
                [
                    (k * APPEND_BATCH + pos, uuid7(), stream, k * self.per_stream[stream] + rev,
                     *rest)
                    for pos, _, stream, rev, *rest in self.stored_rows
                ]
            )  # fmt: skip

    def insert_next(self) -> None:
        """One durable transaction of the next prepared batch."""
        rows = self.batches.pop(0)
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.conn.execute("COMMIT")


def test_append_raw_sqlite_reference(
    benchmark: Any, tmp_path: Path, stored_rows: list[tuple[Any, ...]]
) -> None:
    raw = RawInserts(tmp_path / "raw.db", stored_rows)

    def one_batch() -> tuple[tuple[()], dict[str, Any]]:
        raw.prepare(1)
        return (), {}

    benchmark.group = "append"
    benchmark.pedantic(raw.insert_next, setup=one_batch, rounds=APPEND_ROUNDS)
    raw.conn.close()


def test_append_gate_and_rate(tmp_path: Path, stored_rows: list[tuple[Any, ...]]) -> None:
    """The store and the raw inserts take turns batch by batch, so load hits both alike."""
    raw = RawInserts(tmp_path / "raw.db", stored_rows)
    raw.prepare(GATE_ROUNDS + 2)
    batch = _events(APPEND_BATCH)
    with AuditStore(
        tmp_path / "store.db", checkpoint_every=10_000, witness=tmp_path / "w"
    ) as store:
        samples = interleaved_samples(
            {"native": lambda: store.append_batch(batch), "raw": raw.insert_next},
            rounds=GATE_ROUNDS,
            warmup=2,
        )
    raw.conn.close()
    native, bare = (statistics.median(samples[name]) for name in ("native", "raw"))
    paired = statistics.median(
        n / r for n, r in zip(samples["native"], samples["raw"], strict=True)
    )
    size = sum(len(row[-1]) for row in stored_rows) / len(stored_rows)
    print(
        f"\ndurable batched append, interleaved: {APPEND_BATCH / native:,.0f} events/s of "
        f"{size:.0f} canonical bytes, raw inserts {APPEND_BATCH / bare:,.0f}/s; native/raw "
        f"{native / bare:.2f}x (medians), {paired:.2f}x (median of paired rounds)"
    )
    assert native / bare <= APPEND_MAX_RATIO_OF_RAW_SQLITE


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
    if benchmark.stats is not None:  # None under --benchmark-disable: one plain call
        rate = VERIFY_EVENTS / benchmark.stats.stats.median
        print(f"\nfull verify: {rate:,.0f} events/s")


def _select_rows(path: Path) -> int:
    """The reference of the verify gate: a bare read of the columns verify checks."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        count = 0
        for _ in conn.execute(VERIFIED_COLUMNS):
            count += 1
        return count
    finally:
        conn.close()


def test_verify_gate(verified_log: Path) -> None:
    """Full verify against a bare Python ``SELECT`` of the same rows, interleaved."""
    samples = interleaved_samples(
        {
            "verify": lambda: verify_store(verified_log),
            "select": lambda: _select_rows(verified_log),
        },
        rounds=VERIFY_GATE_ROUNDS,
        warmup=1,
    )
    verify, select = (statistics.median(samples[name]) for name in ("verify", "select"))
    print(
        f"\nfull verify, interleaved: {VERIFY_EVENTS / verify:,.0f} events/s; a bare SELECT of "
        f"the same columns {VERIFY_EVENTS / select:,.0f} rows/s; verify/select {verify / select:.2f}x"
    )
    assert verify / select <= VERIFY_MAX_RATIO_OF_SELECT


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


def test_inclusion_proof_gate(million_leaf_log: tuple[MerkleLog, list[bytes]]) -> None:
    """Both sides again, interleaved; a native sample is ``PROOFS_PER_CALL`` proofs."""
    log, hashes = million_leaf_log
    index = PROOF_LOG_SIZE * 2 // 3 + 17

    def proofs() -> None:
        for _ in range(PROOFS_PER_CALL):
            log.inclusion_proof(index, PROOF_LOG_SIZE)

    samples = interleaved_samples(
        {"native": proofs, "reference": lambda: reference_inclusion_proof(hashes, index)},
        rounds=PROOF_GATE_ROUNDS,
    )
    native = statistics.median(samples["native"]) / PROOFS_PER_CALL
    reference = statistics.median(samples["reference"])
    print(
        f"\ninclusion proof in a 1M-event log: {native * 1e6:.1f} us, "
        f"{reference / native:,.0f}x the reference (interleaved)"
    )
    assert reference / native >= PROOF_MIN_SPEEDUP
