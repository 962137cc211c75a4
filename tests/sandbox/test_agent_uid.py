"""Each sandbox runs as a uid of its own, so per-user kernel limits are per agent."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sentinel.sandbox.agent_uid import AGENT_UID_BASE, AGENT_UID_COUNT, in_range, lease
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.result import ExecResult
from sentinel.sandbox.warm import Sandbox

pytestmark = pytest.mark.host

POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)
HOLD = (
    "import ctypes, time\nlibc = ctypes.CDLL(None)\nn = 0\n"
    "while libc.inotify_init() >= 0: n += 1\n"
    "open('count.tmp', 'w').write(str(n))\nimport os; os.rename('count.tmp', 'count')\n"
    "time.sleep(8)\n"
)
"""Holds every inotify instance its uid may have (fs.inotify.max_user_instances)."""
ONE = "import ctypes, os\nfd = ctypes.CDLL(None, use_errno=True).inotify_init()\nprint(fd)"


def test_leases_are_exclusive_stable_and_in_range() -> None:
    first = lease("uid-test-agent")
    try:
        second = lease("uid-test-agent")  # the same agent twice at once: another uid
        assert in_range(first.uid) and in_range(second.uid) and first.uid != second.uid
        second.release()
        again = lease("uid-test-agent", preferred=second.uid)
        assert again.uid == second.uid
        again.release()
    finally:
        first.release()
    assert lease("uid-test-agent").uid == first.uid  # stable: the agent's hash comes first
    assert AGENT_UID_BASE + AGENT_UID_COUNT < 2**31


def _inotify_as(uid: int) -> int:
    """inotify_init() in a plain process of ``uid`` on the host (no sandbox at all)."""

    def drop() -> None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)

    done = subprocess.run(
        ["/usr/bin/python3", "-c", ONE], capture_output=True, check=True, cwd="/",
        preexec_fn=drop,
    )  # fmt: skip
    return int(done.stdout)


def test_one_agent_exhausting_inotify_leaves_the_others_theirs(sandbox_base: Path) -> None:
    with (
        Sandbox(POLICY, "uid-A", workspace=sandbox_base / "a") as a,
        Sandbox(POLICY, "uid-B", workspace=sandbox_base / "b") as b,
    ):
        assert a.uid != b.uid
        held: list[ExecResult] = []
        holder = threading.Thread(target=lambda: held.append(a.run(["python3", "-c", HOLD])))
        holder.start()
        count = sandbox_base / "a" / "count"
        deadline = time.monotonic() + 15
        while not count.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert int(count.read_text()) > 0  # A holds every instance its uid may have
        assert int(b.run(["python3", "-c", ONE]).stdout) >= 0  # B still gets one
        assert _inotify_as(65534) >= 0  # and so does host nobody
        # Control: another process of A's uid (as every agent was, sharing one uid) gets none.
        assert _inotify_as(a.uid) == -1
        holder.join()
    assert held[0].exit_code == 0
