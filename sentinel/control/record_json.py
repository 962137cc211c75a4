"""The text a decision record's digest is computed over, written natively.

A plane chains its records by the SHA-256 of ``json.dumps(decisions, sort_keys=True,
separators=(",", ":"))`` (docs/audit-format.md, control payloads). In a busy iteration
(hundreds of actions and verdicts, ~75 kB of JSON) the standard library's encoder took
about a quarter of the iteration; the native encoder writes the same bytes (a hypothesis
test pins them equal) and hands anything outside its plain types back to the reference.
"""

from __future__ import annotations

import hashlib
import json

from sentinel import _native


def reference_record_json(value: object) -> bytes:
    """The reference: the standard library's sorted, compact JSON as UTF-8 (ASCII) bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def record_json(value: object) -> bytes:
    """The same bytes as :func:`reference_record_json`, natively when the value allows."""
    encoded = _native.stdlib_sorted_json(value)
    return encoded if encoded is not None else reference_record_json(value)


def record_digest(value: object) -> str:
    """SHA-256 (hex) of :func:`record_json`."""
    return hashlib.sha256(record_json(value)).hexdigest()
