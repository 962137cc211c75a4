"""What a run is asked to do: roster, shift, duration, seed, red team, store, provider."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from sentinel.agents.sandbox_pool import DEFAULT_CAPACITY
from sentinel.audit.location import default_store
from sentinel.config import DEFAULT_COMPANY
from sentinel.config.company import Company
from sentinel.config.roster_growth import grow_roster
from sentinel.errors import InvalidInputError

ShiftName = Literal["morning", "evening", "night", "all"]
SHIFTS: Final[dict[str, int]] = {"morning": 1, "evening": 2, "night": 3}
"""Shift names and the shift set they start with (``all``: the morning's, for 24 hours)."""
CONTROL_FEEDS: Final = ("tick", "committed", "bus")
"""What the control planes' observers read each tick (:attr:`RunOptions.control_feed`)."""
SHIFT_HOURS: Final = 8
"""A shift lasts 8 hours (SEED_NOTES, World); ``all`` is three of them."""


@dataclass(frozen=True)
class RunOptions:
    """One run of the main job.

    Args:
        config: The company directory (personas, rooms, simulation, gateway.toml).
        agents: The first ``agents`` personas of the roster (None: all of them); more than
            the roster holds: the roster and new personas drawn from the seed.
        shift: Which shift to run; the world starts at its first hour.
        hours: Simulated hours (None: 8, or 24 for ``all``).
        seed: The world's seed (None: the company's).
        compromised: Share of the agents on duty that are red-team agents, in [0, 1].
        store: The audit store file (created; must not exist yet; default:
            :func:`sentinel.audit.location.default_store`).
        provider: ``offline`` or a model name forwarded through litellm.
        sandboxes: The most warm sandboxes alive at once (agents doing tool work hold one;
            the idle longest is closed for a newcomer, its workspace kept).
        control: Run the control planes (sentinel.control; the company's ``control.toml``,
            else the embedded default).
        probes: Kernel probes on the agents' sandboxes: ``auto`` (when the host can load
            them), ``on`` (fail when it cannot) or ``off``.
        workspace_fs: The agents' workspaces: ``ext4`` (the quota file system of the
            policy's ``disk_mb``) or ``cas`` (content-addressed mounts on one object store
            next to the audit store, snapshotted at tick boundaries; :mod:`sentinel.cas`).
        staggered: Agents walk in one by one over the shift's first half hour (False: all
            at once, at the shift's first tick).
        control_feed: What the planes' observers read each tick: ``tick`` (the tick's own
            events, before they are stored), ``committed`` (the batch committed at the end
            of the previous tick) or ``bus`` (that batch as received on the run's bus,
            behind a barrier; needs a bus), the agent plane then observing the people from
            the ``agent.state`` in that batch. ``committed`` and ``bus`` decide alike, and
            differently from ``tick`` (their input is one tick later).
        probe_blocks: Measure what the kernel probes cost: switch their programs off and
            on every this many ticks (:mod:`sentinel.probes.overhead`; needs ``probes =
            "on"``; the probe totals then cover the attached blocks only). 0: they stay on.
        probe_first: With ``probe_blocks``, the first block's arm: ``off`` or ``on``.
    """

    config: Path = DEFAULT_COMPANY
    agents: int | None = None
    shift: ShiftName = "morning"
    hours: float | None = None
    seed: int | None = None
    compromised: float = 0.0
    store: Path = field(default_factory=default_store)
    provider: str = "offline"
    sandboxes: int = DEFAULT_CAPACITY
    control: bool = True
    probes: str = "auto"
    workspace_fs: str = "ext4"
    staggered: bool = True
    control_feed: str = "tick"
    probe_blocks: int = 0
    probe_first: str = "off"

    def __post_init__(self) -> None:
        if self.shift not in (*SHIFTS, "all"):
            raise InvalidInputError(
                f"unknown shift {self.shift!r}; use morning, evening, night or all"
            )
        if self.agents is not None and self.agents < 1:
            raise InvalidInputError(f"--agents must be at least 1, got {self.agents}")
        if self.hours is not None and not 0 < self.hours <= 24 * 7:
            raise InvalidInputError(f"--hours must be in (0, 168], got {self.hours}")
        if self.sandboxes < 1:
            raise InvalidInputError(f"--sandboxes must be at least 1, got {self.sandboxes}")
        if self.probes not in ("auto", "on", "off"):
            raise InvalidInputError(f"--probes must be auto, on or off, got {self.probes!r}")
        if self.workspace_fs not in ("ext4", "cas"):
            raise InvalidInputError(
                f"--workspace-fs must be ext4 or cas, got {self.workspace_fs!r}"
            )
        if self.control_feed not in CONTROL_FEEDS:
            raise InvalidInputError(
                f"--control-feed must be tick, committed or bus, got {self.control_feed!r}"
            )
        if self.control_feed != "tick" and not self.control:
            raise InvalidInputError(f"--control-feed {self.control_feed} needs the control planes")
        if self.probe_blocks < 0:
            raise InvalidInputError(f"probe_blocks must be 0 or more, got {self.probe_blocks}")
        if self.probe_first not in ("off", "on"):
            raise InvalidInputError(f"probe_first must be off or on, got {self.probe_first!r}")
        if self.probe_blocks and self.probes != "on":
            raise InvalidInputError(
                f"switching the probes in blocks needs --probes on, got {self.probes!r}"
            )
        if not 0.0 <= self.compromised <= 1.0:
            raise InvalidInputError(f"--compromised must be in [0, 1], got {self.compromised}")

    @property
    def duration_hours(self) -> float:
        """Simulated hours to run."""
        if self.hours is not None:
            return self.hours
        return 3 * SHIFT_HOURS if self.shift == "all" else SHIFT_HOURS

    def ticks(self, company: Company) -> int:
        """Ticks to run: the duration over the simulation's seconds per tick."""
        return max(1, math.ceil(self.duration_hours * 3600 / company.simulation.time_scale))

    def to_record(self) -> dict[str, Any]:
        """JSON-ready fields, as the ``runtime.started`` event keeps them for replay."""
        data = asdict(self)
        data["config"] = str(self.config.resolve())
        data["store"] = str(self.store)
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> RunOptions:
        """The options a ``runtime.started`` event recorded."""
        fields = dict(data)
        fields["config"] = Path(fields["config"])
        fields["store"] = Path(fields["store"])
        fields.setdefault("control", False)  # recorded before the planes existed: none ran
        fields.setdefault("staggered", False)  # recorded before: everyone arrived at once
        return cls(**fields)


def company_for(company: Company, options: RunOptions) -> Company:
    """The company as the run sees it: the roster cut to ``agents``, the clock at the shift."""
    personas = list(company.personas)
    if options.agents is not None:
        # Never run silently fewer agents than asked: beyond the roster, new colleagues
        # are drawn from the seed with Gaia's rules (sentinel.config.roster_growth).
        seed = company.simulation.seed if options.seed is None else options.seed
        personas = list(grow_roster(personas, options.agents, seed))[: options.agents]
    start = company.simulation.start_hour
    if options.shift in SHIFTS:
        wanted = SHIFTS[options.shift]
        start = next(s.start_hour for s in company.simulation.shifts if s.set == wanted)
    simulation = company.simulation.model_copy(update={"start_hour": start})
    return dataclasses.replace(company, personas=tuple(personas), simulation=simulation)
