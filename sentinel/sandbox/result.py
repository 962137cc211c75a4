"""What a sandboxed command produced, and what the sandbox stopped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """Something a layer blocked or cut short, attributed to the layer."""

    layer: str
    kind: str
    detail: str


@dataclass(frozen=True)
class ExecResult:
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

    @property
    def ok(self) -> bool:
        """Exited with status 0 and nothing was cut short."""
        return self.exit_code == 0 and not (self.timed_out or self.truncated or self.oom_killed)
