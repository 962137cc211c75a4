"""The store's contract: durable appends, idempotency, expected revisions, atomic batches,
clear errors that lose nothing, reads and subscriptions."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sentinel.audit import NO_STREAM, AuditStore, NewEvent, verify_store
from sentinel.audit.event_types import SandboxViolation
from sentinel.audit.store import MAX_EVENT_BYTES
from sentinel.errors import (
    CheckpointError,
    InvalidEventError,
    StoreClosedError,
    StoreCorruptError,
    WrongExpectedRevisionError,
)
from tests.audit.conftest import fill


def test_append_assigns_positions_revisions_and_links(store: AuditStore) -> None:
    first = store.append("agent/A", "test.step", {"n": 1})
    second = store.append("agent/B", "test.step", {"n": 2})
    third = store.append("agent/A", "test.step", {"n": 3})
    assert [e.position for e in (first, second, third)] == [0, 1, 2]
    assert [e.stream_rev for e in (first, second, third)] == [0, 0, 1]
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert first.lamport < second.lamport < third.lamport
    assert store.get(second.event_id) == second
    assert store.at(2) == third
    assert store.head() == (3, third.hash)


def test_event_ids_are_uuid7_in_order(store: AuditStore) -> None:
    fill(store, 50)
    ids = [event.event_id for event in store.read()]
    assert len(ids) == 50
    assert ids == sorted(ids)
    assert all(event_id[14] == "7" for event_id in ids)


def test_idempotent_append_returns_the_original(store: AuditStore) -> None:
    original = store.append("agent/A", "test.step", {"n": 1}, idempotency_key="req-1")
    again = store.append("agent/A", "test.step", {"n": 999}, idempotency_key="req-1")
    assert again == original
    assert len(store) == 1
    batch = store.append_batch(
        [NewEvent("agent/A", "test.step", {}, idempotency_key="req-2"),
         NewEvent("agent/A", "test.step", {}, idempotency_key="req-2"),
         NewEvent("agent/A", "test.step", {}, idempotency_key="req-1")]
    )  # fmt: skip
    assert batch[0] == batch[1]
    assert batch[2] == original
    assert len(store) == 2


def test_expected_revision(store: AuditStore) -> None:
    store.append("agent/A", "test.step", expected_revision=NO_STREAM)
    with pytest.raises(
        WrongExpectedRevisionError, match="expected revision -1, but the stream is at 0"
    ):
        store.append("agent/A", "test.step", expected_revision=NO_STREAM)
    store.append("agent/A", "test.step", expected_revision=0)
    with pytest.raises(WrongExpectedRevisionError) as caught:
        store.append("agent/A", "test.step", expected_revision=0)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    assert store.stream_revision("agent/A") == 1
    assert store.stream_revision("agent/none") == NO_STREAM
    assert len(store) == 2


def test_batches_are_atomic(store: AuditStore) -> None:
    fill(store, 3)
    before = list(store.read())
    with pytest.raises(
        InvalidEventError, match=r"^events\[2\]\.payload\.x: bytes is not a JSON value$"
    ):
        store.append_batch([NewEvent("agent/A", "test.step"), NewEvent("agent/A", "test.step"),
                            NewEvent("agent/A", "test.step", {"x": b"raw"})])  # fmt: skip
    with pytest.raises(WrongExpectedRevisionError):
        store.append_batch(
            [NewEvent("agent/A-0", "test.step")] * 3, expected_revisions={"agent/A-0": 7}
        )
    assert list(store.read()) == before
    assert verify_store(store.path).ok


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (NewEvent("", "test.step"), r"events\[0\]\.stream: '' is not a stream name"),
        (NewEvent("agent A", "test.step"), r"events\[0\]\.stream"),
        (NewEvent("agent/A", "Bad-Type"), r"events\[0\]\.type: 'Bad-Type' is not an event type"),
        (
            NewEvent("agent/A", "test.step", payload=[1, 2]),  # type: ignore[arg-type]
            r"events\[0\]\.payload: expected a mapping",
        ),
        (NewEvent("agent/A", "test.step", tick=-1), r"events\[0\]\.tick"),
        (NewEvent("agent/A", "test.step", idempotency_key=""), r"events\[0\]\.idempotency_key"),
        (
            NewEvent("agent/A", "sandbox.violation", {"agent_id": "A"}),
            r"events\[0\]\.payload\.layer: Field required",
        ),
        (NewEvent("agent/A", "test.step", {"n": float("nan")}), r"events\[0\]\.payload\.n: NaN"),
        (
            NewEvent("agent/A", "test.step", {"blob": "x" * MAX_EVENT_BYTES}),
            r"events\[0\]: \d+ bytes encoded, the limit",
        ),
    ],
)
def test_bad_events_get_clear_errors_and_lose_nothing(
    store: AuditStore, event: NewEvent, message: str
) -> None:
    fill(store, 5)
    size, head = store.head()
    with pytest.raises(InvalidEventError, match=message):
        store.append_batch([event])
    assert store.head() == (size, head)
    assert store.append("agent/A", "test.step").position == size
    assert verify_store(store.path).ok


def test_typed_payloads_round_trip(store: AuditStore) -> None:
    violation = SandboxViolation(
        agent_id="A-7", layer="seccomp", attempt="ptrace(PTRACE_ATTACH, 1)"
    )
    [event] = store.append_batch([NewEvent.of(violation, stream="agent/A-7")])
    assert event.type == "sandbox.violation"
    assert store.get(event.event_id).typed_payload() == violation  # type: ignore[union-attr]
    unknown = store.append("agent/A-7", "future.kind", {"anything": [1, {"goes": None}]})
    assert store.get(unknown.event_id).typed_payload() == {"anything": [1, {"goes": None}]}  # type: ignore[union-attr]
    assert verify_store(store.path).ok


def test_reads_filter_by_stream_type_correlation_and_range(store: AuditStore) -> None:
    fill(store, 30)
    store.append("gateway", "gateway.note", {"x": 1}, correlation_id="req-9")
    assert [e.position for e in store.read(stream="agent/A-1")] == list(range(1, 30, 3))
    assert [e.position for e in store.read(type="gateway.note")] == [30]
    assert [e.position for e in store.read(correlation_id="req-9")] == [30]
    assert [e.position for e in store.read(start=5, end=9)] == [5, 6, 7, 8]
    assert [e.position for e in store.read(start=10, limit=3)] == [10, 11, 12]


def test_reads_cross_batch_boundaries(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sentinel.audit.store.READ_BATCH", 7)
    with AuditStore(store_path) as opened:
        fill(opened, 40)
        assert [e.position for e in opened.read()] == list(range(40))
        assert [e.position for e in opened.read(stream="agent/A-0", limit=9)] == list(
            range(0, 27, 3)
        )


def test_append_only_triggers_refuse_updates_and_deletes(store: AuditStore) -> None:
    fill(store, 12)
    store.checkpoint()
    conn = sqlite3.connect(store.path)
    for statement in ("UPDATE events SET type = 'x' WHERE position = 1", "DELETE FROM events WHERE position = 2",
                      "DELETE FROM checkpoints", "UPDATE keys SET vkey = 'x'"):  # fmt: skip
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    conn.close()


def test_reopen_continues_the_chain_and_clock(store_path: Path) -> None:
    with AuditStore(store_path) as first:
        fill(first, 5)
        last = first.at(4)
    with AuditStore(store_path) as second:
        event = second.append("agent/A", "test.step")
        assert event.position == 5
        assert last is not None and event.prev_hash == last.hash
        assert event.lamport > last.lamport
    assert verify_store(store_path).ok


def test_close_signs_a_final_checkpoint(store_path: Path) -> None:
    with AuditStore(store_path, checkpoint_every=1000, checkpoint_interval_ms=60_000) as opened:
        fill(opened, 7)
        assert opened.latest_checkpoint() is None
    with AuditStore(store_path) as reopened:
        latest = reopened.latest_checkpoint()
        assert latest is not None and latest.checkpoint.size == 7


def test_closed_store_refuses_appends(store: AuditStore) -> None:
    store.close()
    with pytest.raises(StoreClosedError):
        store.append("agent/A", "test.step")


def test_corrupt_or_foreign_files_are_refused_by_name(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreCorruptError, match=r"garbage\.db"):
        AuditStore(garbage)
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(StoreCorruptError, match="not a Sentinel audit store"):
        AuditStore(foreign)
    with pytest.raises(StoreCorruptError, match=r"garbage\.db"):
        verify_store(garbage)


def test_missing_signing_key_is_refused_with_the_fix(store_path: Path) -> None:
    with AuditStore(store_path) as opened:
        fill(opened, 2)
        key_path = opened.signing_key_path
    assert key_path.parent != store_path.parent  # keys are not kept beside the store
    assert key_path.stat().st_mode & 0o777 == 0o600
    key_path.unlink()
    with pytest.raises(CheckpointError, match="rotate-key"):
        AuditStore(store_path)


def test_key_rotation_cosigns_and_verifies(store_path: Path) -> None:
    with AuditStore(store_path, checkpoint_every=5) as opened:
        fill(opened, 12)
        old = opened.verifier_key
        new = opened.rotate_key()
        fill(opened, 12)
        opened.checkpoint()
        fill(opened, 12)
        opened.checkpoint()
        rotation = [c for c in opened.checkpoints() if len(c.signatures) == 2]
        assert len(rotation) == 1
        assert old.verifies(rotation[0]) and new.verifies(rotation[0])
        assert {str(k) for k in opened.verifier_keys()} == {str(old), str(new)}
        key_path = opened.signing_key_path
    assert verify_store(store_path, trusted_keys=[old, new]).ok
    # Trust follows the double-signed handover: the old key alone is enough.
    assert verify_store(store_path, trusted_keys=[old]).ok
    retired = list(key_path.parent.glob(f"{key_path.name}.retired-*"))
    assert len(retired) == 1


def test_subscription_catches_up_then_goes_live(store: AuditStore) -> None:
    fill(store, 5)

    async def consume() -> list[int]:
        seen = []
        async for event in store.subscribe(start=2):
            seen.append(event.position)
            if event.position == 4:
                await store.append_async([NewEvent("agent/A", "test.step")])
            if len(seen) == 4:
                break
        return seen

    assert asyncio.run(consume()) == [2, 3, 4, 5]


def test_async_append_with_concurrent_tasks(store: AuditStore) -> None:
    async def writers() -> list[int]:
        results = await asyncio.gather(
            *(
                store.append_async([NewEvent(f"agent/A-{i}", "test.step", {"i": i})])
                for i in range(50)
            )
        )
        return sorted(event.position for batch in results for event in batch)

    assert asyncio.run(writers()) == list(range(50))
    assert verify_store(store.path).ok


def test_observe_merges_remote_lamport_clocks(store: AuditStore) -> None:
    store.append("agent/A", "test.step")
    store.observe(1000)
    assert store.append("agent/A", "test.step").lamport == 1001
