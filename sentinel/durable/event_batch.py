"""The body of one ``.events`` message: several consecutive audit events, length-framed.

A record per event, in position order: ``prev_len`` (1 byte), ``hash_len`` (1 byte),
``canonical_len`` (4 bytes, big-endian), then ``prev_hash``, ``hash`` and the canonical
bytes exactly as stored. The position, id and every other column are members of the
canonical bytes, so the mirror needs nothing else; the message id names the range
(``events-<first>-<last>``), which makes a republished batch a JetStream duplicate.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Final, NamedTuple

from sentinel.errors import DurableError

_RECORD_HEAD: Final = struct.Struct(">BBI")
"""Ours: prev hash length, hash length, canonical length (a hash is 32 bytes today)."""
RECORD_OVERHEAD: Final = _RECORD_HEAD.size
"""Bytes a record adds to its prev hash, hash and canonical bytes."""


class FramedEvent(NamedTuple):
    """One event as carried in a batch: its chain links and canonical bytes."""

    prev_hash: bytes
    hash: bytes
    canonical: bytes


def record_size(event: FramedEvent) -> int:
    """Bytes ``event`` takes in a batch body."""
    return RECORD_OVERHEAD + len(event.prev_hash) + len(event.hash) + len(event.canonical)


def encode_batch(events: Iterable[tuple[bytes, bytes, bytes]]) -> bytes:
    """The body carrying ``events`` (prev hash, hash, canonical bytes) in the given order."""
    pack = _RECORD_HEAD.pack
    parts: list[bytes] = []
    for prev_hash, hash_, canonical in events:
        parts += (pack(len(prev_hash), len(hash_), len(canonical)), prev_hash, hash_, canonical)
    return b"".join(parts)


def decode_batch(body: bytes, where: str) -> Iterator[FramedEvent]:
    """The events of ``body``, in order.

    Raises:
        DurableError: The body is truncated or has trailing bytes (``where`` names the message).
    """
    view = memoryview(body)
    offset = 0
    while offset < len(view):
        if offset + RECORD_OVERHEAD > len(view):
            raise DurableError(f"{where}: truncated event record at byte {offset}")
        prev_len, hash_len, canonical_len = _RECORD_HEAD.unpack_from(view, offset)
        start = offset + RECORD_OVERHEAD
        end = start + prev_len + hash_len + canonical_len
        if end > len(view):
            raise DurableError(f"{where}: event record at byte {offset} runs past the body")
        yield FramedEvent(
            bytes(view[start : start + prev_len]),
            bytes(view[start + prev_len : start + prev_len + hash_len]),
            bytes(view[start + prev_len + hash_len : end]),
        )
        offset = end


def cut_batches(
    rows: Iterable[tuple[int, bytes, bytes, bytes]],
    per_message: int,
    target_bytes: int,
    max_bytes: int,
) -> Iterator[tuple[int, int, bytes]]:
    """``(first, last, body)`` per message from ``(position, prev, hash, canonical)`` rows.

    Consecutive events are packed greedily: a message takes at most ``per_message`` events
    and grows past ``target_bytes`` only by a single event that is alone in it. The cut
    depends only on the rows and the limits, so replicating the same store again makes the
    same messages (same ids: JetStream drops them as duplicates).

    Raises:
        DurableError: One event alone is larger than ``max_bytes`` (the server's limit).
    """
    pending: list[tuple[bytes, bytes, bytes]] = []
    first = size = 0
    for position, prev_hash, hash_, canonical in rows:
        needed = RECORD_OVERHEAD + len(prev_hash) + len(hash_) + len(canonical)
        if needed > max_bytes:
            raise DurableError(
                f"event at position {position}: {needed} bytes framed exceed the server's "
                f"message limit of {max_bytes} bytes (raise max_payload)"
            )
        if pending and (len(pending) == per_message or size + needed > target_bytes):
            yield first, first + len(pending) - 1, encode_batch(pending)
            pending, size = [], 0
        if not pending:
            first = position
        pending.append((prev_hash, hash_, canonical))
        size += needed
    if pending:
        yield first, first + len(pending) - 1, encode_batch(pending)
