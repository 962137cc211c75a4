"""The platform plane: observes the sandboxes and the audit store, acts through the sandboxes.

Observation per agent with a sandbox: its cpu use as a share of its quota since the last
look, memory over its limit, pids, io bytes, pressure (PSI, the group's or the host's),
sandbox violations in a sliding window and since the last look, events written since the
last look against an EWMA baseline (alpha 0.05, SEED_NOTES), whether its sandbox failed to
start, whether it is quarantined; with kernel probes, what the kernel counted for it in the
window and whether it stalled (:mod:`sentinel.control.probe_window`, NaN without probes);
and one row ``audit-store`` (events, bytes).

Actions, each with an inverse: ``quarantine`` (tools off: no tool call, no ticket, no red-team
attack is run for the agent; the sandbox's processes are killed, so nothing of it holds
network or files until the quarantine is lifted), ``freeze`` (the group frozen, tools off),
``throttle`` (a lower cpu quota), ``tighten_budget`` (a lower pids limit), ``restart`` (the
sandbox's processes killed; the warm sandbox starts afresh at its next command; no inverse).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Protocol

import numpy as np

from sentinel.audit import NewEvent
from sentinel.control.actuator import Actuator, ActuatorError, Command
from sentinel.control.clock import VirtualClock
from sentinel.control.observation import Observation
from sentinel.control.probe_window import (
    PROBE_METRICS,
    WASM_LAYER,
    ProbeCounts,
    ProbeWindow,
    active,
)
from sentinel.control.sandbox_group import SandboxGroup

VIOLATION_WINDOW_TICKS: Final = 3600
"""Violations count over the last simulated hour (longer than the red team's 30-minute
attack interval, so two attacks in a row are seen together)."""
WRITE_EWMA_ALPHA: Final = 0.05
"""The write-rate baseline's smoothing (SEED_NOTES, Platform CP)."""
STORE_TARGET: Final = "audit-store"
PLATFORM_METRICS: Final = frozenset(
    {"cpu_share", "memory_ratio", "pids", "io_bytes", "psi_cpu", "psi_memory", "psi_io",
     "violations_window", "violations_new", "writes", "write_ratio", "sandbox_failed",
     "quarantined", "store_events", "store_bytes"}
) | PROBE_METRICS  # fmt: skip


class SandboxLayer(Protocol):
    """What the platform plane sees of the sandbox layer and may ask of it."""

    def agents(self) -> list[str]:
        """Agents with a sandbox now."""

    def pid(self, agent_id: str) -> int | None:
        """The sandbox's outermost process, while it runs."""

    def failed(self, agent_id: str) -> bool:
        """Whether the sandbox failed to come up."""

    def warm(self, agent_id: str) -> bool:
        """Start the sandbox again (True: it is up)."""


@dataclass
class Quarantine:
    """Agents whose tools are off, with when and why (the runtime asks :meth:`tools_on`)."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def tools_on(self, agent_id: str) -> bool:
        """Whether the agent may run tools, take tickets and (red team) attack."""
        return agent_id not in self.entries

    def add(self, agent_id: str, entry: dict[str, Any]) -> None:
        """Turn the agent's tools off."""
        self.entries[agent_id] = entry
        self.history.append({"agent_id": agent_id, "change": "quarantined", **entry})

    def lift(self, agent_id: str, entry: dict[str, Any]) -> None:
        """Turn the agent's tools on again."""
        self.entries.pop(agent_id, None)
        self.history.append({"agent_id": agent_id, "change": "lifted", **entry})


@dataclass
class _Seen:
    cpu_s: float = 0.0
    wall_s: float = 0.0
    write_baseline: float | None = None
    violations: deque[int] = field(default_factory=deque)


