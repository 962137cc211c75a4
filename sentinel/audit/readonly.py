"""Opening a store read-only: what verifiers, provers and auditors use (never a writer)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sentinel.errors import StoreCorruptError


def open_read_only(path: Path) -> tuple[sqlite3.Connection, str]:
    """``(connection, origin)`` of an existing store; the file is never created or changed.

    Raises:
        StoreCorruptError: No file, not SQLite, or not a Sentinel audit store.
    """
    if not path.is_file():
        raise StoreCorruptError(f"{path}: no such audit store")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        raise StoreCorruptError(f"{path}: not a readable audit store: {exc}") from None
    try:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if not {"meta", "events", "checkpoints", "keys"} <= tables:
            raise StoreCorruptError(f"{path}: not a Sentinel audit store")  # noqa: TRY301 - closed below
        origin = conn.execute("SELECT value FROM meta WHERE key = 'origin'").fetchone()
        if origin is None:
            raise StoreCorruptError(f"{path}: the store has no origin in its meta table")  # noqa: TRY301
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreCorruptError(f"{path}: not a readable audit store: {exc}") from None
    except StoreCorruptError:
        conn.close()
        raise
    return conn, str(origin[0])
