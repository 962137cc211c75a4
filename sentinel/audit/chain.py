"""The hash chain: ``hash_i = SHA-256(prev_hash_i || canonical_i)`` from 32 zero bytes.

``seal_events`` (native) writes each event's canonical bytes with its ``prev_hash`` merged
in and chains them in one call; ``reference_seal_events`` is the Python oracle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Final

from sentinel import _native
from sentinel.audit.canonical import MAX_PAYLOAD_DEPTH, reference_canonical_json
from sentinel.errors import InvalidEventError

GENESIS: Final = bytes(32)
"""The ``prev_hash`` of the first event of every log."""


def seal_events(
    prev_hash: bytes, events: Sequence[Mapping[str, object]]
) -> list[tuple[bytes, bytes]]:
    """Canonical bytes and hash of each event, chained from ``prev_hash``, natively.

    Raises:
        InvalidEventError: An event has no canonical form; the message names it by index
            and path (``events[2].payload.x``).
    """
    return _native.seal_events(prev_hash, list(events))


def reference_seal_events(
    prev_hash: bytes, events: Sequence[Mapping[str, object]]
) -> list[tuple[bytes, bytes]]:
    """Python oracle of :func:`seal_events`."""
    sealed = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise InvalidEventError(f"events[{index}]: an event must be a dict")
        if "prev_hash" in event:
            raise InvalidEventError(
                f'events[{index}]: "prev_hash" is set by the log, not the caller'
            )
        canonical = reference_canonical_json(
            {**event, "prev_hash": prev_hash.hex()},
            path=f"events[{index}]",
            max_depth=MAX_PAYLOAD_DEPTH + 1,
        )
        prev_hash = link_hash(prev_hash, canonical)
        sealed.append((canonical, prev_hash))
    return sealed


def link_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    """One link of the chain."""
    return hashlib.sha256(prev_hash + canonical).digest()


def chain_extend(prev_hash: bytes, records: Sequence[bytes]) -> list[bytes]:
    """Hashes of ``records`` chained from ``prev_hash``, natively."""
    return _native.chain_extend(prev_hash, list(records))


def reference_chain_extend(prev_hash: bytes, records: Sequence[bytes]) -> list[bytes]:
    """Python oracle of :func:`chain_extend`: a hashlib loop."""
    out = []
    for record in records:
        prev_hash = link_hash(prev_hash, record)
        out.append(prev_hash)
    return out


def mismatched_links(
    prevs: Sequence[bytes], records: Sequence[bytes], hashes: Sequence[bytes]
) -> list[int]:
    """Indices whose stored hash is not ``SHA-256(prev || record)`` for their own prev, natively."""
    return _native.chain_mismatched_links(list(prevs), list(records), list(hashes))


def reference_mismatched_links(
    prevs: Sequence[bytes], records: Sequence[bytes], hashes: Sequence[bytes]
) -> list[int]:
    """Python oracle of :func:`mismatched_links`."""
    return [
        index
        for index, (prev, record, stored) in enumerate(zip(prevs, records, hashes, strict=True))
        if link_hash(prev, record) != stored
    ]
