"""One agent's sandbox failing never stops the run: the live backend turns it into that
command's result, recorded as events."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from sentinel.agents.backends import LiveBackend
from sentinel.audit import NewEvent
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.warm import Sandbox

pytestmark = pytest.mark.host

POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)


def test_a_sandbox_that_cannot_be_rebuilt_is_a_failed_command(
    sandbox_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The supervisor's signal guard is off: this test is about what the backend does when a
    # supervisor dies (the guard itself: tests/sandbox/test_supervisor_signals.py).
    monkeypatch.setattr(
        "sentinel.agents.backends.Sandbox", functools.partial(Sandbox, guard_supervisor=False)
    )
    gateway: Any = None  # commands never reach the gateway
    backend = LiveBackend(gateway, POLICY, sandbox_base, "model")
    try:
        backend.start("A-1")
        events: list[NewEvent] = []
        killed = backend.execute(1, "A-1", "kill -KILL $PPID", events)
        assert killed.exit_code is None and killed.signal == 9 and killed.violations == 1
        assert "supervisor died" in events[-1].payload["detail"]
        (sandbox_base / "ws").chmod(0o700)  # the sandbox uid can no longer reach the workspace
        events.clear()
        failed = backend.execute(2, "A-1", "echo hello", events)
        assert failed.exit_code is None and failed.signal is None and failed.violations == 1
        assert "sandbox failed" in failed.output
        assert [e.type for e in events] == ["sandbox.executed", "sandbox.violation"]
        assert events[1].payload["layer"] == "runner"
        assert "not reachable by the sandbox uid" in events[1].payload["detail"]
        (sandbox_base / "ws").chmod(0o711)
        events.clear()
        again = backend.execute(3, "A-1", "echo hello", events)
        assert again.exit_code == 0 and again.output == "hello\n"
    finally:
        backend.close()
