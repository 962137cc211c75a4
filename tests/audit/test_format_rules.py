"""Verify enforces every rule of docs/audit-format.md sections 1-3, 6, in both engines.

Each forgery below is appended at the unsigned tail by someone with write access: the
chain links hold (the forger re-hashes), no checkpoint covers the event, so only the
format's rules can reject it. Every case is a negative control of the others: the same
forger appending a well-formed event verifies clean.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sentinel.audit import AuditStore, verify_store
from sentinel.audit.canonical import reference_canonical_json
from sentinel.audit.chain import link_hash
from sentinel.audit.uuid7 import uuid7
from sentinel.audit.verify import VerificationReport
from sentinel.errors import InvalidEventError, StoreCorruptError
from tests.audit.conftest import Attacker, fill

Doc = dict[str, Any]
Forgery = Callable[[Doc], bytes]


@pytest.fixture
def closed_store(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "rules.db"
    with AuditStore(path, checkpoint_every=10_000, checkpoint_interval_ms=3_600_000) as store:
        fill(store, 12)
    yield path


def _next_doc(conn: sqlite3.Connection) -> tuple[Doc, bytes]:
    """A well-formed next event (the last one's successor in its stream), and the tail hash."""
    canonical, digest = conn.execute(
        "SELECT canonical, hash FROM events ORDER BY position DESC LIMIT 1"
    ).fetchone()
    doc: Doc = json.loads(canonical)
    doc.update(
        position=doc["position"] + 1,
        event_id=uuid7(),
        stream_rev=doc["stream_rev"] + 1,
        lamport=doc["lamport"] + 1,
        prev_hash=digest.hex(),
        payload={"note": "appended by the forger"},
    )
    return doc, digest


_INSERT = (
    "INSERT INTO events (position, event_id, stream, stream_rev, type, lamport,"
    " correlation_id, idempotency_key, prev_hash, hash, canonical)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_COLUMNS = ("event_id", "stream", "stream_rev", "type", "lamport", "correlation_id")


def _append_forged(path: Path, forge: Forgery) -> int:
    """Append the forged bytes at the tail, chained, with index columns taken from them
    where the schema allows (a careful forger keeps the columns in step)."""
    attacker = Attacker(path)
    try:
        doc, prev = _next_doc(attacker.conn)
        canonical = forge(doc)
        try:
            forged = json.loads(canonical)
        except ValueError:
            forged = doc
        if not isinstance(forged, dict):
            forged = doc
        position = int(doc["position"])
        tail = (prev, link_hash(prev, canonical), canonical)
        for source in (forged, doc):
            columns = [source.get(name, doc[name]) for name in _COLUMNS]
            columns = [c if isinstance(c, str | int | float | None) else str(c) for c in columns]
            try:
                attacker.sql(_INSERT, position, *columns, source.get("idempotency_key"), *tail)
                break
            except sqlite3.IntegrityError:  # a UNIQUE column: keep the original value there
                continue
        return position
    finally:
        attacker.close()


def _both_engines(path: Path) -> VerificationReport:
    native = verify_store(path, engine="native", witness=False)
    reference = verify_store(path, engine="reference", witness=False)
    assert native.problems == reference.problems
    return native


def _canonical(doc: Doc) -> bytes:
    return reference_canonical_json(doc, max_depth=None)


def _with(**changes: object) -> Forgery:
    return lambda doc: _canonical({**doc, **changes})


def _nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


CASES: dict[str, tuple[Forgery, str, str]] = {
    "whitespace": (
        lambda doc: json.dumps(doc, sort_keys=True, ensure_ascii=False).encode(),
        "not_canonical",
        "not the canonical encoding",
    ),
    "member order": (
        lambda doc: json.dumps(
            dict(sorted(doc.items(), reverse=True)), separators=(",", ":"), ensure_ascii=False
        ).encode(),
        "not_canonical",
        "not the canonical encoding",
    ),
    "escaped non-ASCII": (
        lambda doc: json.dumps(
            {**doc, "payload": {"note": "Grüße"}}, sort_keys=True, separators=(",", ":")
        ).encode(),
        "not_canonical",
        "not the canonical encoding",
    ),
    "duplicate member": (
        lambda doc: _canonical(doc).replace(
            b'{"causation_id"', b'{"causation_id":null,"causation_id"'
        ),
        "not_canonical",
        "not the canonical encoding",
    ),
    "integer out of range": (
        lambda doc: _canonical(doc).replace(
            b'"wall_ns":' + str(doc["wall_ns"]).encode(), b'"wall_ns":18446744073709551616'
        ),
        "not_canonical",
        "not the canonical encoding",
    ),
    "not JSON": (lambda doc: b"\xff" + _canonical(doc)[1:], "not_canonical", "not JSON"),
    "extra member": (_with(extra=1), "invalid_event", 'unknown member "extra"'),
    "missing member": (
        lambda doc: _canonical({k: v for k, v in doc.items() if k != "tick"}),
        "invalid_event",
        "member tick is missing",
    ),
    "version 2": (_with(v=2), "invalid_event", "v is 2"),
    "event id not UUIDv7": (_with(event_id="not-a-uuid"), "invalid_event", "UUIDv7"),
    "stream grammar": (_with(stream="/etc/passwd"), "invalid_event", "stream grammar"),
    "type grammar": (_with(type="Sandbox.Violation"), "invalid_event", "type grammar"),
    "float revision": (_with(stream_rev=1.5), "invalid_event", "stream_rev"),
    "negative tick": (_with(tick=-1), "invalid_event", "tick"),
    "empty idempotency key": (_with(idempotency_key=""), "invalid_event", "idempotency_key"),
    "payload not an object": (_with(payload=[1]), "invalid_event", "payload is not an object"),
    "payload too deep": (
        _with(payload=_nested(65)),
        "invalid_event",
        "payload nests deeper than 64",
    ),
    "repeated Lamport": (
        lambda doc: _canonical({**doc, "lamport": doc["lamport"] - 1}),
        "lamport_order",
        "is not above",
    ),
    "position member": (
        lambda doc: _canonical({**doc, "position": doc["position"] + 5}),
        "position_mismatch",
        "records position",
    ),
    "revision skipped": (
        lambda doc: _canonical({**doc, "stream_rev": doc["stream_rev"] + 1}),
        "revision_gap",
        "was due",
    ),
    "revision repeated": (
        lambda doc: _canonical({**doc, "stream_rev": doc["stream_rev"] - 1}),
        "revision_gap",
        "was due",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_forged_tail_event_breaks_a_rule(closed_store: Path, name: str) -> None:
    forge, kind, detail = CASES[name]
    position = _append_forged(closed_store, forge)
    report = _both_engines(closed_store)
    assert {p.position for p in report.problems} == {position}, report.problems
    assert any(p.kind == kind and detail in p.detail for p in report.problems), report.problems


def test_well_formed_forgery_passes_the_rules(closed_store: Path) -> None:
    # The negative control: the forger's machinery itself breaks no rule.
    _append_forged(closed_store, _canonical)
    assert _both_engines(closed_store).ok


def test_duplicate_event_id(closed_store: Path) -> None:
    first = (
        sqlite3.connect(closed_store)
        .execute("SELECT event_id FROM events WHERE position = 0")
        .fetchone()[0]
    )
    position = _append_forged(closed_store, _with(event_id=first))
    report = _both_engines(closed_store)
    # The event_id column is UNIQUE, so the forger stored another id in the column: the
    # column check reports that too.
    assert (position, "duplicate_event_id") in [(p.position, p.kind) for p in report.problems]


def test_oversized_event(closed_store: Path) -> None:
    position = _append_forged(closed_store, _with(payload={"blob": "x" * (1 << 20)}))
    report = _both_engines(closed_store)
    assert [(p.position, p.kind) for p in report.problems] == [(position, "invalid_event")]
    assert "the limit is 1048576" in report.problems[0].detail


def test_canonical_stored_as_text_is_reported_with_its_position(closed_store: Path) -> None:
    attacker = Attacker(closed_store)
    attacker.sql("UPDATE events SET canonical = CAST(canonical AS TEXT) WHERE position = 4")
    attacker.close()
    report = _both_engines(closed_store)
    assert [(p.position, p.kind) for p in report.problems] == [(4, "storage_class")]


def test_zeroed_prev_hash_column_is_reported_at_its_own_position(closed_store: Path) -> None:
    attacker = Attacker(closed_store)
    attacker.sql("UPDATE events SET prev_hash = zeroblob(32) WHERE position = 6")
    attacker.close()
    report = _both_engines(closed_store)
    assert report.first_bad_position == 6
    assert {p.position for p in report.problems} == {6}


def test_zeroed_checkpoint_root_column_is_reported(closed_store: Path) -> None:
    attacker = Attacker(closed_store)
    attacker.sql("UPDATE checkpoints SET root = zeroblob(32)")
    attacker.close()
    report = _both_engines(closed_store)
    assert [(p.kind, p.checkpoint) for p in report.problems] == [("column_mismatch", 12)]


def test_dropped_triggers_are_reported(closed_store: Path) -> None:
    conn = sqlite3.connect(closed_store)
    conn.execute("DROP TRIGGER events_no_update")
    conn.commit()
    conn.close()
    report = _both_engines(closed_store)
    assert [(p.kind, p.position) for p in report.problems] == [("triggers_missing", None)]
    assert "events_no_update" in report.problems[0].detail


@pytest.mark.parametrize("writer", ["native", "reference"])
def test_payload_depth_is_limited_at_append(tmp_path: Path, writer: str) -> None:
    path = tmp_path / "deep.db"
    with AuditStore(path, writer=writer) as store:  # type: ignore[arg-type]
        store.append("agent/A", "test.step", _nested(64))
        for depth in (65, 1000):
            with pytest.raises(InvalidEventError, match="nest deeper than 64 levels"):
                store.append("agent/A", "test.step", _nested(depth))
        assert len(list(store.read())) == 1
    assert verify_store(path).ok


@pytest.mark.parametrize("writer", ["native", "reference"])
def test_writers_refuse_to_chain_onto_a_tail_that_does_not_verify(
    closed_store: Path, writer: str
) -> None:
    attacker = Attacker(closed_store)
    attacker.sql("UPDATE events SET hash = zeroblob(32) WHERE position = 11")
    attacker.close()
    with AuditStore(closed_store, writer=writer) as store:  # type: ignore[arg-type]
        with pytest.raises(StoreCorruptError, match="does not verify"):
            store.append("agent/A", "test.step")
        assert len(store) == 12  # nothing was chained onto the forged tail
