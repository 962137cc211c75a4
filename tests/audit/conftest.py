"""Fixtures for audit tests: fresh stores in temporary directories, and an attacker."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.audit import AuditStore, NewEvent
from sentinel.audit.schema import APPEND_ONLY_TABLES, DERIVED_TABLES, TRIGGERS


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"


@pytest.fixture
def store(store_path: Path) -> Iterator[AuditStore]:
    opened = AuditStore(
        store_path, node="test-node", checkpoint_every=10, checkpoint_interval_ms=60_000
    )
    yield opened
    opened.close()


def fill(store: AuditStore, count: int, *, stream_count: int = 3) -> None:
    """Append ``count`` events over a few streams, in one batch."""
    store.append_batch(
        [
            NewEvent(
                f"agent/A-{i % stream_count}", "test.step", {"i": i, "note": f"step {i}"}, tick=i
            )
            for i in range(count)
        ]
    )


class Attacker:
    """Someone with write access to the database file.

    Each statement runs with the append-only triggers dropped, and the triggers are put
    back after it, as a careful forger would (verify reports missing triggers).
    """

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)

    def sql(self, statement: str, *params: object) -> None:
        for table in (*APPEND_ONLY_TABLES, *DERIVED_TABLES):
            self.conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            self.conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        self.conn.execute(statement, params)
        self.conn.executescript(TRIGGERS)

    def close(self) -> None:
        self.conn.close()
