"""What each index and trigger of the ``events`` table costs a durable batched append.

A measurement, not a gate: the store's own rows (same bytes) are INSERTed, 5,000 per
durable transaction (WAL, ``synchronous=FULL``, the store's page size), into the current
schema, into the schema with one index or the triggers left out, and into a table with no
secondary index. The variants take turns batch by batch, so load on a shared machine hits
them alike; the printed medians are relative to the bare table (docs/architecture.md,
"Speed and what each index costs").
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benches.test_audit_bench import APPEND_BATCH, _events
from sentinel.audit import AuditStore
from sentinel.audit.schema import SCHEMA, TRIGGERS
from sentinel.audit.store_file import PAGE_SIZE
from sentinel.audit.uuid7 import uuid7

ROUNDS = 12
UNIQUE_EVENT_ID = ("event_id        TEXT    NOT NULL UNIQUE,", "event_id        TEXT    NOT NULL,")
UNIQUE_REVISION = (",\n    UNIQUE (stream, stream_rev)\n", "\n")
BY_TYPE = "events_by_type"
PARTIAL = ("events_by_idempotency_key", "events_by_correlation")


def _without(text: str, old: str, new: str) -> str:
    assert old in text, f"the schema changed: {old!r} not found; update this measurement"
    return text.replace(old, new)


def _variants() -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (DDL, indexes to drop after creating it)."""
    full = SCHEMA + TRIGGERS
    bare = _without(_without(SCHEMA, *UNIQUE_EVENT_ID), *UNIQUE_REVISION)
    return {
        "no secondary index": (bare, (BY_TYPE, *PARTIAL)),
        "current schema": (full, ()),
        "- UNIQUE event_id": (_without(full, *UNIQUE_EVENT_ID), ()),
        "- UNIQUE (stream, stream_rev)": (_without(full, *UNIQUE_REVISION), ()),
        "- events_by_type": (full, (BY_TYPE,)),
        "- partial indexes": (full, PARTIAL),
        "- triggers": (SCHEMA, ()),
    }


def _open(path: Path, ddl: str, drop: tuple[str, ...]) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.executescript(ddl)
    for index in drop:
        conn.execute(f"DROP INDEX {index}")
    return conn


def test_index_and_trigger_costs(tmp_path: Path) -> None:
    with AuditStore(tmp_path / "rows.db", witness=False) as store:
        store.append_batch(_events(APPEND_BATCH))
    source = sqlite3.connect(tmp_path / "rows.db")
    stored: list[tuple[Any, ...]] = source.execute(
        "SELECT * FROM events ORDER BY position"
    ).fetchall()
    source.close()
    per_stream = Counter(row[2] for row in stored)
    variants = _variants()
    conns = {
        name: _open(tmp_path / f"v{i}.db", ddl, drop)
        for i, (name, (ddl, drop)) in enumerate(variants.items())
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for k in range(ROUNDS):
        rows = [
            (k * APPEND_BATCH + position, uuid7(), stream, k * per_stream[stream] + rev, *rest)
            for position, _, stream, rev, *rest in stored
        ]
        for name, conn in conns.items():
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
            times[name].append(time.perf_counter() - start)
    for conn in conns.values():
        conn.close()
    bare = statistics.median(times["no secondary index"][1:])
    print()
    for name, samples in times.items():
        median = statistics.median(samples[1:])
        print(f"{name:32s} {median * 1e3:7.1f} ms/batch  {median / bare:5.2f}x no index")
    assert all(len(samples) == ROUNDS for samples in times.values())
