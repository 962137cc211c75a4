"""What the kernel probes cost the main job: the programs switched on and off in blocks.

Two runs of the main job, one with probes and one without, differ by more than the probes:
on this two-core VM identical runs differ by up to 15 % in wall time, so a 5 % goal cannot
be told from the noise by comparing whole runs. And one run cut into blocks cannot compare
its blocks with each other: their work differs a hundredfold (agents walking in, a burst of
tool work, a quiet stretch). So the measure is a crossover of two runs of the same job (same
seed, same work tick for tick), each cut into blocks of ``block_ticks`` ticks with the
probe's programs attached in every other block (:meth:`ProbeSession.set_attached`; the
watched groups, slots and totals stay): run A starts detached, run B attached. Every block
is then timed once with the programs and once without, on the same work, and each run is
half attached, half detached, so what slows one run as a whole falls on both arms alike.

A block is timed from its first tick to the next block's first tick: everything the main
job does in it (the world, the gateway, the sandboxes and the commands they run, the audit
store, the control planes). The switch itself (about a millisecond) is outside the timing.
Before an attached block ends, the recorder drains what the kernel queued, so the records'
cost falls in the block that caused them. What the design cannot see is the probes' fixed
cost (loading, ~30-40 ms, overlapped with the run's own start; closing, 4-9 ms) and watching
each new sandbox group (one map update, done in both arms).

While a block is detached the kernel counts nothing: the run's probe totals and the platform
plane's probe metrics then cover the attached blocks only. The run's options record the
blocks (``probe_blocks``, ``probe_first``) and a ``probe.overhead`` event on the probes
stream times them, so nobody reads those totals as complete.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np

from sentinel.errors import InvalidInputError
from sentinel.probes.recorder import ProbeRecorder

Arm = Literal["on", "off"]
GOAL: Final = 1.05
"""The probes' goal: the main job's wall time with them at most 5 % over without."""
RESAMPLES: Final = 4000
"""Bootstrap resamples of the pairs for the interval."""


@dataclass(frozen=True)
class Block:
    """One timed block: its arm, first tick, ticks and wall seconds, and where the CPU went.

    Attributes:
        main_cpu_s: CPU time of the thread that runs the ticks.
        process_cpu_s: CPU time of this process, every thread (the recorder's, the probe's).
        children_cpu_s: CPU time of child processes reaped in the block (the sandboxes'
            commands that ended in it).
    """

    arm: Arm
    first_tick: int
    ticks: int
    seconds: float
    main_cpu_s: float = 0.0
    process_cpu_s: float = 0.0
    children_cpu_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "arm": self.arm,
            "first_tick": self.first_tick,
            "ticks": self.ticks,
            "seconds": round(self.seconds, 6),
            "main_cpu_s": round(self.main_cpu_s, 6),
            "process_cpu_s": round(self.process_cpu_s, 6),
            "children_cpu_s": round(self.children_cpu_s, 6),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Block:
        """A block as :meth:`to_dict` wrote it (a ``probe.overhead`` event's)."""
        arm: Arm = "on" if data["arm"] == "on" else "off"
        cpu = (float(data.get(name, 0.0)) for name in CPU_FIELDS)
        return cls(arm, int(data["first_tick"]), int(data["ticks"]), float(data["seconds"]), *cpu)


CPU_FIELDS: Final = ("main_cpu_s", "process_cpu_s", "children_cpu_s")
"""Where a block's CPU went, as :class:`Block` names it."""


@dataclass(frozen=True)
class Clocks:
    """The clocks a block is timed on, read at one moment."""

    wall: float
    main_cpu: float
    process_cpu: float
    children_cpu: float

    @classmethod
    def now(cls) -> Clocks:
        """Read them (``main_cpu`` is the calling thread's)."""
        times = os.times()
        return cls(
            time.perf_counter(),
            time.thread_time(),
            time.process_time(),
            times.children_user + times.children_system,
        )


def other(arm: Arm) -> Arm:
    """The other arm."""
    return "on" if arm == "off" else "off"


def arm_of(index: int, first: Arm) -> Arm:
    """The arm of block ``index`` of a run whose first block is ``first``."""
    return first if index % 2 == 0 else other(first)


@dataclass(frozen=True)
class OverheadEstimate:
    """The estimate from pairs of blocks of the same work, one attached and one detached.

    Attributes:
        pairs: Complete pairs of full blocks, each ``(on_seconds, off_seconds)``.
        ratio: Sum of the attached blocks' seconds over the detached ones'.
        low: Lower end of the bootstrap 95 % interval of ``ratio`` (pairs resampled).
        high: Upper end of that interval.
        median_paired: Median over the pairs of on / off.
    """

    pairs: list[tuple[float, float]]
    ratio: float
    low: float
    high: float
    median_paired: float

    @property
    def on_seconds(self) -> float:
        """The attached blocks' wall time in all."""
        return sum(on for on, _ in self.pairs)

    @property
    def off_seconds(self) -> float:
        """The detached blocks' wall time in all."""
        return sum(off for _, off in self.pairs)

    @property
    def verdict(self) -> str:
        """``met`` (the interval below the goal), ``missed`` (above) or ``undecided``."""
        if self.high <= GOAL:
            return "met"
        if self.low > GOAL:
            return "missed"
        return "undecided"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "pairs": len(self.pairs),
            "ratio": round(self.ratio, 4),
            "interval_95": [round(self.low, 4), round(self.high, 4)],
            "median_paired": round(self.median_paired, 4),
            "goal": GOAL,
            "verdict": self.verdict,
            "on_seconds": round(self.on_seconds, 4),
            "off_seconds": round(self.off_seconds, 4),
        }


