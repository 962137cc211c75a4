"""The rules of docs/audit-format.md sections 1 and 2 for one stored event document.

The reference of ``native/sentinel-core/src/document.rs``: the same findings with the same
wording. A verifier re-canonicalises each stored document and compares the bytes, then
checks every member's type and form; the :class:`Facts` it extracts feed the rules that
span events (unique ids, revision order per stream, Lamport order) in the chain walk.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from sentinel.audit.canonical import reference_canonical_json
from sentinel.errors import InvalidEventError

MAX_EVENT_BYTES: Final = 1 << 20
"""Largest canonical event (1 MiB): audit events are records, not file transfers."""
MAX_PAYLOAD_DEPTH: Final = 64
"""Deepest nesting of arrays and objects in a payload (the payload object is level 1)."""
MAX_PARSE_DEPTH: Final = 127
"""Nesting beyond which verifiers stop parsing (serde_json's default recursion limit)."""
MAX_ID_CHARS: Final = 256
MAX_TYPE_CHARS: Final = 64
MAX_NODE_CHARS: Final = 255
_INT64_MAX: Final = 2**63 - 1
_INT_MIN: Final = -(2**63)
_UINT_MAX: Final = 2**64 - 1

MEMBERS: Final = (
    "causation_id",
    "correlation_id",
    "event_id",
    "idempotency_key",
    "lamport",
    "node",
    "payload",
    "position",
    "prev_hash",
    "stream",
    "stream_rev",
    "tick",
    "type",
    "v",
    "wall_ns",
)
"""The members of a version 1 document, in canonical order."""

STREAM_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}")
TYPE_PATTERN: Final = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+){0,7}")
UUID7_PATTERN: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)
HASH_PATTERN: Final = re.compile(r"[0-9a-f]{64}")

NOT_JSON: Final = "the stored bytes are not JSON in UTF-8"
TOO_DEEP: Final = "the document nests deeper than a verifier parses"
NOT_CANONICAL: Final = "the stored bytes are not the canonical encoding of their document"


@dataclass(frozen=True)
class Facts:
    """What the cross-event rules need from one document."""

    event_id: str
    position: int
    stream: str
    stream_rev: int
    lamport: int


@dataclass
class DocumentCheck:
    """Findings as ``(kind, detail)``, and the facts when the document has the right shape."""

    findings: list[tuple[str, str]] = field(default_factory=list)
    facts: Facts | None = None
    document: dict[str, Any] | None = None
    """The parsed document, when it is JSON and passes every member rule."""


class _DuplicateMemberError(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        raise _DuplicateMemberError
    return doc


def _number(text: str) -> int | float:
    # As serde_json reads numbers: integers in the 64-bit range exactly, others as doubles.
    value = int(text)
    return value if _INT_MIN <= value <= _UINT_MAX else float(text)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    return 0


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _natural(value: object) -> bool:
    return _is_int(value) and 0 <= value <= _INT64_MAX  # type: ignore[operator]


def _matches(value: object, pattern: re.Pattern[str]) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _optional_id(value: object) -> bool:
    return value is None or (isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS)


def _member_problem(doc: dict[str, Any]) -> str | None:  # noqa: PLR0911, PLR0912 - one return per rule
    for name in MEMBERS:
        if name not in doc:
            return f"member {name} is missing"
    for name in sorted(doc):
        if name not in MEMBERS:
            return f'unknown member "{name}"'
    if not (_is_int(doc["v"]) and doc["v"] == 1):
        shown = f"is {doc['v']}" if _is_int(doc["v"]) else "is not an integer"
        return f"v {shown}, this format is version 1"
    if not _matches(doc["event_id"], UUID7_PATTERN):
        return "event_id is not a lower-case UUIDv7"
    for name in ("position", "stream_rev", "wall_ns"):
        if not _natural(doc[name]):
            return f"{name} is not an integer in 0..2^63-1"
    if not (_is_int(doc["lamport"]) and 1 <= doc["lamport"] <= _INT64_MAX):
        return "lamport is not an integer in 1..2^63-1"
    if not _matches(doc["stream"], STREAM_PATTERN):
        return "stream does not match the stream grammar"
    kind = doc["type"]
    if not (_matches(kind, TYPE_PATTERN) and len(kind) <= MAX_TYPE_CHARS):
        return "type does not match the type grammar"
    node = doc["node"]
    if not (isinstance(node, str) and 0 < len(node) <= MAX_NODE_CHARS):
        return f"node is not a string of 1-{MAX_NODE_CHARS} characters"
    if not (doc["tick"] is None or _natural(doc["tick"])):
        return "tick is neither null nor an integer in 0..2^63-1"
    for name in ("correlation_id", "causation_id", "idempotency_key"):
        if not _optional_id(doc[name]):
            return f"{name} is neither null nor a string of 1-{MAX_ID_CHARS} characters"
    if not _matches(doc["prev_hash"], HASH_PATTERN):
        return "prev_hash is not 64 lower-case hex digits"
    if not isinstance(doc["payload"], dict):
        return "payload is not an object"
    if _depth(doc["payload"]) > MAX_PAYLOAD_DEPTH:
        return f"payload nests deeper than {MAX_PAYLOAD_DEPTH} levels"
    return None


def _facts(doc: dict[str, Any]) -> Facts | None:
    event_id, position, stream = doc.get("event_id"), doc.get("position"), doc.get("stream")
    stream_rev, lamport = doc.get("stream_rev"), doc.get("lamport")
    ints = (position, stream_rev, lamport)
    if not (isinstance(event_id, str) and isinstance(stream, str)):
        return None
    if not all(_is_int(v) and _INT_MIN <= v <= _INT64_MAX for v in ints):  # type: ignore[operator]
        return None
    return Facts(event_id, position, stream, stream_rev, lamport)  # type: ignore[arg-type]


def _parse(canonical: bytes) -> tuple[Any, str | None, bool]:
    """``(value, problem, duplicate members)``."""
    try:
        text = canonical.decode("utf-8")
        try:
            return json.loads(text, parse_int=_number, object_pairs_hook=_pairs), None, False
        except _DuplicateMemberError:
            value = json.loads(text, parse_int=_number)
            return value, None, True
    except RecursionError:
        return None, TOO_DEEP, False
    except ValueError:
        return None, NOT_JSON, False


def check_document(canonical: bytes) -> DocumentCheck:
    """Check one stored document against sections 1 and 2 of the format."""
    check = DocumentCheck()
    if len(canonical) > MAX_EVENT_BYTES:
        check.findings.append(
            ("invalid_event", f"{len(canonical)} bytes, the limit is {MAX_EVENT_BYTES}")
        )
    value, problem, duplicate = _parse(canonical)
    if problem is None and _depth(value) > MAX_PARSE_DEPTH:
        problem = TOO_DEEP
    if problem is not None:
        check.findings.append(("not_canonical", problem))
        return check
    try:
        encoded = reference_canonical_json(value, max_depth=None)
        canonical_ok = not duplicate and encoded == canonical
    except InvalidEventError:  # lone surrogates, NaN: no canonical form at all
        check.findings.append(("not_canonical", NOT_JSON))
        return check
    if not canonical_ok:
        check.findings.append(("not_canonical", NOT_CANONICAL))
    if not isinstance(value, dict):
        check.findings.append(("invalid_event", "the document is not an object"))
        return check
    member_problem = _member_problem(value)
    if member_problem is not None:
        check.findings.append(("invalid_event", member_problem))
    elif len(canonical) <= MAX_EVENT_BYTES:
        check.document = value
    check.facts = _facts(value)
    return check
