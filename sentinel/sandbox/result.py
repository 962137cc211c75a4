"""What a sandboxed command produced, and what the sandbox stopped."""

from __future__ import annotations

import signal
from collections.abc import Iterable

from sentinel.frozen_record import FrozenRecord
from sentinel.sandbox.seccomp_filter import SYSCALL_NAMES


class Violation(FrozenRecord):
    """Something a layer blocked or cut short, attributed to the layer."""

    layer: str
    kind: str
    detail: str


class ExecResult(FrozenRecord):
    """The outcome of one command in a sandbox.

    ``exit_code`` is None when the command was killed by a signal (``signal`` says which).
    ``cpu_s`` and ``max_rss_bytes`` come from the kernel's accounting of the whole process
    tree. ``layers`` lists the layers that were active.
    """

    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    truncated: bool
    timed_out: bool
    oom_killed: bool
    pids_limited: bool
    cpu_s: float
    max_rss_bytes: int
    duration_s: float
    violations: tuple[Violation, ...]
    layers: tuple[str, ...]
    cpu_throttled_s: float = 0.0
    """Time the sandbox spent throttled at its cpu quota while the command ran."""
    uid: int | None = None
    """The uid the command ran as (None where the launcher did not record it)."""

    @property
    def ok(self) -> bool:
        """Exited with status 0 and nothing was cut short."""
        return self.exit_code == 0 and not (self.timed_out or self.truncated or self.oom_killed)


def sandbox_failure(detail: str, layers: tuple[str, ...]) -> ExecResult:
    """The result of a command that never ran because its sandbox could not be (re)built.

    A sandbox's failure is that command's result (a ``runner`` violation saying why), so a
    caller running many agents goes on with the others.
    """
    return ExecResult(
        exit_code=None,
        signal=None,
        stdout=b"",
        stderr=f"sentinel: the sandbox failed: {detail}\n".encode(),
        truncated=False,
        timed_out=False,
        oom_killed=False,
        pids_limited=False,
        cpu_s=0.0,
        max_rss_bytes=0,
        duration_s=0.0,
        violations=(Violation("runner", "sandbox_failed", detail),),
        layers=layers,
    )


def collect_violations(
    *,
    oom_kills: int,
    pids_limit_hits: int,
    timed_out: bool,
    truncated: bool,
    killed_by: int | None,
    timeout: float,
    limit: int,
    dropped_packets: int,
    denied_syscalls: Iterable[tuple[int, int]],
) -> tuple[Violation, ...]:
    """What the layers stopped during one command, for cold runs and warm sandboxes alike."""
    found = []
    if oom_kills:
        found.append(
            Violation("cgroups", "oom_kill", f"{oom_kills} process(es) killed at the memory limit")
        )
    if pids_limit_hits:
        found.append(
            Violation(
                "cgroups", "pids_limit", f"{pids_limit_hits} fork(s) refused at the pids limit"
            )
        )
    if timed_out:
        found.append(Violation("runner", "timeout", f"killed after {timeout} s"))
    if truncated:
        found.append(
            Violation(
                "runner", "output_limit", f"output beyond {limit} bytes; the command was killed"
            )
        )
    if killed_by == signal.SIGSYS:
        found.append(
            Violation("seccomp", "killed", "killed by the seccomp filter (foreign system-call ABI)")
        )
    if dropped_packets:
        found.append(
            Violation(
                "netns",
                "egress_dropped",
                f"{dropped_packets} packet(s) to destinations outside the allow-list",
            )
        )
    for pid, number in denied_syscalls:
        name = SYSCALL_NAMES.get(number, f"syscall {number}")
        found.append(Violation("seccomp", "denied_syscall", f"{name} refused (pid {pid})"))
    return tuple(found)