def crossover_pairs(
    first: list[Block], second: list[Block], block_ticks: int
) -> list[tuple[Block, Block]]:
    """``(attached, detached)`` of each block the two runs both ran whole, in opposite arms.

    Raises:
        InvalidInputError: A block of one run starts at another tick, or in the same arm, as
            the other run's block of that number (not two crossover runs of one job).
    """
    pairs = []
    for index, (one, two) in enumerate(zip(first, second, strict=False)):
        if one.first_tick != two.first_tick or one.arm == two.arm:
            raise InvalidInputError(
                f"block {index}: tick {one.first_tick} {one.arm} against tick "
                f"{two.first_tick} {two.arm}; the runs must switch at the same ticks, oppositely"
            )
        if one.ticks != block_ticks or two.ticks != block_ticks:
            continue  # a run's last block, cut short
        pairs.append((one, two) if one.arm == "on" else (two, one))
    return pairs


def cpu_split(pairs: list[tuple[Block, Block]]) -> dict[str, dict[str, float]]:
    """Each CPU clock's total over the attached and the detached blocks of ``pairs``.

    Where the attached blocks' extra wall time went (:data:`CPU_FIELDS`).
    """
    return {
        name: {
            "on": round(sum(getattr(on, name) for on, _ in pairs), 4),
            "off": round(sum(getattr(off, name) for _, off in pairs), 4),
        }
        for name in CPU_FIELDS
    }


def estimate(pairs: list[tuple[float, float]], seed: int = 0) -> OverheadEstimate:
    """The overhead from ``(on_seconds, off_seconds)`` pairs of blocks of the same work.

    Raises:
        InvalidInputError: Fewer than two pairs.
    """
    if len(pairs) < 2:
        raise InvalidInputError(
            f"{len(pairs)} pair(s) of blocks: at least 2 are needed (run longer or use "
            "shorter blocks)"
        )
    on_s = np.array([on for on, _ in pairs])
    off_s = np.array([off for _, off in pairs])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(pairs), size=(RESAMPLES, len(pairs)))
    ratios = on_s[picks].sum(axis=1) / off_s[picks].sum(axis=1)
    low, high = np.quantile(ratios, [0.025, 0.975])
    return OverheadEstimate(
        pairs=pairs,
        ratio=float(on_s.sum() / off_s.sum()),
        low=float(low),
        high=float(high),
        median_paired=float(np.median(on_s / off_s)),
    )


@dataclass
class ProbeSwitch:
    """Switch a run's probes on and off in blocks and time the blocks (see the module doc).

    Call :meth:`before_tick` before every tick of the run and :meth:`finish` after its last.

    Args:
        recorder: The run's probe recorder (its session is switched).
        block_ticks: Ticks per block.
        first: The first block's arm.
    """

    recorder: ProbeRecorder
    block_ticks: int
    first: Arm = "off"
    blocks: list[Block] = field(default_factory=list)
    _ticks: int = 0
    _block_start: Clocks | None = None
    _first_tick: int = 0

    def __post_init__(self) -> None:
        if self.block_ticks < 1:
            raise InvalidInputError(f"probe blocks must be at least 1 tick, got {self.block_ticks}")

    def _arm(self) -> Arm:
        return arm_of(len(self.blocks), self.first)

    def before_tick(self) -> None:
        """Called before each tick: at a block's boundary, close the block and switch."""
        if self._ticks % self.block_ticks == 0:
            if self._ticks:
                self._close_block()
            self.recorder.session.set_attached(self._arm() == "on")
            self._first_tick = self._ticks
            self._block_start = Clocks.now()
        self._ticks += 1

    def _close_block(self) -> None:
        arm = self._arm()
        if arm == "on":
            self.recorder.flush()  # the records' cost in the block that caused them
        end, start = Clocks.now(), self._block_start
        if start is None:
            raise InvalidInputError("a probe block closed before it started")
        self.blocks.append(
            Block(
                arm,
                self._first_tick,
                self._ticks - self._first_tick,
                end.wall - start.wall,
                end.main_cpu - start.main_cpu,
                end.process_cpu - start.process_cpu,
                end.children_cpu - start.children_cpu,
            )
        )

    def finish(self) -> dict[str, Any]:
        """After the last tick: close the last block and attach again; the run's blocks."""
        if self._ticks:
            self._close_block()
        self.recorder.session.set_attached(True)
        return {
            "block_ticks": self.block_ticks,
            "first": self.first,
            "blocks": [block.to_dict() for block in self.blocks],
        }