class PlatformObserver:
    """Keeps the window counters the platform plane's observation needs.

    Args:
        sandboxes: The sandbox layer.
        quarantine: The quarantine registry.
        store_size: Returns (events, bytes) of the audit store; None: not observed.
        probes: The run's kernel probe session; None: no probes (their metrics NaN).
    """

    def __init__(
        self,
        sandboxes: SandboxLayer,
        quarantine: Quarantine,
        store_size: Callable[[], tuple[int, int]] | None = None,
        probes: ProbeCounts | None = None,
    ) -> None:
        self.sandboxes = sandboxes
        self.quarantine = quarantine
        self.store_size = store_size
        self._seen: dict[str, _Seen] = {}
        self._new_violations: Counter[str] = Counter()
        self._writes: Counter[str] = Counter()
        self._commands: Counter[str] = Counter()
        self._probes = ProbeWindow(probes, WRITE_EWMA_ALPHA)

    def feed(self, tick: int, events: Iterable[NewEvent]) -> None:
        """Count one tick's events: violations, writes and sandbox commands per agent."""
        for event in events:
            agent_id = event.payload.get("agent_id")
            if not isinstance(agent_id, str):
                continue
            self._writes[agent_id] += 1
            if event.type == "sandbox.violation":
                self._new_violations[agent_id] += 1
                self._seen.setdefault(agent_id, _Seen()).violations.append(tick)
            elif event.type == "sandbox.executed" and WASM_LAYER not in event.payload.get(
                "layers", ()
            ):
                self._commands[agent_id] += 1

    def __call__(self, tick: int) -> Observation:
        """The observation at ``tick`` (and the windows restart)."""
        rows: dict[str, dict[str, float | None]] = {}
        windowed = {agent_id for agent_id, seen in self._seen.items() if seen.violations}
        live = set(self.sandboxes.agents())
        probed = self._probes.observe(self._commands)
        busy = {agent_id for agent_id, row in probed.items() if active(row)}
        agents = sorted(live | set(self._new_violations) | windowed | busy)
        now = time.monotonic()
        for agent_id in agents:
            seen = self._seen.setdefault(agent_id, _Seen())
            while seen.violations and seen.violations[0] <= tick - VIOLATION_WINDOW_TICKS:
                seen.violations.popleft()
            writes = float(self._writes[agent_id])
            baseline = seen.write_baseline
            ratio = writes / baseline if baseline else None
            seen.write_baseline = (
                writes if baseline is None else baseline + WRITE_EWMA_ALPHA * (writes - baseline)
            )
            row: dict[str, float | None] = {
                "violations_window": float(len(seen.violations)),
                "violations_new": float(self._new_violations[agent_id]),
                "writes": writes,
                "write_ratio": ratio,
                "sandbox_failed": float(self.sandboxes.failed(agent_id)),
                "quarantined": float(not self.quarantine.tools_on(agent_id)),
            }
            row.update(self._group(agent_id, seen, now))
            row.update(probed.get(agent_id, {}))
            rows[agent_id] = row
        self._new_violations.clear()
        self._writes.clear()
        self._commands.clear()
        if self.store_size is not None:
            events, size = self.store_size()
            rows[STORE_TARGET] = {"store_events": float(events), "store_bytes": float(size)}
        observation = Observation.of_rows("platform", tick, rows)
        missing = PLATFORM_METRICS - set(observation.columns)
        if missing:  # every metric is a column, unknown values NaN (a rule reads any of them)
            count = len(observation.targets)
            columns = dict(observation.columns)
            columns.update({name: np.full(count, np.nan) for name in missing})
            observation = Observation("platform", tick, observation.targets, columns)
        return observation

    def _group(self, agent_id: str, seen: _Seen, now: float) -> dict[str, float | None]:
        pid = self.sandboxes.pid(agent_id)
        group = SandboxGroup.of_pid(pid) if pid is not None else None
        if group is None:
            return {}
        cpu = group.cpu_seconds()
        share = None
        quota = group.cpu_fraction()
        if seen.wall_s and now > seen.wall_s and quota:
            share = max(0.0, cpu - seen.cpu_s) / ((now - seen.wall_s) * quota)
        seen.cpu_s, seen.wall_s = cpu, now
        return {
            "cpu_share": share,
            "memory_ratio": group.memory_ratio(),
            "pids": group.pids_current(),
            "io_bytes": group.io_bytes(),
            "psi_cpu": group.pressure("cpu"),
            "psi_memory": group.pressure("memory"),
            "psi_io": group.pressure("io"),
        }


