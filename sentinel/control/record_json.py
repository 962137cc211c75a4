"""The text a decision record's digest is computed over, written natively.

A plane chains its records by the SHA-256 of ``json.dumps(decisions, sort_keys=True,
separators=(",", ":"))`` (docs/audit-format.md, control payloads). In a busy iteration
(hundreds of actions and verdicts, ~75 kB of JSON) the standard library's encoder took
about a quarter of the iteration; the native encoder writes the same bytes (a hypothesis
test pins them equal) and hands anything outside its plain types back to the reference.

Parts of a record whose text is already known (the verification entries, which the
native store writes from its own values) are spliced in as ``bytes``:
:func:`spliced_record_json` writes them as they are, everything around them as
:func:`record_json` does.
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


def reference_spliced_record_json(value: object) -> bytes:
    """The reference of :func:`spliced_record_json`.

    Each exact ``bytes`` among a top-level dict's values is read back, then everything is
    written (a ``bytes`` deeper is refused, as the standard library refuses it).
    """
    if type(value) is dict:
        value = {k: json.loads(v) if type(v) is bytes else v for k, v in value.items()}
    return reference_record_json(value)


def spliced_record_json(value: object) -> bytes:
    """:func:`record_json` of ``value``, each ``bytes`` among its top-level values as it is.

    Such a ``bytes`` is JSON text written before (sorted keys, compact): a record's
    verification and action entries. Only there: a ``bytes`` deeper (a detail an actuator
    returned, say) is no JSON text and is refused, as :func:`record_json` refuses it.
    """
    encoded = _native.stdlib_sorted_json(value, verbatim=True)
    return encoded if encoded is not None else reference_spliced_record_json(value)


def spliced_record_digest(value: object) -> str:
    """SHA-256 (hex) of :func:`spliced_record_json`."""
    return hashlib.sha256(spliced_record_json(value)).hexdigest()
