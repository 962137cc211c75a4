"""The warm per-agent sandbox: many commands, one set of namespaces; limits per agent;
recovery when the supervisor dies; 26 agents at once; violations in the audit trail."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from sentinel.audit import AuditStore, verify_store
from sentinel.errors import SandboxError
from sentinel.sandbox.agent_uid import in_range
from sentinel.sandbox.audit_events import record
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.warm import Sandbox

pytestmark = pytest.mark.host

POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)


def test_many_commands_one_sandbox(sandbox_base: Path) -> None:
    with Sandbox(POLICY, "A-1", workspace=sandbox_base / "ws") as sandbox:
        first = sandbox.run(["sh", "-c", "echo $$ > pid; id -u; hostname"])
        assert first.stdout.split() == [str(sandbox.uid).encode(), b"sentinel-sandbox"]
        assert in_range(sandbox.uid)
        outer = sandbox.pid()
        for i in range(10):
            result = sandbox.run(["sh", "-c", f"echo {i} >> log; wc -l < log"])
            assert result.stdout.strip() == str(i + 1).encode()
        assert sandbox.pid() == outer and sandbox.starts == 1
        assert sandbox.run(["cat"], stdin=b"piped").stdout == b"piped"
        assert sandbox.run(["cat", "/etc/shadow"]).exit_code != 0


def test_layers_hold_in_the_warm_sandbox(sandbox_base: Path) -> None:
    with Sandbox(POLICY, "A-2", workspace=sandbox_base / "ws") as sandbox:
        write_outside = sandbox.run(["sh", "-c", "echo x > /usr/planted"])
        assert write_outside.exit_code != 0
        unshare = sandbox.run(
            ["python3", "-c", "import ctypes; print(ctypes.CDLL(None).unshare(0x10000000))"]
        )
        assert unshare.stdout.strip() == b"-1"
        assert (
            sandbox.run(["sh", "-c", "cp /usr/bin/true ./t && ./t"]).exit_code != 0
        )  # no exec in the workspace


def test_limits_are_per_agent_and_the_sandbox_recovers(sandbox_base: Path) -> None:
    with Sandbox(POLICY, "A-3", workspace=sandbox_base / "ws") as sandbox:
        bomb = sandbox.run(
            ["python3", "-c", "x = bytearray(400 << 20); x[::4096] = b'x' * len(x[::4096])"]
        )
        assert bomb.oom_killed and bomb.signal == 9
        assert sandbox.run(["echo", "still here"]).stdout == b"still here\n"
        forks = sandbox.run(["sh", "-c", "for i in $(seq 100); do sleep 0.3 & done; wait"])
        assert forks.pids_limited
        slow = sandbox.run(["sleep", "30"], timeout=0.3)
        assert slow.timed_out
        assert sandbox.run(["true"]).exit_code == 0


def test_closed_sandbox_refuses(sandbox_base: Path) -> None:
    sandbox = Sandbox(POLICY, "A-4", workspace=sandbox_base / "ws")
    sandbox.run(["true"])
    sandbox.close()
    with pytest.raises(SandboxError, match="closed"):
        sandbox.run(["true"])


def test_26_agents_run_commands_concurrently(sandbox_base: Path) -> None:
    sandboxes = [
        Sandbox(POLICY, f"agent-{n:02d}", workspace=sandbox_base / f"ws{n}") for n in range(26)
    ]
    failures: list[str] = []

    def work(sandbox: Sandbox, n: int) -> None:
        for i in range(5):
            result = sandbox.run(["sh", "-c", f"echo {n}-{i} > out; cat out"])
            if result.stdout != f"{n}-{i}\n".encode() or result.exit_code != 0:
                failures.append(f"{sandbox.agent_id}: {result}")

    threads = [threading.Thread(target=work, args=(s, n)) for n, s in enumerate(sandboxes)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for sandbox in sandboxes:
            sandbox.close()
    assert failures == []


def test_async_runs_interleave(sandbox_base: Path) -> None:
    async def both() -> list[bytes]:
        with (
            Sandbox(POLICY, "A-5", workspace=sandbox_base / "a") as a,
            Sandbox(POLICY, "A-6", workspace=sandbox_base / "b") as b,
        ):
            results = await asyncio.gather(
                a.run_async(["sh", "-c", "sleep 0.2; echo a"]), b.run_async(["echo", "b"])
            )
        return [r.stdout for r in results]

    assert asyncio.run(both()) == [b"a\n", b"b\n"]


def test_violations_are_audit_events(sandbox_base: Path, tmp_path: Path) -> None:
    with (
        AuditStore(tmp_path / "audit.db") as store,
        Sandbox(POLICY, "A-7", workspace=sandbox_base / "ws") as sandbox,
    ):
        argv = ["sh", "-c", "for i in $(seq 100); do sleep 0.3 & done; wait"]
        result = sandbox.run(argv)
        record(store, "A-7", argv, result, tick=42)
        events = list(store.read(stream="agent/A-7"))
    assert [e.type for e in events] == ["sandbox.executed", "sandbox.violation"]
    assert events[1].payload["layer"] == "cgroups" and "pids_limit" in events[1].payload["detail"]
    assert events[0].tick == 42
    assert verify_store(tmp_path / "audit.db").ok


def test_denied_syscalls_are_recorded_as_violations(sandbox_base: Path) -> None:
    code = (
        "import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
        "print(libc.unshare(0x10000000), ctypes.get_errno())"
    )
    with Sandbox(POLICY, "A-8", workspace=sandbox_base / "ws") as sandbox:
        denied = sandbox.run(["python3", "-c", code])
        assert denied.stdout.split() == [b"-1", b"1"]  # EPERM, answered by the supervisor
        assert [(v.layer, v.kind) for v in denied.violations] == [("seccomp", "denied_syscall")]
        assert "unshare refused" in denied.violations[0].detail
        assert sandbox.run(["true"]).violations == ()  # nothing carried over to the next command
    # Control without seccomp (and without bwrap, whose --disable-userns would refuse too).
    without = Sandbox(POLICY, "A-9", workspace=sandbox_base / "w2", layers=["cgroups"])
    with without:
        control = without.run(["python3", "-c", code])
        assert control.stdout.split() == [b"0", b"0"] and control.violations == ()
