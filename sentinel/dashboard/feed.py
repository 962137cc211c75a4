"""Events of an audit store, read incrementally for the dashboard (finished or running run).

The feed reads the evidence columns as stored: the canonical bytes (as UTF-8 text) and the
stored ``hash`` and ``prev_hash``, so the browser can recompute each chain link itself
(docs/audit-format.md section 3) instead of trusting the server's word. It opens the store
read-only (``mode=ro``) and never writes; a store that does not exist yet (a run that is
starting) reads as empty until it appears.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any, Final, Protocol

from sentinel.errors import StoreCorruptError

BATCH_LIMIT: Final = 2000
"""Events per read: ~2 MB of JSON at most for a burst, small enough for one SSE message."""
BUSY_TIMEOUT_S: Final = 5.0
"""How long a read waits for the writer's lock (WAL readers rarely wait at all)."""


class EventSource(Protocol):
    """What the dashboard reads events from: a store (:class:`EventFeed`) or the bus."""

    def head(self) -> int:
        """The highest position available (-1 when none)."""
        ...

    def read(self, after: int, limit: int = BATCH_LIMIT) -> list[dict[str, Any]]:
        """Events above ``after`` in position order, as :meth:`EventFeed.read` gives them."""
        ...

    def close(self) -> None:
        """Release what the source holds."""
        ...


class EventFeed:
    """Reads events after a position from one store; safe to share between threads.

    Args:
        path: The audit store (``.db``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if not self.path.is_file():
            return None
        try:
            conn = sqlite3.connect(
                f"file:{self.path}?mode=ro",
                uri=True,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_S,
            )
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.DatabaseError as exc:
            raise StoreCorruptError(f"{self.path}: not a readable audit store: {exc}") from None
        if "events" not in tables:
            conn.close()
            return None  # the writer has created the file but not its tables yet
        self._conn = conn
        return conn

    def head(self) -> int:
        """The highest position stored (-1 when there is no event or no store yet)."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return -1
            row = conn.execute("SELECT max(position) FROM events").fetchone()
            return -1 if row is None or row[0] is None else int(row[0])

    def read(self, after: int, limit: int = BATCH_LIMIT) -> list[dict[str, Any]]:
        """Up to ``limit`` events with a position above ``after``, in position order.

        Each event is ``{"position", "type", "stream", "canonical", "hash", "prev_hash"}``:
        ``canonical`` the stored bytes decoded as UTF-8 (undecodable bytes are replaced, and
        the browser's hash check then fails, as it should), the two hashes as lower-case hex
        of the stored columns.
        """
        with self._lock:
            conn = self._connection()
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT position, type, stream, canonical, hash, prev_hash FROM events"
                " WHERE position > ? ORDER BY position LIMIT ?",
                (after, limit),
            ).fetchall()
        return [
            {
                "position": int(position),
                "type": str(kind),
                "stream": str(stream),
                "canonical": _text(canonical),
                "hash": _hex(digest),
                "prev_hash": _hex(prev),
            }
            for position, kind, stream, canonical, digest, prev in rows
        ]

    def close(self) -> None:
        """Close the connection (a later read opens a new one)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _hex(value: object) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)  # a tampered column of another storage class shows as it is
