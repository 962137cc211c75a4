"""Events as appended (:class:`NewEvent`) and as stored (:class:`Event`)."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from pydantic import ValidationError

from sentinel.audit.event_types import EVENT_TYPES, EventPayload
from sentinel.errors import InvalidEventError

FORMAT_VERSION: Final = 1
"""Value of the ``v`` member of every canonical event (docs/audit-format.md)."""
STREAM_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}")
TYPE_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+){0,7}")
MAX_TYPE_LENGTH: Final = 64
MAX_ID_LENGTH: Final = 256
"""Longest idempotency key, correlation or causation id accepted."""

ANY_REVISION: Final = None
"""Append whatever the stream's revision is."""
NO_STREAM: Final = -1
"""Append only if the stream does not exist yet."""


@functools.lru_cache(maxsize=4096)
def _valid_stream(stream: str) -> bool:
    return STREAM_PATTERN.fullmatch(stream) is not None


@functools.lru_cache(maxsize=1024)
def _valid_type(type_: str) -> bool:
    return len(type_) <= MAX_TYPE_LENGTH and TYPE_PATTERN.fullmatch(type_) is not None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. Position, revision, ids, clocks and hashes are set by the log.

    Args:
        stream: The stream it belongs to, such as ``agent/AGENT-07`` or ``gateway``.
        type: Dotted lower-case type, such as ``sandbox.violation``.
        payload: JSON-compatible data; validated when ``type`` is registered.
        idempotency_key: Appending the same key again returns the original event.
        tick: Simulation tick, when the event belongs to the office world.
        correlation_id: Groups the events of one request or one episode.
        causation_id: The ``event_id`` of the event that caused this one.
        payload_checked: The payload is already its registered type's JSON dump, built from
            typed fields by a function that a property test pins to that model's dump (the
            gateway's ``gateway.decision`` and ``gateway.model_call``, see
            :mod:`sentinel.gateway.audit_events`): the store skips the model's validation
            (most of an event's cost) and still checks the other fields and encodes the
            payload canonically, which refuses anything that is not JSON. Never set it for
            a payload that came from outside input: those must be validated.
    """

    stream: str
    type: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    tick: int | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    payload_checked: bool = field(default=False, compare=False, kw_only=True)

    @classmethod
    def of(cls, payload: EventPayload, *, stream: str, **kwargs: Any) -> NewEvent:  # noqa: ANN401 - same keywords as the constructor
        """Build an event from a typed payload; its class names the type."""
        return cls(
            stream=stream,
            type=payload.event_type,
            payload=payload.model_dump(mode="json"),
            **kwargs,
        )

    def validated(self, index: int) -> NewEvent:
        """Check the fields; return the event with a validated typed payload.

        Raises:
            InvalidEventError: A field has the wrong type or form; the message says which.
        """
        if not isinstance(self.stream, str) or not _valid_stream(self.stream):
            raise InvalidEventError(
                f"events[{index}].stream: {self.stream!r} is not a stream name "
                "(1-128 of letters, digits and _ . : / @ -, starting with a letter or digit)"
            )
        if not isinstance(self.type, str) or not _valid_type(self.type):
            raise InvalidEventError(
                f"events[{index}].type: {self.type!r} is not an event type (dotted lower-case "
                f"words, at most {MAX_TYPE_LENGTH} characters)"
            )
        if not isinstance(self.payload, Mapping):
            raise InvalidEventError(
                f"events[{index}].payload: expected a mapping, got {type(self.payload).__name__}"
            )
        if not (self.idempotency_key is None and self.correlation_id is None
                and self.causation_id is None):  # fmt: skip
            for name in ("idempotency_key", "correlation_id", "causation_id"):
                value = getattr(self, name)
                if value is not None and (
                    not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH
                ):
                    raise InvalidEventError(
                        f"events[{index}].{name}: expected a string of 1-{MAX_ID_LENGTH} characters"
                    )
        if self.tick is not None and (
            isinstance(self.tick, bool) or not isinstance(self.tick, int) or self.tick < 0
        ):
            raise InvalidEventError(
                f"events[{index}].tick: expected a non-negative integer or None"
            )
        model = EVENT_TYPES.get(self.type)
        if model is None or self.payload_checked:
            return self
        try:
            checked = model.model_validate(dict(self.payload))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(part) for part in first["loc"])
            raise InvalidEventError(
                f"events[{index}].payload.{loc}: {first['msg']} (type {self.type})"
            ) from None
        return NewEvent(
            stream=self.stream,
            type=self.type,
            payload=checked.model_dump(mode="json"),
            idempotency_key=self.idempotency_key,
            tick=self.tick,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
        )


class Event(NamedTuple):
    """A stored event, decoded from its canonical bytes (which are the evidence).

    Immutable. A named tuple rather than a frozen dataclass: logs hand out events by the
    hundred thousand, and a frozen dataclass costs several microseconds to build.
    """

    event_id: str
    position: int
    stream: str
    stream_rev: int
    type: str
    payload: dict[str, Any]
    lamport: int
    node: str
    wall_ns: int
    tick: int | None
    correlation_id: str | None
    causation_id: str | None
    idempotency_key: str | None
    prev_hash: bytes
    hash: bytes
    canonical: bytes

    @classmethod
    def from_document(
        cls, doc: Mapping[str, Any], prev_hash: bytes, hash_: bytes, canonical: bytes
    ) -> Event:
        """Build an event from its document (without ``prev_hash``) and its sealed form."""
        return cls(
            event_id=doc["event_id"],
            position=doc["position"],
            stream=doc["stream"],
            stream_rev=doc["stream_rev"],
            type=doc["type"],
            payload=dict(doc["payload"]),
            lamport=doc["lamport"],
            node=doc["node"],
            wall_ns=doc["wall_ns"],
            tick=doc["tick"],
            correlation_id=doc["correlation_id"],
            causation_id=doc["causation_id"],
            idempotency_key=doc["idempotency_key"],
            prev_hash=prev_hash,
            hash=hash_,
            canonical=canonical,
        )

    @classmethod
    def from_canonical(cls, canonical: bytes, hash_: bytes) -> Event:
        """Decode a stored event; ``hash_`` is the stored hash (checked by verify, not here)."""
        doc = json.loads(canonical)
        return cls.from_document(doc, bytes.fromhex(doc["prev_hash"]), hash_, canonical)

    def typed_payload(self) -> EventPayload | dict[str, Any]:
        """The payload as its registered model, or the plain dict for unknown types."""
        model = EVENT_TYPES.get(self.type)
        return model.model_validate(self.payload) if model is not None else self.payload
