"""Host-side evidence shared by scenarios: what the host itself can see after a run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

from sentinel.breakout.scenario import Judge, Outcome, Run
from sentinel.sandbox.host_paths import read_beneath

DELIVERY_WAIT_S: Final = 0.5
"""How long a listener gets to receive a datagram sent just before the run ended."""


def file_appeared(path_of: str, name: str | None = None) -> Judge:
    """Escaped if the attacker's file exists on the host after the run.

    ``path_of`` names an arena fact holding a directory (``name``, in which ``{run}`` stands
    for the run's marker, is appended) or a file (the run's marker is appended to it).
    """

    def judge(run: Run) -> Outcome | None:
        base = Path(run.arena.facts[path_of])
        target = base / name.format(run=run.nonce) if name else Path(f"{base}-{run.nonce}")
        if target.exists():
            return Outcome("escaped", f"{target} exists on the host after the run")
        return None

    return judge


def workspace_file_contains(relative: str) -> Judge:
    """Escaped if ``relative`` in the workspace holds the arena token after the run."""

    def judge(run: Run) -> Outcome | None:
        content = read_beneath(run.workspace, relative)  # never through the agent's links
        planted = content is not None and run.arena.token.encode() in content
        if planted:
            return Outcome("escaped", f"{relative} in the workspace now holds the attacker's text")
        reported = run.reported()
        if reported is not None and reported[0] == "blocked":
            return Outcome("blocked", f"{relative} unchanged ({reported[1]})")
        return None  # the attacker's own report (escaped, error) or the accounting decides

    return judge


def listener_received(channel: str) -> Judge:
    """Escaped if the arena's ``channel`` listener received this run's marker; else blocked."""

    def judge(run: Run) -> Outcome | None:
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while time.monotonic() < deadline:
            if run.arena.received.saw(channel, run.nonce):
                return Outcome("escaped", f"the host's {channel} listener received the data")
            time.sleep(0.02)
        reported = run.reported()
        if reported is None or reported[0] == "error":
            return None
        return Outcome("blocked", f"nothing reached the host's {channel} listener ({reported[1]})")

    return judge


def egress_dropped(run: Run) -> Outcome | None:
    """Blocked if the allow-list dropped packets; escaped if sent from the host's network.

    Without a network namespace nothing filters: the datagram left through the host.
    """
    dropped = [v for v in run.exec.violations if v.kind == "egress_dropped"]
    if dropped:
        return Outcome("blocked", f"nftables allow-list: {dropped[0].detail}")
    reported = run.reported()
    if reported is not None and reported[0] == "attempted" and "netns" not in run.exec.layers:
        return Outcome("escaped", "sent from the host's network, where no allow-list applies")
    return None
