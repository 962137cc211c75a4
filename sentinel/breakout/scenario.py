"""What a breakout scenario is, and what running one found."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sentinel.breakout.prelude import VERDICT_MARKER
from sentinel.sandbox.result import ExecResult

if TYPE_CHECKING:
    from sentinel.breakout.arena import Arena


class Family(StrEnum):
    """The families of the suite (``--family`` takes these names)."""

    FILESYSTEM = "filesystem"
    PROCESSES = "processes"
    PRIVILEGE = "privilege"
    NETWORK = "network"
    RESOURCES = "resources"
    PERSISTENCE = "persistence"
    KERNEL = "kernel"


Result = Literal["blocked", "escaped", "error", "inconclusive"]
"""What one run showed. ``inconclusive``: nothing either way (the target was absent and the
host cannot show it exists outside, or the attacker had nothing to compare with)."""
Source = Literal["host", "self-reported"]
"""Who decided: the host (a judge, the runner's accounting, a host-side check of the
target), or the attacker program's own report (all the host can see is what it printed)."""
Control = Literal["root", "agent-uid"]
"""Who runs the negative control without the sandbox: the supervisor's own user (root, as
peers launch agent code), or the workspace's unprivileged agent uid (leased as for a real
sandbox) with every layer off, when root would prove nothing (e.g. a setuid binary). The
report names the uid that really ran (``runs_as``)."""

SHELL_SIGNAL_BASE = 128
"""bwrap's pid 1 reports a child killed by signal N as exit status 128 + N."""
UNPRIVILEGED_UID = "uid"
"""Pseudo-layer: agent code runs as an unprivileged uid with no capabilities (not switchable)."""
WORKSPACE_FS = "workspace-fs"
"""Pseudo-layer: the workspace is its own size-limited nosuid, noexec file system, with /tmp
and /dev/shm on it (always on when Sentinel runs as root and the policy has a disk quota)."""
RUNNER = "runner"
"""Pseudo-layer: the launcher and runner: a clean environment, wall-clock and output
limits, the resource rlimits."""
HOST_PATHS = "host-paths"
"""Pseudo-layer: the launcher's root-side path discipline (directory descriptors, no link
followed, :mod:`sentinel.sandbox.host_paths`) when it prepares or copies a workspace."""
SESSION = "session"
"""Pseudo-layer: per-session HOME, /tmp and /dev/shm emptied when a session starts, and the
git and Python pins of every sandbox's environment."""


@dataclass(frozen=True)
class Outcome:
    """One run of an attacker: the verdict and the evidence behind it."""

    result: Result
    evidence: str
    source: Source = "host"
    target_absent: bool = False
    """The attacker found its target absent: the run proves something only if the target
    exists outside the sandbox (the negative control reaching it shows that)."""


@dataclass(frozen=True)
class Report:
    """The verdict line an attacker printed."""

    result: str
    evidence: str
    target: str | None = None


@dataclass(frozen=True)
class Run:
    """What the host saw of one attacker run (sandboxed or not)."""

    exec: ExecResult
    workspace: Path
    arena: Arena | None
    """The suite's arena (None for the red-team attacks of the main job, which have none)."""
    nonce: str = ""
    """This run's own marker (``A["run"]``): evidence of one run never counts for another."""

    @property
    def facts(self) -> dict[str, object]:
        """The arena's facts (empty without an arena)."""
        return self.arena.facts if self.arena is not None else {}

    def reported(self) -> tuple[str, str] | None:
        """The attacker's own ``(result, evidence)`` line, if it printed one."""
        report = attacker_report(self.exec.stdout)
        return None if report is None else (report.result, report.evidence)


def attacker_report(stdout: bytes) -> Report | None:
    """The verdict line an attacker printed last on ``stdout``, if any."""
    for line in reversed(stdout.decode(errors="replace").splitlines()):
        if line.startswith(VERDICT_MARKER):
            try:
                data = json.loads(line[len(VERDICT_MARKER) :])
                target = data.get("target")
                return Report(
                    str(data["result"]),
                    str(data["evidence"]),
                    None if target is None else str(target),
                )
            except (ValueError, KeyError, AttributeError):
                return None
    return None


def host_has(target: str, workspace: Path) -> bool:
    """Whether the host has ``target`` (a path the attacker found absent in its sandbox).

    A relative path is the workspace's. A symbolic link the attacker left in the workspace
    is read, not followed (only its text is used): root does not resolve agent links. This
    is an ``lstat``: nothing is opened, read or written.
    """
    path = Path(target) if Path(target).is_absolute() else workspace / target
    try:
        if path.is_relative_to(workspace) and path.is_symlink():
            link = path.readlink()
            if not link.is_absolute():
                return False
            path = link
        path.lstat()
    except (OSError, ValueError):
        return False
    return True


