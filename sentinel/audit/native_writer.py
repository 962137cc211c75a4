"""The native write path of :class:`~sentinel.audit.store.AuditStore`.

``sentinel._native.LogWriter`` does, in one Rust call per group, what the reference path
in ``store.py`` does in Python (``AuditStore._apply``): idempotency, expected revisions,
positions, Lamport values, UUIDv7 ids, canonical bytes, chaining, INSERT and a durable
COMMIT. This module only converts requests and outcomes. Differential tests pin the two
paths to the same logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from sentinel import _native
from sentinel.audit.canonical import canonical_json
from sentinel.audit.events import Event, NewEvent
from sentinel.errors import InvalidEventError, StoreCorruptError, WrongExpectedRevisionError

Record = tuple[str, str, bytes, int | None, str | None, str | None, str | None]
Outcome = list[Event] | InvalidEventError | WrongExpectedRevisionError

_STORED_FIELDS: Final = 9


def records_for(events: Sequence[NewEvent]) -> list[Record]:
    """Encode each payload canonically (in the caller's thread) for the native writer.

    Raises:
        InvalidEventError: A payload has no canonical form; names the event and path.
    """
    return [
        (
            event.stream,
            event.type,
            canonical_json(event.payload, path=f"events[{index}].payload"),
            event.tick,
            event.correlation_id,
            event.causation_id,
            event.idempotency_key,
        )
        for index, event in enumerate(events)
    ]


def commit_native(
    writer: _native.LogWriter,
    requests: Sequence[tuple[Sequence[NewEvent], Sequence[Record], Mapping[str, int]]],
    *,
    node: str,
    clock: int,
    max_event_bytes: int,
) -> list[Outcome]:
    """Commit a group natively; one outcome (events or the refusal) per request.

    Raises:
        StoreCorruptError: The stored tail does not verify; nothing was written.
        AuditError: SQLite failed to write; the whole group was rolled back.
    """
    raw = writer.commit_group(
        [(list(records), list(expected.items())) for _, records, expected in requests], clock
    )
    outcomes: list[Outcome] = []
    for (events, _, _), outcome in zip(requests, raw, strict=True):
        if isinstance(outcome, tuple):
            if outcome[0] == "wrong_revision":
                outcomes.append(WrongExpectedRevisionError(outcome[1], outcome[2], outcome[3]))
            else:
                outcomes.append(
                    InvalidEventError(
                        f"events[{outcome[1]}]: {outcome[2]} bytes encoded, "
                        f"the limit is {max_event_bytes}"
                    )
                )
            continue
        outcomes.append(_events(events, outcome, node))
    return outcomes


def _events(
    events: Sequence[NewEvent], stored: Sequence[tuple[object, ...]], node: str
) -> list[Event]:
    built: dict[int, Event] = {}
    result = []
    for new, item in zip(events, stored, strict=True):
        if len(item) != _STORED_FIELDS:
            raise StoreCorruptError(
                f"native writer returned {len(item)} fields, expected {_STORED_FIELDS}"
            )
        position, event_id, stream_rev, lamport, wall_ns, canonical, digest, prev, existing = item
        if not (
            isinstance(position, int) and isinstance(canonical, bytes) and isinstance(digest, bytes)
        ):
            raise StoreCorruptError(
                f"native writer returned malformed fields for position {position!r}"
            )
        if position in built:  # a key repeated inside the request: the first occurrence answers
            result.append(built[position])
            continue
        if existing:
            event = Event.from_canonical(canonical, digest)
        else:
            event = Event(
                event_id=str(event_id),
                position=position,
                stream=new.stream,
                stream_rev=int(stream_rev),  # type: ignore[call-overload]
                type=new.type,
                payload=dict(new.payload),
                lamport=int(lamport),  # type: ignore[call-overload]
                node=node,
                wall_ns=int(wall_ns),  # type: ignore[call-overload]
                tick=new.tick,
                correlation_id=new.correlation_id,
                causation_id=new.causation_id,
                idempotency_key=new.idempotency_key,
                prev_hash=bytes(prev),  # type: ignore[call-overload]
                hash=digest,
                canonical=canonical,
            )
        built[position] = event
        result.append(event)
    return result
