"""The agent probe on the real kernel: what it sees of sandboxed commands, and what not.

These fail, never skip, when the host cannot load the probe (CI runs them as root on a
kernel with BTF). Each observation has its control: a refusal is reported only where the
seccomp layer refused (the same call without that layer succeeds and is not reported), and
processes outside watched groups are not reported at all.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sentinel.audit import AuditStore, verify_store
from sentinel.probes import PROBE_STREAM, ProbeRecorder, ProbeSession
from sentinel.probes.session import agent_of_group, leased_groups
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once
from tests.probes.cgroup_root import v2_root

pytestmark = pytest.mark.host

POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)
NO_QUOTA = POLICY.model_copy(
    update={"resources": POLICY.resources.model_copy(update={"disk_mb": 0})}
)
UNSHARE_USERNS = (
    "import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); "
    "sys.exit(0 if libc.unshare(0x10000000) == 0 else 10 + ctypes.get_errno())"
)
"""unshare(CLONE_NEWUSER): exit 0 when it worked, 10 + errno when refused."""
SYS_TGKILL = {"x86_64": 234, "aarch64": 131}[platform.machine()]
"""tgkill(2): a signal to one thread (Python's os module has no call for it)."""
WAIT_S = 10.0
"""How long a test waits for the ring buffer's records (a poll reads the ring itself: at once)."""


@pytest.fixture(scope="module")
def probe() -> Iterator[ProbeSession]:
    session = ProbeSession()
    try:
        yield session
    finally:
        session.close()


def unique_agent() -> str:
    return f"probe-{uuid.uuid4().hex[:8]}"


def collect(
    probe: ProbeSession, agent: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The agent's records, polled until ``done`` holds (or the wait ends)."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found += [r.detail() for r in probe.poll() if probe.agent(r.slot) == agent]
        if done(found):
            break
        time.sleep(0.05)
    return found


def test_a_sandboxed_command_is_seen_from_exec_to_exit(
    probe: ProbeSession, workspace: Path
) -> None:
    agent = unique_agent()
    argv = ["sh", "-c", "echo hello > note.txt; /bin/true; exit 3"]
    result = run_once(POLICY, argv, workspace=workspace, agent_id=agent)
    assert result.exit_code == 3, result.stderr
    seen = collect(probe, agent, lambda r: any(d.get("exit_code") == 3 for d in r))
    kinds = {d["kind"] for d in seen}
    assert {"exec", "open_write", "exit"} <= kinds, seen
    assert any(d["kind"] == "exec" and d["path"].endswith("/true") for d in seen)
    assert any(d["kind"] == "open_write" and (d["path"] or "").endswith("note.txt") for d in seen)
    assert any(d["kind"] == "exit" and d.get("exit_code") == 3 for d in seen)
    totals = probe.totals()[agent]
    assert totals.write_bytes >= len("hello\n") and totals.execs >= 2


def test_a_refused_syscall_is_reported_and_the_same_call_allowed_is_not(
    probe: ProbeSession, workspace: Path, sandbox_base: Path
) -> None:
    refused_agent = unique_agent()
    refused = run_once(
        NO_QUOTA, ["python3", "-c", UNSHARE_USERNS], workspace=workspace, agent_id=refused_agent
    )
    assert refused.exit_code == 10 + 1, refused.stderr  # EPERM from the seccomp layer
    seen = collect(probe, refused_agent, lambda r: any(d["kind"] == "exit" for d in r))
    refusals = [d for d in seen if d["kind"] == "refused" and d["syscall"] == "unshare"]
    assert refusals and refusals[0]["errno"] == "EPERM", seen

    # The control: the same call in a group without the seccomp layer succeeds, and the
    # probe, watching it all the same, reports no refusal for it.
    allowed_agent = unique_agent()
    control_ws = sandbox_base / "control"
    allowed = run_once(
        NO_QUOTA,
        ["python3", "-c", UNSHARE_USERNS],
        workspace=control_ws,
        agent_id=allowed_agent,
        layers=["cgroups"],
    )
    assert allowed.exit_code == 0, allowed.stderr
    seen = collect(probe, allowed_agent, lambda r: any(d["kind"] == "exit" for d in r))
    assert any(d["kind"] == "exec" for d in seen), "the control group was not watched"
    assert not [d for d in seen if d["kind"] == "refused" and d["syscall"] == "unshare"]


def test_a_connection_attempt_is_reported_with_its_address(
    probe: ProbeSession, workspace: Path
) -> None:
    agent = unique_agent()
    code = (
        "import socket; s = socket.socket(); s.settimeout(1)\n"
        "try: s.connect(('127.0.0.1', 9))\nexcept OSError: pass"
    )
    result = run_once(NO_QUOTA, ["python3", "-c", code], workspace=workspace, agent_id=agent)
    assert result.exit_code == 0, result.stderr
    seen = collect(probe, agent, lambda r: any(d["kind"] == "connect" for d in r))
    assert {"kind": "connect", "family": "inet", "address": "127.0.0.1", "port": 9} in [
        {k: v for k, v in d.items() if k != "pid"} for d in seen
    ]


def test_processes_outside_watched_groups_are_filtered_out_in_the_kernel(
    probe: ProbeSession, tmp_path: Path
) -> None:
    probe.poll()
    outside = subprocess.run(["sh", "-c", f"echo x > {tmp_path}/x; exit 5"], check=False)
    assert outside.returncode == 5
    time.sleep(0.3)
    assert not [r for r in probe.poll() if r.kind.name == "EXIT" and r.value == 5 << 8]
    group = v2_root() / f"sentinel-{unique_agent()}-0000abcd"
    group.mkdir()
    try:
        probe.watch(agent_of_group(group.name), group)
        # -e: a join the kernel refuses fails here, by name, not later as "nothing seen".
        join = f'echo $$ > {group}/cgroup.procs; exec sh -c "exit $0"'  # $0: the status
        joined = subprocess.run(
            ["sh", "-ec", join, "6"], check=False, capture_output=True, text=True
        )
        assert joined.returncode == 6, joined.stderr
        seen = collect(probe, agent_of_group(group.name), lambda r: any(
            d.get("exit_code") == 6 for d in r))  # fmt: skip
        assert any(d.get("exit_code") == 6 for d in seen)
        probe.unwatch(group)
        again = subprocess.run(
            ["sh", "-ec", join, "7"], check=False, capture_output=True, text=True
        )
        assert again.returncode == 7, again.stderr
        time.sleep(0.3)
        assert not [r for r in probe.poll() if r.kind.name == "EXIT" and r.value == 7 << 8]
    finally:
        group.rmdir()


def test_a_group_watched_twice_unwatched_and_watched_again_is_seen_each_time_only_watched(
    probe: ProbeSession,
) -> None:
    """The kernel's filter in front of the group map (a count per bucket of cgroup ids)
    never hides a watched group, through a repeated watch, an unwatch and a watch again;
    the group map alone decides what is reported, so the unwatched group stays unseen."""
    group = v2_root() / f"sentinel-{unique_agent()}-0000abce"
    agent = agent_of_group(group.name)
    join = f'echo $$ > {group}/cgroup.procs; exec sh -c "exit $0"'  # $0: the status

    def exits(status: int) -> list[dict[str, Any]]:
        ran = subprocess.run(["sh", "-ec", join, str(status)], check=False, capture_output=True)
        assert ran.returncode == status, ran.stderr
        return collect(probe, agent, lambda r: any(d.get("exit_code") == status for d in r))

    group.mkdir()
    try:
        probe.poll()
        probe.watch(agent, group)
        probe.watch(agent, group)
        assert any(d.get("exit_code") == 11 for d in exits(11))
        probe.unwatch(group)
        probe.poll()
        ran = subprocess.run(["sh", "-ec", join, "12"], check=False, capture_output=True)
        assert ran.returncode == 12, ran.stderr
        time.sleep(0.3)
        assert not [r for r in probe.poll() if r.kind.name == "EXIT" and r.value == 12 << 8]
        probe.watch(agent, group)
        assert any(d.get("exit_code") == 13 for d in exits(13))
    finally:
        probe.unwatch(group)
        group.rmdir()


def test_the_recorder_writes_verified_activity_and_a_summary(
    workspace: Path, tmp_path: Path
) -> None:
    store = AuditStore(tmp_path / "probes.db")
    recorder = ProbeRecorder(ProbeSession(), store, lambda: 42)
    agent = unique_agent()
    try:
        result = run_once(POLICY, ["sh", "-c", "echo 12345 > f"], workspace=workspace,
                          agent_id=agent)  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert agent not in leased_groups().values(), "the group should be gone with its sandbox"
    finally:
        totals = recorder.close()
    events = list(store.read(stream=PROBE_STREAM))
    store.close()
    activity = [e for e in events if e.type == "probe.activity" and e.payload["agent_id"] == agent]
    assert activity and all(e.payload["tick"] == 42 for e in activity)
    assert sum(e.payload["totals"]["write_bytes"] for e in activity) == totals[agent].write_bytes
    summary = [e for e in events if e.type == "probe.summary"]
    assert len(summary) == 1 and summary[0].payload["agents"][agent]["execs"] >= 1
    assert verify_store(tmp_path / "probes.db").ok


def test_signals_landing_on_the_polling_thread_do_not_stop_the_probe(
    workspace: Path,
) -> None:
    # A signal the process handles interrupts whichever thread the kernel delivers it to;
    # each thread of this process gets one, the probe's polling thread included.
    session = ProbeSession()
    previous = signal.signal(signal.SIGUSR1, lambda *_: None)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        time.sleep(0.2)  # the polling thread waits in epoll by now
        for task in Path("/proc/self/task").iterdir():
            libc.syscall(SYS_TGKILL, os.getpid(), int(task.name), signal.SIGUSR1)
        time.sleep(0.3)
        assert session.running(), "a handled signal stopped the probe's polling thread"
        agent = unique_agent()
        result = run_once(NO_QUOTA, ["sh", "-c", "exit 4"], workspace=workspace, agent_id=agent)
        assert result.exit_code == 4, result.stderr
        seen = collect(session, agent, lambda r: any(d.get("exit_code") == 4 for d in r))
        assert any(d.get("exit_code") == 4 for d in seen), seen
    finally:
        signal.signal(signal.SIGUSR1, previous)
        session.close()