class PlatformActuator(Actuator):
    """Acts on the sandboxes (and the quarantine registry) and nothing else.

    Args:
        sandboxes: The sandbox layer.
        quarantine: The quarantine registry the runtime consults.
        clock: The virtual clock.
    """

    plane: ClassVar[str] = "platform"
    actions: ClassVar[frozenset[str]] = frozenset(
        {"quarantine", "freeze", "throttle", "tighten_budget", "restart"}
    )

    def __init__(
        self, sandboxes: SandboxLayer, quarantine: Quarantine, clock: VirtualClock
    ) -> None:
        super().__init__()
        self._sandboxes = sandboxes
        self._quarantine = quarantine
        self._clock = clock
        self._lifts: dict[str, bool] = {}
        """Per key: whether its rollback lifts the quarantine it set."""
        self._cpu: dict[str, tuple[SandboxGroup, float | None]] = {}
        self._pids: dict[str, tuple[SandboxGroup, str]] = {}

    def _group(self, agent_id: str) -> SandboxGroup:
        pid = self._sandboxes.pid(agent_id)
        group = SandboxGroup.of_pid(pid) if pid is not None else None
        if group is None:
            raise ActuatorError(f"{agent_id} has no running sandbox")
        return group

    def _kill(self, agent_id: str) -> int:
        pid = self._sandboxes.pid(agent_id)
        group = SandboxGroup.of_pid(pid) if pid is not None else None
        pids = group.pids() if group is not None else []
        for member in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(member, signal.SIGKILL)
        return len(pids)

    def apply(self, command: Command) -> str:
        """Quarantine, freeze, throttle, tighten the budget or restart (module docstring).

        Raises:
            ActuatorError: The agent has no running sandbox (for a cgroup action), or the
                kernel refused a write.
        """
        agent_id, action = command.target, command.action
        if action == "quarantine":
            if not self._quarantine.tools_on(agent_id):
                return f"{agent_id} is quarantined already"
            rule = command.key.split("/")[1]
            self._quarantine.add(
                agent_id, {"tick": self._clock.tick, "key": command.key, "rule": rule}
            )
            self._lifts[command.key] = True
            killed = self._kill(agent_id)
            return f"{agent_id}: tools off, sandbox stopped ({killed} processes killed)"
        if action == "restart":
            if self._sandboxes.failed(agent_id):
                up = self._sandboxes.warm(agent_id)
                return f"{agent_id}: sandbox started again ({'up' if up else 'still failing'})"
            return f"{agent_id}: {self._kill(agent_id)} processes killed; a fresh sandbox next"
        group = self._group(agent_id)
        try:
            return self._limit(command, group)
        except OSError as exc:
            raise ActuatorError(f"{agent_id}: {action}: {exc.strerror}") from None

    def _limit(self, command: Command, group: SandboxGroup) -> str:
        agent_id, action = command.target, command.action
        if action == "freeze":
            group.freeze(True)
            self._lifts[command.key] = self._quarantine.tools_on(agent_id)
            if self._quarantine.tools_on(agent_id):
                rule = command.key.split("/")[1]
                self._quarantine.add(
                    agent_id, {"tick": self._clock.tick, "key": command.key, "rule": rule}
                )
            return f"{agent_id}: frozen, tools off"
        if action == "throttle":
            before = group.cpu_fraction()
            percent = float(command.params.get("cpu_percent", 25))
            group.set_cpu_fraction(percent / 100)
            self._cpu[command.key] = (group, before)
            return f"{agent_id}: cpu quota {before} -> {percent / 100:g} of a cpu"
        before_pids = group.pids_max()
        current = group.pids_current() or 1
        limit = int(command.params.get("pids", max(8, int(current) + 4)))
        group.set_pids_max(str(limit))
        self._pids[command.key] = (group, before_pids or "max")
        return f"{agent_id}: pids limit {before_pids} -> {limit}"

    def revert(self, command: Command) -> str:
        """Lift the quarantine, thaw, restore the cpu quota or the pids limit.

        Raises:
            ActuatorError: The kernel refused to restore a limit.
        """
        agent_id, action, key = command.target, command.action, command.key
        entry = {"tick": self._clock.tick, "key": key}
        try:
            if action == "quarantine" and self._lifts.pop(key, False):
                self._quarantine.lift(agent_id, entry)
                return f"{agent_id}: tools on; the sandbox starts at its next command"
            if action == "freeze":
                with contextlib.suppress(ActuatorError):
                    self._group(agent_id).freeze(False)
                if self._lifts.pop(key, False):
                    self._quarantine.lift(agent_id, entry)
                return f"{agent_id}: thawed"
            if action == "throttle" and key in self._cpu:
                group, fraction = self._cpu.pop(key)
                group.set_cpu_fraction(fraction)
                return f"{agent_id}: cpu quota back to {fraction}"
            if action == "tighten_budget" and key in self._pids:
                group, pids = self._pids.pop(key)
                group.set_pids_max(pids)
                return f"{agent_id}: pids limit back to {pids}"
        except OSError as exc:
            raise ActuatorError(f"{agent_id}: undo {action}: {exc.strerror}") from None
        return "nothing to undo (a restart has no inverse)"
