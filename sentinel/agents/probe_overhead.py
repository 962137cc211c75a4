"""Measure what the kernel probes cost the main job on this host: crossover runs.

After one untimed warm-up run (a process's first run pays for imports and first builds),
each round runs the main job twice with the same seed, its probes switched in blocks
(:mod:`sentinel.probes.overhead`): once starting detached, once attached, the order of the
two alternating from round to round. The two runs must do the same work (the same final
world state, decisions, tool calls and tickets); a pair that did not is refused rather than
measured. ``sentinel-run probe overhead`` prints the result.
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sentinel.agents.options import RunOptions
from sentinel.agents.runtime import RunSummary, run
from sentinel.errors import InvalidInputError
from sentinel.probes.overhead import (
    Arm,
    Block,
    OverheadEstimate,
    cpu_split,
    crossover_pairs,
    estimate,
    other,
)

WARMUP_HOURS: Final = 0.25
"""The untimed first run's simulated hours."""


@dataclass(frozen=True)
class TimedRun:
    """One run of a round: its first arm, wall seconds and blocks."""

    first: Arm
    wall_s: float
    blocks: list[Block]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the blocks counted, not listed)."""
        return {"first": self.first, "wall_s": round(self.wall_s, 3), "blocks": len(self.blocks)}


@dataclass
class ProbeOverhead:
    """The crossover's runs and the estimate over all their pairs of blocks."""

    hours: float
    block_ticks: int
    runs: list[TimedRun] = field(default_factory=list)
    pairs: list[tuple[Block, Block]] = field(default_factory=list)
    """Each block's ``(attached, detached)`` timings."""

    @property
    def estimate(self) -> OverheadEstimate:
        """The overhead over every pair (raises InvalidInputError below two pairs)."""
        return estimate([(on.seconds, off.seconds) for on, off in self.pairs])

    @property
    def cpu(self) -> dict[str, dict[str, float]]:
        """Where the CPU went, attached and detached (:func:`cpu_split`)."""
        return cpu_split(self.pairs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "hours": self.hours,
            "block_ticks": self.block_ticks,
            "runs": [timed.to_dict() for timed in self.runs],
            **self.estimate.to_dict(),
            "cpu_s": self.cpu,
        }


def _work(summary: RunSummary) -> tuple[Any, ...]:
    """What must be equal for two runs to have done the same work."""
    return (
        summary.ticks,
        summary.state_hash,
        summary.tool_calls,
        sorted(summary.decisions.items()),
        sorted(summary.work.items()),
    )


def measure_probe_overhead(
    options: RunOptions,
    *,
    block_ticks: int,
    rounds: int = 1,
    directory: Path | None = None,
    on_run: Callable[[str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ProbeOverhead:
    """Run the crossover: ``rounds`` pairs of runs of ``options``'s job, probes switched.

    Args:
        options: The job (its store and probe fields are replaced per run).
        block_ticks: Ticks per block.
        rounds: Pairs of runs.
        directory: Where the runs' stores go (each removed once read; default: a temporary
            directory).
        on_run: Called with a description as each run starts.
        progress: Each run's ``progress(ticks_done, ticks_total)``.

    Raises:
        InvalidInputError: ``rounds`` below 1, a run not ok, or the two runs of a round did
            different work.
        ProbeUnavailable: The host cannot load the probes.
    """
    if rounds < 1:
        raise InvalidInputError(f"--rounds must be at least 1, got {rounds}")
    measured = ProbeOverhead(options.duration_hours, block_ticks)
    with tempfile.TemporaryDirectory(prefix="sentinel-probe-overhead-", dir=directory) as tmp:
        counter = itertools.count()

        def one(first: Arm | None, hours: float | None) -> RunSummary:
            store = Path(tmp) / f"run-{next(counter)}.db"
            job = dataclasses.replace(
                options,
                store=store,
                probes="on",
                hours=hours,
                probe_blocks=block_ticks if first else 0,
                probe_first=first or "off",
            )
            summary = run(job, progress=progress)
            store.unlink(missing_ok=True)
            if not (summary.ok and summary.chain_verified):
                raise InvalidInputError(f"a run of the main job failed: {summary.store}")
            return summary

        if on_run is not None:
            on_run(f"warm-up: {WARMUP_HOURS} simulated hours, untimed")
        one(None, WARMUP_HOURS)
        for number in range(rounds):
            first: Arm = "off" if number % 2 == 0 else "on"
            done: dict[Arm, tuple[RunSummary, list[Block]]] = {}
            for arm in (first, other(first)):
                if on_run is not None:
                    on_run(f"round {number + 1} of {rounds}: the run that starts probes {arm}")
                summary = one(arm, options.hours)
                blocks = [Block.from_dict(b) for b in summary.probes["overhead"]["blocks"]]
                done[arm] = (summary, blocks)
                measured.runs.append(TimedRun(arm, summary.wall_s, blocks))
            if _work(done["off"][0]) != _work(done["on"][0]):
                raise InvalidInputError(
                    f"round {number + 1}: the two runs did different work (world state, "
                    "decisions, tool calls or tickets differ), so their blocks do not compare"
                )
            measured.pairs += crossover_pairs(done["off"][1], done["on"][1], block_ticks)
    return measured
