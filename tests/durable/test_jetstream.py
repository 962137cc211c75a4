"""Audit events replicated to a real 3-node JetStream cluster (R3), mirrored back, verified."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel.audit import AuditStore, verify_store
from sentinel.cli.application import app
from sentinel.durable.cluster import NatsCluster
from sentinel.durable.replicate import mirror, replicate


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

    async def kill_midway() -> int:
        task = asyncio.create_task(replicate(tmp_path / "run.db", cluster.urls))
        await asyncio.sleep(0.05)
        cluster.kill(1)
        return await task

    try:
        assert asyncio.run(kill_midway()) == 200
        assert asyncio.run(mirror(log_id, cluster.urls, tmp_path / "mirror.db")) == 200
        assert verify_store(tmp_path / "mirror.db", witness=False).ok
    finally:
        cluster.start(1)


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
