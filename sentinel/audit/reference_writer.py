"""The Python write path of a group commit: the reference of the native ``LogWriter``.

Everything one request needs inside the group's transaction: idempotency keys, expected
revisions, positions, revisions, Lamport values, UUIDv7 ids, sealing onto the chain and
INSERT. A differential property test pins it to ``native/sentinel-core/src/logwriter.rs``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sentinel.audit.chain import GENESIS, link_hash, seal_events
from sentinel.audit.events import FORMAT_VERSION, NO_STREAM, Event, NewEvent
from sentinel.audit.schema import INDEXED_MEMBERS
from sentinel.audit.uuid7 import uuid7
from sentinel.errors import InvalidEventError, StoreCorruptError, WrongExpectedRevisionError

MAX_EVENT_BYTES: Final = 1 << 20
"""Largest canonical event accepted (1 MiB): audit events are records, not file transfers."""
SELECT_EVENT: Final = "SELECT canonical, hash FROM events"
_INSERT_EVENT: Final = (
    f"INSERT INTO events ({', '.join(INDEXED_MEMBERS)}, prev_hash, hash, canonical)"  # noqa: S608 - constant names
    f" VALUES ({', '.join('?' * (len(INDEXED_MEMBERS) + 3))})"
)


@dataclass
class Tail:
    """The end of the chain: how many events, the last hash, the last Lamport value."""

    size: int
    hash: bytes
    lamport: int


def read_tail(conn: sqlite3.Connection) -> Tail:
    """The tail as stored (unchecked: for reads)."""
    row = conn.execute(
        "SELECT position, hash, lamport FROM events ORDER BY position DESC LIMIT 1"
    ).fetchone()
    return Tail(0, GENESIS, 0) if row is None else Tail(row[0] + 1, row[1], row[2])


def verified_tail(conn: sqlite3.Connection, path: Path) -> Tail:
    """The tail, checked: new events are only ever chained onto a link that holds.

    Raises:
        StoreCorruptError: The last event's stored hash is not ``SHA-256(prev || canonical)``.
    """
    row = conn.execute(
        "SELECT position, hash, lamport, prev_hash, canonical FROM events"
        " ORDER BY position DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return Tail(0, GENESIS, 0)
    position, digest, lamport, prev, canonical = row
    if not (
        all(isinstance(value, bytes) for value in (digest, prev, canonical))
        and len(digest) == len(prev) == len(GENESIS)
        and link_hash(prev, canonical) == digest
    ):
        raise StoreCorruptError(
            f"{path}: the last stored event (position {position}) does not verify; "
            "refusing to append after it (run `sentinel-run audit verify`)"
        )
    return Tail(position + 1, digest, lamport)


def stream_revision(conn: sqlite3.Connection, stream: str, cache: dict[str, int]) -> int:
    """The revision of the stream's last event (``NO_STREAM`` if none), cached per group."""
    if stream not in cache:
        row = conn.execute(
            "SELECT max(stream_rev) FROM events WHERE stream = ?", (stream,)
        ).fetchone()
        cache[stream] = NO_STREAM if row[0] is None else row[0]
    return cache[stream]


def apply_request(
    conn: sqlite3.Connection,
    events: Sequence[NewEvent],
    expected: Mapping[str, int],
    tail: Tail,
    revisions: dict[str, int],
    *,
    clock: int,
    node: str,
) -> tuple[list[Event], Tail]:
    """Write one request inside the group's transaction; returns its events and new tail.

    Raises:
        WrongExpectedRevisionError: A stream is not at the expected revision.
        InvalidEventError: An event is too large once encoded.
    """
    known, fresh, first_with_key = _resolve_keys(conn, events)
    if fresh:
        for stream, wanted in expected.items():
            actual = stream_revision(conn, stream, revisions)
            if wanted != actual:
                raise WrongExpectedRevisionError(stream, wanted, actual)
        documents = _documents(conn, [event for _, event in fresh], tail, revisions, clock, node)
        inserted = _insert(conn, [index for index, _ in fresh], documents, tail.hash)
        known.update(zip((index for index, _ in fresh), inserted, strict=True))
        last = inserted[-1]
        tail = Tail(last.position + 1, last.hash, last.lamport)
    results = []
    for index, event in enumerate(events):
        if index not in known:  # a key repeated inside this request: the first one answers
            assert event.idempotency_key is not None  # noqa: S101 - only keyed events are skipped
            index = first_with_key[event.idempotency_key]  # noqa: PLW2901
        results.append(known[index])
    return results, tail


def _resolve_keys(
    conn: sqlite3.Connection, events: Sequence[NewEvent]
) -> tuple[dict[int, Event], list[tuple[int, NewEvent]], dict[str, int]]:
    """Split a request into events already stored (by idempotency key) and new ones."""
    known: dict[int, Event] = {}
    fresh: list[tuple[int, NewEvent]] = []
    first_with_key: dict[str, int] = {}
    for index, event in enumerate(events):
        key = event.idempotency_key
        if key is not None:
            if key in first_with_key:
                continue
            first_with_key[key] = index
            row = conn.execute(SELECT_EVENT + " WHERE idempotency_key = ?", (key,)).fetchone()
            if row is not None:
                known[index] = Event.from_canonical(row[0], row[1])
                continue
        fresh.append((index, event))
    return known, fresh, first_with_key


def _documents(
    conn: sqlite3.Connection,
    events: Sequence[NewEvent],
    tail: Tail,
    revisions: dict[str, int],
    clock: int,
    node: str,
) -> list[dict[str, Any]]:
    """The event documents (docs/audit-format.md section 1), without ``prev_hash``."""
    documents = []
    lamport = max(clock, tail.lamport)
    for offset, event in enumerate(events):
        revision = stream_revision(conn, event.stream, revisions) + 1
        revisions[event.stream] = revision
        lamport += 1
        documents.append(
            {
                "v": FORMAT_VERSION,
                "event_id": uuid7(),
                "position": tail.size + offset,
                "stream": event.stream,
                "stream_rev": revision,
                "type": event.type,
                "payload": event.payload,
                "lamport": lamport,
                "node": node,
                "wall_ns": time.time_ns(),
                "tick": event.tick,
                "correlation_id": event.correlation_id,
                "causation_id": event.causation_id,
                "idempotency_key": event.idempotency_key,
            }
        )
    return documents


def _insert(
    conn: sqlite3.Connection,
    indexes: Sequence[int],
    documents: list[dict[str, Any]],
    prev: bytes,
) -> list[Event]:
    """Seal the documents onto the chain and insert them; returns the stored events."""
    events, rows = [], []
    for index, doc, (canonical, digest) in zip(
        indexes, documents, seal_events(prev, documents), strict=True
    ):
        if len(canonical) > MAX_EVENT_BYTES:
            raise InvalidEventError(
                f"events[{index}]: {len(canonical)} bytes encoded, the limit is {MAX_EVENT_BYTES}"
            )
        events.append(Event.from_document(doc, prev, digest, canonical))
        indexed = tuple(doc[column] for column in INDEXED_MEMBERS)
        rows.append((*indexed, prev, digest, canonical))
        prev = digest
    conn.executemany(_INSERT_EVENT, rows)
    return events
