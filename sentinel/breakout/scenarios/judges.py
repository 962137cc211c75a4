"""Host-side evidence shared by scenarios: what the host itself can see after a run."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Final

from sentinel.breakout.arena import Arena
from sentinel.breakout.scenario import Judge, Outcome, Run
from sentinel.sandbox.host_paths import read_beneath

DELIVERY_WAIT_S: Final = 0.5
"""How long a listener gets to receive a datagram sent just before the run ended."""
ARENA_FREE: Final[set[Judge]] = set()
"""Judges that look only at the run's workspace and accounting, never at the arena: the
main job's red-team attacks (which have no arena) can be judged with them."""


def arena_of(run: Run) -> Arena:
    """The run's arena (judges run inside the suite, which always has one)."""
    if run.arena is None:
        raise ValueError("this scenario has a host-side judge and needs the suite's arena")
    return run.arena


def _attempted(run: Run) -> str | None:
    """What the attacker reported, unless it reported an error (or nothing)."""
    reported = run.reported()
    if reported is None or reported[0] == "error":
        return None
    return reported[1]


def file_appeared(path_of: str, name: str | None = None) -> Judge:
    """Escaped if the attacker's file exists on the host after the run.

    ``path_of`` names an arena fact holding a directory (``name``, in which ``{run}`` stands
    for the run's marker, is appended) or a file (the run's marker is appended to it).
    """

    def judge(run: Run) -> Outcome | None:
        base = Path(arena_of(run).facts[path_of])
        target = base / name.format(run=run.nonce) if name else Path(f"{base}-{run.nonce}")
        if os.path.lexists(target):
            return Outcome("escaped", f"{target} exists on the host after the run")
        reported = _attempted(run)
        if reported is not None:
            return Outcome("blocked", f"no {target} on the host after the run ({reported})")
        return None

    return judge


def workspace_file_contains(relative: str) -> Judge:
    """Escaped if ``relative`` in the workspace holds the arena token after the run."""

    def judge(run: Run) -> Outcome | None:
        content = read_beneath(run.workspace, relative)  # never through the agent's links
        planted = content is not None and arena_of(run).token.encode() in content
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
            if arena_of(run).received.saw(channel, run.nonce):
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


def trace_left(name: str, *, root_owned_escapes: bool = False) -> Judge:
    """Escaped if the program the attacker ran left ``name`` in the workspace.

    ``{run}`` in ``name`` stands for the run's marker. Blocked if the trace is missing; with
    ``root_owned_escapes``, only a trace owned by root is an escape (a setuid-root program
    ran with its privilege). The attacker runs ``touch`` (a copy it wrote, through the loader, from a memfd, or a
    setuid copy): the file it creates is host-visible proof that the program ran.
    """

    def judge(run: Run) -> Outcome | None:
        trace = run.workspace / name.format(run=run.nonce)
        try:
            owner = os.lstat(trace).st_uid
        except OSError:
            owner = None
        if owner is not None and (not root_owned_escapes or owner == 0):
            who = " as root" if root_owned_escapes else ""
            return Outcome("escaped", f"the program ran{who}: it left ./{trace.name}")
        reported = _attempted(run)
        if owner is not None:
            return Outcome("blocked", f"./{trace.name} is owned by uid {owner}, not root")
        if reported is not None:
            return Outcome("blocked", f"the program never ran: no ./{trace.name} ({reported})")
        return None

    ARENA_FREE.add(judge)
    return judge


def device_node(name: str) -> Judge:
    """Escaped if ``name`` in the workspace is a device node after the run, else blocked."""

    def judge(run: Run) -> Outcome | None:
        try:
            mode = os.lstat(run.workspace / name).st_mode
        except OSError:
            mode = 0
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            return Outcome("escaped", f"./{name} is a device node on the host after the run")
        reported = _attempted(run)
        return None if reported is None else Outcome("blocked", f"no device ./{name} ({reported})")

    ARENA_FREE.add(judge)
    return judge


def hard_link_to(fact: str, name: str) -> Judge:
    """Escaped if ``name`` in the workspace is a hard link to the arena file ``fact``."""

    def judge(run: Run) -> Outcome | None:
        target = Path(arena_of(run).facts[fact])
        try:
            linked = os.path.samestat(os.lstat(run.workspace / name), os.lstat(target))
        except OSError:
            linked = False
        if linked:
            return Outcome("escaped", f"./{name} is a hard link to the host's {target}")
        reported = _attempted(run)
        if reported is None:
            return None
        return Outcome("blocked", f"no link to {target} in the workspace ({reported})")

    return judge
