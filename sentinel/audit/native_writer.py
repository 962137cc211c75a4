"""The native write path of :class:`~sentinel.audit.store.AuditStore`.

``sentinel._native.LogWriter`` does, in one Rust call per group, what the reference path
in ``store.py`` does in Python (``AuditStore._apply``): idempotency, expected revisions,
positions, Lamport values, UUIDv7 ids, canonical bytes, chaining, INSERT and a durable
COMMIT. This module only converts requests and outcomes (the outcomes while that COMMIT
waits for the disk on a native thread). Differential tests pin the two paths to the same
logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

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
    encode = _native.canonical_json
    try:
        return [
            (
                event.stream,
                event.type,
                encode(event.payload),
                event.tick,
                event.correlation_id,
                event.causation_id,
                event.idempotency_key,
            )
            for event in events
        ]
    except InvalidEventError:
        # Encoded again one by one, to name the event (a path per event costs a string
        # each on the common path, where nothing fails).
        for index, event in enumerate(events):
            canonical_json(event.payload, path=f"events[{index}].payload")
        raise


def commit_native(
    writer: _native.LogWriter,
    requests: Sequence[tuple[Sequence[NewEvent], Sequence[Record], Mapping[str, int]]],
    *,
    node: str,
    clock: int,
    max_event_bytes: int,
    checkpoint: tuple[tuple[int, bytes, str, str, int], list[tuple[int, int, bytes]]] | None = None,
) -> list[Outcome]:
    """Commit a group natively; one outcome (events or the refusal) per request.

    ``checkpoint`` is a signed checkpoint's row and its subtree rows, inserted in the same
    transaction (see ``PendingCheckpoint``).

    Raises:
        StoreCorruptError: The stored tail does not verify; nothing was written.
        AuditError: SQLite failed to write; the whole group was rolled back.
    """

    def build(raw: list[object]) -> list[Outcome]:
        # Runs while the group's COMMIT waits for the disk on a native thread; its result
        # is returned only once that COMMIT succeeded.
        return _outcomes(requests, raw, node, max_event_bytes)

    built: list[Outcome] = writer.commit_group(
        [(list(records), list(expected.items())) for _, records, expected in requests],
        clock,
        checkpoint,
        build,
    )
    return built


def _outcomes(
    requests: Sequence[tuple[Sequence[NewEvent], Sequence[Record], Mapping[str, int]]],
    raw: list[Any],
    node: str,
    max_event_bytes: int,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for (events, _, _), outcome in zip(requests, raw, strict=True):
        if isinstance(outcome[0], str):  # a refusal; stored events are nine lists
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


def _events(events: Sequence[NewEvent], stored: object, node: str) -> list[Event]:
    if not (isinstance(stored, tuple) and len(stored) == _STORED_FIELDS):
        raise StoreCorruptError(
            f"native writer returned {stored!r:.80}, expected {_STORED_FIELDS} columns"
        )
    positions, ids, revisions, lamports, walls, canonicals, digests, prevs, existing = stored
    if not all(len(column) == len(events) for column in stored):
        raise StoreCorruptError("native writer returned columns of the wrong length")
    built: dict[int, Event] = {}
    result = []
    make = Event._make  # positional: a keyword call costs a dict per event
    for new, position, event_id, stream_rev, lamport, wall_ns, canonical, digest, prev, old in zip(
        events, positions, ids, revisions, lamports, walls, canonicals, digests, prevs, existing,
        strict=True,
    ):  # fmt: skip
        event = built.get(position)
        if event is None:  # else a key repeated inside the request: its first occurrence
            if old:
                event = Event.from_canonical(canonical, digest)
            else:
                fields = (
                    event_id, position, new.stream, stream_rev, new.type, dict(new.payload),
                    lamport, node, wall_ns, new.tick, new.correlation_id, new.causation_id,
                    new.idempotency_key, prev, digest, canonical,
                )  # fmt: skip
                event = make(fields)
            built[position] = event
        result.append(event)
    return result
