"""The native write path (``sentinel._native.LogWriter``) pinned to the Python reference:
the same requests give the same logs, the same answers and the same refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.audit import NO_STREAM, AuditStore, NewEvent, sqlite_link, verify_store
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
