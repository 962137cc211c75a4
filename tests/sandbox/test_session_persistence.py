"""Nothing a session plants in files later tools execute reaches a later command: the pins
stop it within the session, the emptied HOME and /tmp across sessions. Controls: the same
plants, run as a plain subprocess with HOME in the workspace and no pins, do run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sentinel.breakout import unprotected
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once

pytestmark = pytest.mark.host

POLICY = SandboxPolicy.from_toml(
    Path(__file__).resolve().parents[2] / "config" / "policies" / "agent.toml"
)
VERSION = f"python{sys.version_info[0]}.{sys.version_info[1]}"
PLANT = f"""
for home in "$HOME" .; do
  printf '[core]\\n\\tfsmonitor = "echo gitconfig >> ran; false"\\n' > "$home/.gitconfig"
  site="$home/.local/lib/{VERSION}/site-packages"
  mkdir -p "$site"
  echo "import os; open('ran', 'a').write(' pth ')" > "$site/agent.pth"
done
echo 'echo tmp >> ran' > /tmp/next.sh
"""
VICTIMS = {
    "gitconfig": "git status >/dev/null 2>&1",
    "pth": "python3 -c pass",
    "tmp": "sh /tmp/next.sh 2>/dev/null || true",
}
"""What later commands run; /tmp is shared within a session by design, across sessions not."""


def _sandboxed(workspace: Path, script: str) -> None:
    result = run_once(POLICY, ["sh", "-c", script], workspace=workspace, agent_id="persist")
    assert result.exit_code == 0, result.stderr


def _ran(workspace: Path) -> set[str]:
    marker = workspace / "ran"
    return set(marker.read_text().split()) if marker.exists() else set()


@pytest.mark.parametrize("vector", ["gitconfig", "pth"])
def test_within_a_session_the_pins_stop_it(workspace: Path, vector: str) -> None:
    _sandboxed(workspace, PLANT + VICTIMS[vector])
    assert vector not in _ran(workspace)


@pytest.mark.parametrize("vector", sorted(VICTIMS))
def test_the_next_session_does_not_run_it(workspace: Path, vector: str) -> None:
    _sandboxed(workspace, PLANT)
    _sandboxed(workspace, f"ls -A $HOME /tmp > seen; {VICTIMS[vector]}")
    assert vector not in _ran(workspace)
    assert (workspace / "seen").read_text().split() == ["/tmp:", f"{workspace}/.home:"]


@pytest.mark.parametrize("vector", sorted(VICTIMS))
def test_control_a_plain_next_session_runs_it(workspace: Path, vector: str) -> None:
    _sandboxed(workspace, PLANT)
    victim = VICTIMS[vector].replace("/tmp/", ".tmp/")  # the old /tmp: the workspace's .tmp
    unprotected.next_session(workspace, ["sh", "-c", victim])
    assert vector in _ran(workspace)
