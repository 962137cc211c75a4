"""The kernel probes' counts as platform-plane metrics: what each agent did since the last look.

The probe session (:class:`sentinel.probes.ProbeSession`) counts in the kernel, per agent and
across its sandboxes, programs run, files opened for writing, bytes written, connections
tried and syscalls seccomp refused. :class:`ProbeWindow` turns those running totals into
per-window metrics (the difference since the plane's previous observation), the way the
plane's ``writes`` counts audit events per window:

- ``probe_execs``, ``probe_write_opens``, ``probe_write_bytes``, ``probe_connects``,
  ``probe_refusals``: what the kernel counted for the agent in the window.
- ``probe_write_ratio``: ``probe_write_bytes`` over its EWMA baseline of earlier windows
  (alpha :data:`~sentinel.control.platform_plane.WRITE_EWMA_ALPHA`, as ``write_ratio``);
  unknown while the baseline is 0 or not yet set.
- ``probe_stalled``: 1 when the probe watched a sandbox group of the agent at the window's
  start or at its end, the audit trail recorded at least one command run in its sandbox in
  the window (``sandbox.executed`` not run by Wasmtime), and the kernel counted no program
  started by the agent in the same window: it was given work and nothing ran (its sandbox
  frozen, hung or dead; a sandbox that timed out is torn down, hence "start or end"). 0 when
  commands ran and programs started, or when it was given no command. Unknown when no group
  of the agent was watched at either end. Every command of the main job runs to its end
  within its tick, so the kernel has counted its programs before the plane observes at the
  tick's end.

Every one is unknown (NaN) when the run has no probes, or for an agent the probe never saw
(no group of it watched, nothing counted): a rule never fires on what was not observed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from sentinel.probes.records import AgentTotals

PROBE_METRICS: Final = frozenset(
    {"probe_execs", "probe_write_opens", "probe_write_bytes", "probe_connects",
     "probe_refusals", "probe_write_ratio", "probe_stalled"}
)  # fmt: skip
WASM_LAYER: Final = "wasmtime"
"""A ``sandbox.executed`` with this layer ran in Wasmtime, in our process: no sandbox exec."""


class ProbeCounts(Protocol):
    """What the platform plane reads of a probe session."""

    def totals(self) -> dict[str, AgentTotals]:
        """Each agent's kernel-side totals so far."""

    def watched_agents(self) -> set[str]:
        """Agents with a sandbox group watched now."""


@dataclass
class _Window:
    seen: AgentTotals
    bytes_baseline: float | None = None


class ProbeWindow:
    """Per-window probe metrics of each agent (module docstring).

    Args:
        probes: The run's probe session; None: the run has no probes (every value unknown).
        alpha: The write-bytes baseline's smoothing.
    """

    def __init__(self, probes: ProbeCounts | None, alpha: float) -> None:
        self.probes = probes
        self.alpha = alpha
        self._windows: dict[str, _Window] = {}
        self._watched: set[str] = set()
        """Agents watched at the previous observation (the window's start)."""

    def observe(self, commands: Mapping[str, int]) -> dict[str, dict[str, float | None]]:
        """Every agent the probe saw: its metrics for the window ending now (and a new window).

        Args:
            commands: Per agent, commands the audit trail recorded run in its sandbox in the
                window.

        Returns:
            Agent -> metrics; an agent missing is unknown to the probe (all NaN); empty
            without probes.
        """
        if self.probes is None:
            return {}
        totals = self.probes.totals()
        watched = self.probes.watched_agents()
        either_end = watched | self._watched
        self._watched = watched
        rows: dict[str, dict[str, float | None]] = {}
        for agent_id in sorted(set(totals) | either_end | set(self._windows)):
            now = totals.get(agent_id, AgentTotals())
            window = self._windows.setdefault(agent_id, _Window(AgentTotals()))
            delta = now - window.seen
            window.seen = now
            written = float(delta.write_bytes)
            baseline = window.bytes_baseline
            window.bytes_baseline = (
                written if baseline is None else baseline + self.alpha * (written - baseline)
            )
            stalled: float | None = None
            if agent_id in either_end:
                stalled = float(commands.get(agent_id, 0) > 0 and delta.execs == 0)
            rows[agent_id] = {
                "probe_execs": float(delta.execs),
                "probe_write_opens": float(delta.write_opens),
                "probe_write_bytes": written,
                "probe_connects": float(delta.connects),
                "probe_refusals": float(delta.refusals),
                "probe_write_ratio": written / baseline if baseline else None,
                "probe_stalled": stalled,
            }
        return rows


def active(row: Mapping[str, float | None]) -> bool:
    """Whether a probe row counted anything or says stalled (worth a row of its own)."""
    return any(value for value in row.values() if value is not None)