Judge = Callable[[Run], Outcome | None]
"""A host-side check: an Outcome when the host can decide (e.g. a planted file exists),
None to fall back on the attacker's report and the sandbox's accounting."""


@dataclass(frozen=True)
class HostStep:
    """What the host does, as root, after the attacker ran (before the judge looks).

    Attacks on the host side plant something in the workspace and wait for root to act on
    it: re-prepare the workspace, copy it out, start the next session there. ``protected``
    is what Sentinel does; ``unprotected`` is the naive version (a plain root copy, the
    earlier workspace code, a plain subprocess), which the negative control runs.
    """

    protected: Callable[[Run], None]
    unprotected: Callable[[Run], None]


@dataclass(frozen=True)
class Scenario:
    """One escape attempt.

    Attributes:
        id: Stable identifier (``family-what``), used in reports and agent ids.
        family: The family it belongs to.
        attempt: What the attacker tries, in one sentence.
        expected_layers: The layers expected to stop it (sandbox layers, plus ``uid`` for
            the unprivileged uid and ``runner`` for the runner's limits).
        body: Python source defining ``attack(A)`` (see :mod:`sentinel.breakout.prelude`).
        control: Who runs the negative control.
        control_skip: Why the negative control cannot succeed safely on any host (None: it runs).
        precondition: Host facts the negative control needs; returns why it cannot run here.
        judge: Host-side evidence, consulted before the attacker's own report.
        timeout: Wall-clock limit for the run (default: the policy's).
    """

    id: str
    family: Family
    attempt: str
    expected_layers: tuple[str, ...]
    body: str
    control: Control = "root"
    control_skip: str | None = None
    precondition: Callable[[Arena], str | None] | None = None
    judge: Judge | None = None
    timeout: float | None = None
    setup: Callable[[Path], None] | None = None
    """Host-side preparation of the workspace (as root) before the attacker runs."""
    host_step: HostStep | None = None
    """What root does with the workspace after the attacker ran (host-side attacks)."""


def decide(run: Run, judge: Judge | None) -> Outcome:
    """The outcome of a run: host evidence first, then the attacker's report, then accounting.

    The one decision function: the breakout suite and the main job's red-team attacks both
    judge a run with it.
    """
    if judge is not None:
        outcome = judge(run)
        if outcome is not None:
            return outcome
    return outcome_of(run.exec, run.workspace)


def outcome_of(result: ExecResult, workspace: Path) -> Outcome:  # noqa: PLR0911 - one return per case
    """The outcome from the attacker's report, host checks and the sandbox's accounting.

    Used by :func:`decide` when no judge decided.
    """
    reported = attacker_report(result.stdout)
    if reported is not None and reported.result in ("blocked", "escaped", "error", "inconclusive"):
        return Outcome(reported.result, reported.evidence, "self-reported")  # type: ignore[arg-type]
    if reported is not None and reported.result == "absent":
        if reported.target is not None and host_has(reported.target, workspace):
            return Outcome(
                "blocked",
                f"hidden: {reported.target} exists on the host but not in the sandbox "
                f"({reported.evidence})",
                "host",
                target_absent=True,
            )
        return Outcome(
            "inconclusive",
            f"target absent ({reported.evidence}); the host cannot show it exists outside",
            "self-reported",
            target_absent=True,
        )
    if reported is not None and reported.result == "attempted":
        return Outcome(
            "error", f"attempted ({reported.evidence}) but the host found no evidence either way"
        )
    if result.signal == signal.SIGSYS or result.exit_code == SHELL_SIGNAL_BASE + signal.SIGSYS:
        return Outcome("blocked", "killed by the seccomp filter (SIGSYS)")
    if result.signal == signal.SIGXFSZ:
        return Outcome("blocked", "killed at the file-size limit (SIGXFSZ)")
    if result.oom_killed:
        return Outcome("blocked", "killed by the OOM killer at the cgroup's memory limit")
    if result.pids_limited:
        return Outcome("blocked", "forks refused at the cgroup's pids limit")
    if result.truncated:
        return Outcome("blocked", "output cut at the runner's limit; the command was killed")
    if result.timed_out:
        return Outcome("blocked", "killed at the runner's wall-clock limit")
    stderr = result.stderr.decode(errors="replace").strip().splitlines()
    tail = stderr[-1] if stderr else ""
    status = f"no verdict (exit {result.exit_code}, signal {result.signal})"
    return Outcome("error", f"{status}: {tail}" if tail else status)
