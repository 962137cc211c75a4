"""The live bus: real Zenoh sessions on loopback, a real audit store, the CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sentinel.audit import AuditStore
from sentinel.bus import BusPublisher, BusSubscriber, key_for_event
from sentinel.bus.run_hook import open_run_bus
from sentinel.errors import BusError
from tests.bus.loopback import free_endpoint, wait_until


def _store(tmp_path: Path) -> AuditStore:
    return AuditStore(tmp_path / "run.db", signing_key_path=tmp_path / "key", witness=False)


@pytest.mark.parametrize(
    ("type_", "stream", "payload", "suffix"),
    [
        ("agent.lifecycle", "agent/A-1", {"agent_id": "A-1"}, "agent/A-1/state"),
        ("world.action", "agent/A-1", {"agent_id": "A-1"}, "agent/A-1/state"),
        ("agent.state", "agent", {"tick": 60, "agents": []}, "agent/_all/state"),
        ("gateway.decision", "gateway", {"agent_id": "A-2"}, "gateway/A-2/decision"),
        ("sandbox.violation", "agent/A-3", {"agent_id": "A-3"}, "sandbox/A-3/event"),
        ("control.decision", "control", {"target": "A-4"}, "control/A-4/decision"),
        ("world.snapshot", "world", {}, "world/snapshot"),
        ("runtime.decision", "runtime", {"agent_id": "A-5"}, "runtime/runtime.decision"),
        ("sandbox.executed", "agent/a*b", {"agent_id": "x/y*z"}, "sandbox/x_y_z/event"),
        ("probe.activity", "probes", {"agent_id": "A-6"}, "probe/A-6/activity"),
        ("probe.summary", "probes", {"agents": {}}, "probe/summary"),
    ],
)  # fmt: skip
def test_every_event_type_has_one_key_without_wildcards(
    type_: str, stream: str, payload: dict[str, str], suffix: str
) -> None:
    assert key_for_event("run-1", type_, stream, payload) == f"sentinel/run-1/{suffix}"


def test_committed_events_reach_a_subscriber_in_shared_memory(tmp_path: Path) -> None:
    endpoint = free_endpoint()
    with _store(tmp_path) as store:
        live = open_run_bus(endpoint, store)
        assert live is not None
        run = store.meta()["log_id"]
        try:
            with BusSubscriber(f"sentinel/{run}/sandbox/**", connect=[endpoint]) as sub:
                wait_until(lambda: live.publisher.listening("sandbox"))
                stored = store.append(
                    "agent/A-1", "sandbox.violation",
                    {"agent_id": "A-1", "layer": "seccomp", "attempt": "ptrace"},
                )  # fmt: skip
                store.append("runtime", "runtime.note", {"x": 1})  # another family: not sent
                sample = sub.get(timeout=5)
                assert sample is not None
                assert sample.key == f"sentinel/{run}/sandbox/A-1/event"
                assert sample.document["event_id"] == stored.event_id
                assert sample.document["payload"]["attempt"] == "ptrace"
                assert sample.shared_memory  # same host: read in place
                assert sub.get(timeout=0.3) is None
        finally:
            live.close()


def test_nothing_is_encoded_when_nobody_listens(tmp_path: Path) -> None:
    endpoint = free_endpoint()
    with _store(tmp_path) as store:
        live = open_run_bus(endpoint, store)
        assert live is not None
        try:
            for _ in range(50):
                store.append(
                    "agent/A-1", "agent.lifecycle", {"agent_id": "A-1", "change": "spawned"}
                )
            live.publisher.publish_tick(1, {"on_duty": 0})
            assert live.publisher.sent == 0
        finally:
            live.close()


def test_a_bus_that_cannot_open_leaves_the_run_without_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        endpoint = f"tcp/127.0.0.1:{taken.getsockname()[1]}"
        with _store(tmp_path) as store:
            assert open_run_bus(endpoint, store) is None
            store.append("runtime", "runtime.note", {})  # the store works on
    assert "without its live bus" in caplog.text
    with pytest.raises(BusError, match="cannot open"):
        BusPublisher("r", listen=["nonsense/endpoint"])


def test_bus_tail_prints_samples_as_json_lines() -> None:
    endpoint = free_endpoint()
    with BusPublisher("tailrun", listen=[endpoint]) as publisher:
        tail = subprocess.Popen(
            [str(Path(sys.executable).with_name("sentinel-run")), "bus", "tail", "sentinel/tailrun/world/**",
             "--connect", endpoint, "--count", "1", "--timeout", "20"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            wait_until(lambda: publisher.listening("world"), 15)
            publisher.publish_tick(7, {"on_duty": 3})
            out, _ = tail.communicate(timeout=20)
        finally:
            tail.kill()
    assert tail.returncode == 0
    assert '"key":"sentinel/tailrun/world/tick"' in out
    assert '"tick":7' in out
