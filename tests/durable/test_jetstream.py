"""Audit events replicated to a real 3-node JetStream cluster (R3), mirrored back, verified."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import nats
import pytest
from typer.testing import CliRunner

from sentinel.audit import AuditStore, verify_store
from sentinel.cli.application import app
from sentinel.durable.cluster import NatsCluster
from sentinel.durable.event_batch import encode_batch
from sentinel.durable.replicate import mirror, replicate, stream_name
from sentinel.errors import DurableError


@pytest.fixture(scope="module")
def cluster() -> object:
    with NatsCluster() as running:
        yield running


def _store(path: Path, events: int) -> str:
    with AuditStore(
        path, signing_key_path=path.with_suffix(".key"), witness=False, checkpoint_every=50
    ) as store:
        for i in range(events):
            store.append(f"agent/A-{i % 7}", "runtime.note", {"i": i})
        store.checkpoint()
        return str(store.meta()["log_id"])


def test_replicated_then_mirrored_store_verifies(cluster: NatsCluster, tmp_path: Path) -> None:
    log_id = _store(tmp_path / "run.db", 300)
    assert asyncio.run(replicate(tmp_path / "run.db", cluster.urls)) == 300
    assert asyncio.run(replicate(tmp_path / "run.db", cluster.urls)) == 300  # replay: de-duplicated
    count = asyncio.run(mirror(log_id, cluster.urls, tmp_path / "mirror.db"))
    assert count == 300  # exactly once, not 600
    report = verify_store(tmp_path / "mirror.db", witness=False)
    assert report.ok, report.problems
    assert report.size == 300 and report.checkpoints_checked >= 1


def test_acknowledged_events_survive_a_sigkilled_node(cluster: NatsCluster, tmp_path: Path) -> None:
    log_id = _store(tmp_path / "run.db", 200)
    killed: list[int] = []

    def kill_midway(acked: int) -> None:  # after the first acknowledged message, ten in flight
        if not killed:
            cluster.kill(1)
            killed.append(acked)

    try:
        acked = asyncio.run(
            replicate(
                tmp_path / "run.db", cluster.urls, events_per_message=20, on_acked=kill_midway
            )
        )
        assert killed == [20] and acked == 200
        assert asyncio.run(mirror(log_id, cluster.urls, tmp_path / "mirror.db")) == 200
        assert verify_store(tmp_path / "mirror.db", witness=False).ok
    finally:
        cluster.start(1)


class _CrashError(Exception):
    """The replicating process dies (raised from the acknowledgment callback)."""


def test_a_replication_redone_after_a_crash_stores_each_message_once(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    log_id = _store(tmp_path / "run.db", 200)

    def crash(acked: int) -> None:
        if acked >= 60:
            raise _CrashError

    with pytest.raises(_CrashError):
        asyncio.run(
            replicate(tmp_path / "run.db", cluster.urls, events_per_message=20, on_acked=crash)
        )
    assert asyncio.run(replicate(tmp_path / "run.db", cluster.urls, events_per_message=20)) == 200
    checkpoints = (
        sqlite3.connect(tmp_path / "run.db")
        .execute("SELECT COUNT(*) FROM checkpoints")
        .fetchone()[0]
    )

    async def stored_messages() -> int:
        nc = await nats.connect(cluster.urls)
        try:
            info = await nc.jetstream().stream_info(stream_name(log_id))
            return int(info.state.messages)
        finally:
            await nc.close()

    # identity + 10 event messages + the notes: the messages sent before the crash and
    # again after it are JetStream duplicates (same Nats-Msg-Id), stored once
    assert asyncio.run(stored_messages()) == 1 + 10 + checkpoints
    assert asyncio.run(mirror(log_id, cluster.urls, tmp_path / "mirror.db")) == 200
    assert verify_store(tmp_path / "mirror.db", witness=False).ok


def test_overlapping_batches_mirror_once_in_position_order(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    log_id = _store(tmp_path / "run.db", 100)
    # Different cuts (7 and 5 events a message, one in flight, then 30 at once) overlap:
    # the stream holds most events twice, in two different message orders.
    assert asyncio.run(replicate(tmp_path / "run.db", cluster.urls, events_per_message=7)) == 100
    assert (
        asyncio.run(replicate(tmp_path / "run.db", cluster.urls, events_per_message=5, window=30))
        == 100
    )
    assert asyncio.run(mirror(log_id, cluster.urls, tmp_path / "mirror.db")) == 100
    report = verify_store(tmp_path / "mirror.db", witness=False)
    assert report.ok, report.problems


def test_an_event_at_the_audit_size_limit_travels_alone(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    path = tmp_path / "run.db"
    with AuditStore(path, signing_key_path=path.with_suffix(".key"), witness=False) as store:
        store.append("agent/A-0", "runtime.note", {"i": 0})
        store.append("agent/A-0", "runtime.note", {"text": "x" * 1_040_000})  # ~1 MiB limit
        store.append("agent/A-0", "runtime.note", {"i": 2})
        store.checkpoint()
        log_id = str(store.meta()["log_id"])
    assert asyncio.run(replicate(path, cluster.urls)) == 3
    assert asyncio.run(mirror(log_id, cluster.urls, tmp_path / "mirror.db")) == 3
    assert verify_store(tmp_path / "mirror.db", witness=False).ok


def test_a_stream_missing_events_is_not_mirrored(cluster: NatsCluster, tmp_path: Path) -> None:
    log_id = _store(tmp_path / "run.db", 30)
    asyncio.run(replicate(tmp_path / "run.db", cluster.urls, start=10))  # 0..9 never published
    with pytest.raises(DurableError, match="events missing from position 0"):
        asyncio.run(mirror(log_id, cluster.urls, tmp_path / "mirror.db"))


def test_streams_of_one_event_per_message_still_mirror(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    """Streams written before batching: ``.event``, prev and hash in headers."""
    log_id = _store(tmp_path / "run.db", 12)
    asyncio.run(replicate(tmp_path / "run.db", cluster.urls, start=12))  # identity, notes
    rows = sqlite3.connect(tmp_path / "run.db").execute(
        "SELECT event_id, prev_hash, hash, canonical FROM events ORDER BY position"
    )

    async def publish_one_by_one() -> None:
        nc = await nats.connect(cluster.urls)
        try:
            js = nc.jetstream()
            for event_id, prev_hash, hash_, canonical in rows:
                headers = {"Nats-Msg-Id": event_id, "prev": prev_hash.hex(), "hash": hash_.hex()}
                await js.publish(f"sentinel.{log_id}.event", canonical, headers=headers)
        finally:
            await nc.close()

    asyncio.run(publish_one_by_one())
    assert asyncio.run(mirror(log_id, cluster.urls, tmp_path / "mirror.db")) == 12
    assert verify_store(tmp_path / "mirror.db", witness=False).ok


async def _publish_raw(urls: list[str], subject: str, body: bytes, message_id: str) -> None:
    nc = await nats.connect(urls)
    try:
        await nc.jetstream().publish(subject, body, headers={"Nats-Msg-Id": message_id})
    finally:
        await nc.close()


@pytest.mark.parametrize(
    ("canonical", "error"),
    [
        (b"not json", "not an audit event document"),
        (b'{"position": 0}', "not an audit event document"),
        (None, "a different event at position 0"),
    ],
)
def test_a_damaged_stream_is_refused_naming_the_message(
    cluster: NatsCluster, tmp_path: Path, canonical: bytes | None, error: str
) -> None:
    log_id = _store(tmp_path / "run.db", 5)
    asyncio.run(replicate(tmp_path / "run.db", cluster.urls))
    prev_hash, hash_, stored = (
        sqlite3.connect(tmp_path / "run.db")
        .execute("SELECT prev_hash, hash, canonical FROM events WHERE position = 0")
        .fetchone()
    )
    forged = stored.replace(b'"i":0', b'"i":1') if canonical is None else canonical
    body = encode_batch([(prev_hash, hash_, forged)])
    asyncio.run(_publish_raw(cluster.urls, f"sentinel.{log_id}.events", body, "forged"))
    with pytest.raises(DurableError, match=rf"stream of log {log_id}, message \d+: {error}"):
        asyncio.run(mirror(log_id, cluster.urls, tmp_path / "mirror.db"))


def test_bad_batching_knobs_are_refused(tmp_path: Path) -> None:
    _store(tmp_path / "run.db", 1)
    with pytest.raises(DurableError, match="events_per_message"):
        asyncio.run(replicate(tmp_path / "run.db", ["nats://127.0.0.1:1"], events_per_message=0))


def test_audit_mirror_command_rebuilds_a_verified_store(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    log_id = _store(tmp_path / "run.db", 20)
    runner = CliRunner()
    urls = [arg for url in cluster.urls for arg in ("--nats", url)]
    done = runner.invoke(app, ["audit", "replicate", "--store", str(tmp_path / "run.db"), *urls])
    assert done.exit_code == 0, done.output
    assert "20 events acknowledged" in done.output
    mirrored = runner.invoke(
        app, ["audit", "mirror", log_id, "--out", str(tmp_path / "m.db"), *urls]
    )
    assert mirrored.exit_code == 0, mirrored.output
    assert "20 events mirrored" in mirrored.output and "verified" in mirrored.output
    again = runner.invoke(app, ["audit", "mirror", log_id, "--out", str(tmp_path / "m.db"), *urls])
    assert again.exit_code == 2 and "exists" in again.output
