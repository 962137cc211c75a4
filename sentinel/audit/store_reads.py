"""Reading a store: events by id, position, filter; checkpoints, keys, projection offsets.

One connection behind one lock; every read decodes the canonical bytes (the evidence),
never the index columns.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, TypeVar

from sentinel.audit.checkpoints import SignedCheckpoint, VerifierKey
from sentinel.audit.events import Event
from sentinel.audit.reference_writer import SELECT_EVENT, read_tail, stream_revision
from sentinel.audit.store_file import write_lock_transaction
from sentinel.errors import AuditError

READ_BATCH: Final = 10_000
T = TypeVar("T")


class StoreReader:
    """The read side of a store.

    Args:
        path: The store (for messages).
        conn: A connection of its own (see :func:`sentinel.audit.store_file.connect`).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.Lock()

    def using(self, run: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``run`` with the reader's connection, under its lock."""
        with self._lock:
            return run(self._conn)

    def size(self) -> int:
        """How many events the log holds."""
        return self.using(lambda conn: read_tail(conn).size)

    def head(self) -> tuple[int, bytes]:
        """``(size, hash of the last event)``."""
        tail = self.using(read_tail)
        return tail.size, tail.hash

    def lamport(self) -> int:
        """The Lamport value of the last event (0 for an empty log)."""
        return self.using(read_tail).lamport

    def _one(self, where: str, value: object) -> Event | None:
        row = self.using(lambda conn: conn.execute(SELECT_EVENT + where, (value,)).fetchone())
        return None if row is None else Event.from_canonical(row[0], row[1])

    def get(self, event_id: str) -> Event | None:
        """The event with this id, or None."""
        return self._one(" WHERE event_id = ?", event_id)

    def at(self, position: int) -> Event | None:
        """The event at a global position, or None."""
        return self._one(" WHERE position = ?", position)

    def stream_revision(self, stream: str) -> int:
        """The revision of the stream's last event; ``NO_STREAM`` (-1) if it has none."""
        return self.using(lambda conn: stream_revision(conn, stream, {}))

    def read(
        self,
        *,
        stream: str | None = None,
        type: str | None = None,  # noqa: A002 - the event field is called type
        correlation_id: str | None = None,
        start: int = 0,
        end: int | None = None,
        limit: int | None = None,
    ) -> Iterator[Event]:
        """Events in position order, filtered; ``end`` is exclusive. Reads in batches."""
        filters: list[str] = []
        params: list[object] = []
        for column, value in (
            ("stream", stream),
            ("type", type),
            ("correlation_id", correlation_id),
        ):
            if value is not None:
                filters.append(f" AND {column} = ?")
                params.append(value)
        if end is not None:
            filters.append(" AND position < ?")
            params.append(end)
        # Only fixed column names and placeholders are joined in; values go in as parameters.
        where = "".join(filters)
        sql = f"SELECT position, canonical, hash FROM events WHERE position >= ?{where}"  # noqa: S608
        sql += " ORDER BY position LIMIT ?"
        position, remaining = start, limit
        while remaining is None or remaining > 0:
            size = READ_BATCH if remaining is None else min(READ_BATCH, remaining)
            at = position
            rows = self.using(lambda conn: conn.execute(sql, (at, *params, size)).fetchall())  # noqa: B023 - used at once
            for _, canonical, digest in rows:
                yield Event.from_canonical(canonical, digest)
            if len(rows) < size:
                return
            position = rows[-1][0] + 1
            if remaining is not None:
                remaining -= len(rows)

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The newest signed checkpoint, or None for an empty log."""
        row = self.using(
            lambda conn: conn.execute(
                "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1"
            ).fetchone()
        )
        if row is None:
            return None
        return SignedCheckpoint.parse(row[0], source=f"{self.path} checkpoint")

    def last_checkpoint_size(self) -> int:
        """The size of the newest checkpoint (0 when none)."""
        row = self.using(lambda conn: conn.execute("SELECT max(size) FROM checkpoints").fetchone())
        return int(row[0] or 0)

    def checkpoints(self) -> list[SignedCheckpoint]:
        """All signed checkpoints, oldest first."""
        rows = self.using(
            lambda conn: conn.execute("SELECT size, note FROM checkpoints ORDER BY size").fetchall()
        )
        return [
            SignedCheckpoint.parse(note, source=f"{self.path} checkpoint {size}")
            for size, note in rows
        ]

    def verifier_keys(self) -> list[VerifierKey]:
        """The public keys registered in the store (trust on first use; auditors keep their own)."""
        rows = self.using(
            lambda conn: conn.execute(
                "SELECT vkey FROM keys ORDER BY first_size, created_ns"
            ).fetchall()
        )
        return [VerifierKey.parse(row[0]) for row in rows]

    def projection_checkpoint(self, name: str) -> tuple[int, str] | None:
        """``(offset, state JSON)`` saved for projection ``name``, or None."""
        row = self.using(
            lambda conn: conn.execute(
                "SELECT position, state FROM projection_offsets WHERE name = ?", (name,)
            ).fetchone()
        )
        return None if row is None else (row[0], row[1])

    def save_projection_checkpoint(
        self, name: str, offset: int, state: str, *, allow_rewind: bool = False
    ) -> None:
        """Persist a projection's offset and state; the offset may only move forward.

        Raises:
            AuditError: ``offset`` is behind the saved one (and ``allow_rewind`` is False).
        """
        with self._lock, write_lock_transaction(self._conn) as conn:
            row = conn.execute(
                "SELECT position FROM projection_offsets WHERE name = ?", (name,)
            ).fetchone()
            if row is not None and row[0] > offset and not allow_rewind:
                raise AuditError(
                    f"projection {name!r}: offset {offset} is behind the saved {row[0]}"
                )
            conn.execute(
                "INSERT INTO projection_offsets (name, position, state) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET"
                " position = excluded.position, state = excluded.state",
                (name, offset, state),
            )

    def meta(self) -> dict[str, Any]:
        """The rows of the ``meta`` table."""
        return dict(self.using(lambda conn: conn.execute("SELECT key, value FROM meta").fetchall()))

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
