"""The real kernel probe feeding the platform plane and the live bus.

A real warm sandbox and the real probe: what a command does reaches the platform plane's
probe metrics; a frozen sandbox given a command is seen stalled; the recorder's batches,
committed to a real store, are published on a real Zenoh bus under ``probe/<agent>``.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.audit import AuditStore
from sentinel.bus import BusSubscriber
from sentinel.bus.run_hook import open_run_bus
from sentinel.control.platform_plane import PlatformObserver, Quarantine
from sentinel.control.sandbox_group import SandboxGroup
from sentinel.probes import ProbeRecorder, ProbeSession
from sentinel.sandbox.audit_events import events_for
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.warm import Sandbox
from tests.control.one_sandbox import OneSandbox

pytestmark = pytest.mark.host

POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)
WRITTEN = 300_000
"""Bytes the test's command writes (``head -c``)."""


@pytest.fixture
def probe() -> Iterator[ProbeSession]:
    session = ProbeSession()
    try:
        yield session
    finally:
        session.close()


def test_the_platform_plane_reads_a_real_sandbox_from_the_kernel(
    probe: ProbeSession, sandbox_base: Path
) -> None:
    agent = f"plat-{uuid.uuid4().hex[:8]}"
    with Sandbox(POLICY, agent, workspace=sandbox_base / "ws") as sandbox:
        assert sandbox.run(["true"]).exit_code == 0
        assert agent in probe.watched_agents()
        observer = PlatformObserver(OneSandbox(sandbox), Quarantine(), probes=probe)
        observer(0)
        argv = ["sh", "-c", f"head -c {WRITTEN} /dev/zero > out.bin; /bin/true"]
        result = sandbox.run(argv)
        assert result.exit_code == 0, result.stderr
        observer.feed(1, events_for(agent, argv, result, tick=1))
        seen = observer(60)
        assert (seen.value(agent, "probe_write_bytes") or 0) >= WRITTEN
        assert (seen.value(agent, "probe_execs") or 0) >= 3  # sh, head, true
        assert (seen.value(agent, "probe_write_opens") or 0) >= 1
        assert seen.value(agent, "probe_stalled") == 0
        # Frozen, the sandbox cannot start the command it is given: a stall.
        group = SandboxGroup.of_pid(sandbox.pid() or 0)
        assert group is not None
        group.freeze(True)
        try:
            frozen = sandbox.run(["/bin/true"], timeout=1.0)
        finally:
            group.freeze(False)
        observer.feed(2, events_for(agent, ["/bin/true"], frozen, tick=2))
        stalled = observer(120)
        assert stalled.value(agent, "probe_execs") == 0, frozen
        assert stalled.value(agent, "probe_stalled") == 1
    assert agent not in probe.watched_agents()  # its group is gone with the sandbox


def _endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"tcp/127.0.0.1:{sock.getsockname()[1]}"


def test_probe_batches_are_published_on_the_bus_as_committed(
    workspace: Path, tmp_path: Path
) -> None:
    endpoint = _endpoint()
    agent = f"bus-{uuid.uuid4().hex[:8]}"
    store = AuditStore(tmp_path / "run.db", signing_key_path=tmp_path / "key", witness=False)
    live = open_run_bus(endpoint, store)
    assert live is not None
    run = store.meta()["log_id"]
    try:
        with BusSubscriber(f"sentinel/{run}/probe/**", connect=[endpoint]) as sub:
            deadline = 50
            while not live.publisher.listening("probe") and deadline:
                sub.get(timeout=0.1)
                deadline -= 1
            assert live.publisher.listening("probe")
            recorder = ProbeRecorder(ProbeSession(), store, lambda: 9)
            try:
                argv = ["sh", "-c", f"head -c {WRITTEN} /dev/zero > f"]
                result = run_once(POLICY, argv, workspace=workspace, agent_id=agent)
                assert result.exit_code == 0, result.stderr
            finally:
                totals = recorder.close()
            samples = []
            while (sample := sub.get(timeout=2)) is not None:
                samples.append(sample)
                if sample.document["type"] == "probe.summary":
                    break
    finally:
        live.close()
        store.close()
    mine = [s for s in samples if s.key == f"sentinel/{run}/probe/{agent}/activity"]
    assert mine, [s.key for s in samples]
    assert all(s.document["type"] == "probe.activity" for s in mine)
    assert all(s.document["payload"]["tick"] == 9 for s in mine)
    assert sum(s.document["payload"]["totals"]["write_bytes"] for s in mine) == (
        totals[agent].write_bytes
    )
    assert totals[agent].write_bytes >= WRITTEN
    summary = [s for s in samples if s.key == f"sentinel/{run}/probe/summary"]
    assert len(summary) == 1 and summary[0].document["payload"]["agents"][agent]["execs"] >= 2
