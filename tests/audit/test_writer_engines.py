"""The native write path (``sentinel._native.LogWriter``) pinned to the Python reference:
the same requests give the same logs, the same answers and the same refusals."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel import _native
from sentinel.audit import NO_STREAM, AuditStore, NewEvent, sqlite_link, verify_store
from sentinel.audit.reference_writer import MAX_EVENT_BYTES
from sentinel.errors import AuditError, InvalidEventError, WrongExpectedRevisionError

# Members that differ between any two runs by nature (ids, clocks) and the hashes they feed.
VOLATILE = ("event_id", "wall_ns", "prev_hash")

payloads = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=12),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        ),
        max_leaves=8,
    ),
    max_size=4,
)
new_events = st.builds(
    NewEvent,
    stream=st.sampled_from(["agent/A", "agent/B", "gateway"]),
    type=st.sampled_from(["test.step", "gateway.note"]),
    payload=payloads,
    idempotency_key=st.none() | st.sampled_from(["k1", "k2", "k3"]),
    tick=st.none() | st.integers(0, 10**9),
    correlation_id=st.none() | st.just("c1"),
    causation_id=st.none() | st.just("cause"),
)
requests = st.lists(
    st.tuples(
        st.lists(new_events, min_size=1, max_size=4),
        st.none() | st.tuples(st.sampled_from(["agent/A", "gateway"]), st.integers(-1, 3)),
    ),
    min_size=1,
    max_size=6,
)


def _run(
    path: Path, writer: str, batches: list[tuple[list[NewEvent], Any]]
) -> tuple[list[object], list[dict[str, Any]]]:
    answers: list[object] = []
    with AuditStore(path, node="n", writer=writer) as store:  # type: ignore[arg-type]
        for events, expected in batches:
            try:
                stored = store.append_batch(
                    events, expected_revisions=dict([expected]) if expected else None
                )
                answers.append(
                    [(e.position, e.stream_rev, e.lamport, e.type, e.payload) for e in stored]
                )
            except (WrongExpectedRevisionError, InvalidEventError) as exc:
                answers.append((type(exc).__name__, str(exc)))
        docs = []
        for event in store.read():
            doc = json.loads(event.canonical)
            for member in VOLATILE:
                doc.pop(member)
            docs.append(doc)
    assert verify_store(path).ok
    return answers, docs


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(requests)
def test_native_and_reference_writers_agree(
    tmp_path: Path, batches: list[tuple[list[NewEvent], Any]]
) -> None:
    case = tmp_path / f"case-{abs(hash(repr(batches)))}"
    case.mkdir(exist_ok=True)
    native = _run(case / "native.db", "native", batches)
    reference = _run(case / "reference.db", "reference", batches)
    assert native == reference


def test_both_writers_refuse_the_same_way(tmp_path: Path) -> None:
    writers: tuple[Literal["native", "reference"], ...] = ("native", "reference")
    for writer in writers:
        with AuditStore(tmp_path / f"{writer}.db", writer=writer) as store:
            store.append("agent/A", "test.step", expected_revision=NO_STREAM)
            with pytest.raises(
                WrongExpectedRevisionError, match="expected revision -1, but the stream is at 0"
            ):
                store.append("agent/A", "test.step", expected_revision=NO_STREAM)
            with pytest.raises(
                InvalidEventError, match=r"^events\[0\]: \d+ bytes encoded, the limit is 1048576$"
            ):
                store.append("agent/A", "test.step", {"x": "y" * (1 << 20)})
            with pytest.raises(
                InvalidEventError, match=r"^events\[0\]\.payload\.x: bytes is not a JSON value$"
            ):
                store.append("agent/A", "test.step", {"x": b"raw"})
            assert len(store) == 1


def test_native_paths_are_used_here(tmp_path: Path) -> None:
    # CI must exercise the native paths: the library is linked to the same libsqlite3.
    assert sqlite_link.native_sqlite_is_shared()
    with AuditStore(tmp_path / "a.db") as store:
        assert store.writer == "native"


def test_a_second_sqlite_copy_forces_the_reference_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sentinel.audit.store.native_sqlite_is_shared", lambda: False)
    with AuditStore(tmp_path / "a.db") as store:
        assert store.writer == "reference"
        store.append("agent/A", "test.step")
    with pytest.raises(AuditError, match="same SQLite library"):
        AuditStore(tmp_path / "b.db", writer="native")


def _native_writer(path: Path) -> _native.LogWriter:
    with AuditStore(path, node="n", writer="reference", witness=False):
        pass  # creates the schema; only writers create stores
    return _native.LogWriter(str(path), "n", MAX_EVENT_BYTES)


def _stored(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def test_the_native_commit_hands_back_what_build_made_once_durable(tmp_path: Path) -> None:
    """``build`` runs while the COMMIT waits for the disk; its result (or its error) comes
    back only after that COMMIT, whose rows every other connection then sees. A second
    call meanwhile is refused, not waited for (it would hold the GIL the first needs)."""
    if not sqlite_link.native_sqlite_is_shared():
        pytest.skip("the native writer is off: two copies of SQLite in this process")
    path = tmp_path / "overlap.db"
    writer = _native_writer(path)
    record = ("agent/A", "test.step", b"{}", None, None, None, None)
    seen: list[int] = []

    def build(raw: list[Any]) -> str:
        seen.append(len(raw[0][0]))  # the positions column of the only request
        return "built"

    assert writer.commit_group([([record, record], [])], 0, None, build) == "built"
    assert seen == [2] and _stored(path) == 2

    def broken(raw: list[Any]) -> str:
        raise ValueError("build failed")

    with pytest.raises(ValueError, match="build failed"):
        writer.commit_group([([record], [])], 0, None, broken)
    assert _stored(path) == 3  # committed all the same: the error is the caller's to report
    assert writer.commit_group([([record], [])], 0) is not None  # no build: the raw outcomes
    assert _stored(path) == 4

    def reentrant(raw: list[Any]) -> object:
        return writer.commit_group([([record], [])], 0)  # refused, never waited for

    with pytest.raises(RuntimeError, match="already committing a group"):
        writer.commit_group([([record], [])], 0, None, reentrant)
    assert _stored(path) == 5
    assert verify_store(path, witness=False).ok
