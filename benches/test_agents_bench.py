"""The main job's speed: ticks per second of the full workload vs the world alone.

The workload is one simulated hour of the morning shift of the default company (26 agents
on duty) with everything on: the offline provider through the whole gateway pipeline, one
warm sandbox per agent (started and stopped), the audit store (appended per tick, then
checkpointed and verified) and a tenth of the agents attacking. The baseline steps the
same world alone, one tick per call as the runtime does. The gate bounds the slowdown the
agents add.

Both are timed in one sequence, the world alone in blocks of ten hours around each
workload run: world, workload, world, workload, world, workload, world. Each workload run
is compared with the world's per-hour time over the two blocks around it, and the gates
take the median of those paired ratios: each divides two times taken over about the same
stretch of the machine's load. Timed as two separate benchmarks, the world's 0.3 s of
rounds could fall on a quiet stretch and the workload's 25-40 s on a busy one (CI read
374x that way, against 140x on a quiet machine); paired with only three world hours (a few
hundred milliseconds) next to each run, single pairs still ranged 109-355x at a load of 6.

Two gates: wall time (ticks per second, what the goal is about) and CPU time (this process
and its reaped children, the sandboxes). Under load the wall-time slowdown grows whatever
the pairing: at a load of 6-8 the workload ran on 6.4-11.7 s of CPU in 32-41 s of wall
time (processes started, woken and waited for: it waits more than it computes), the world
alone on ~0.09 s of CPU in ~0.17 s an hour, so the workload's wall time stretched more
(medians of the paired wall-time slowdowns 156-274x at a load of 4-8, against 140x quiet). CPU time leaves
the waiting out, so its gate can be the tight one.
"""

from __future__ import annotations

import itertools
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from sentinel.agents import RunOptions, run
from sentinel.agents.options import company_for
from sentinel.config import load_company
from sentinel.world import World

CONFIG = Path(__file__).resolve().parents[1] / "config"
HOURS = 1.0
TICKS = 3600
MAX_SLOWDOWN = 400.0
"""Gate on the wall-time slowdown (median of the paired ratios). Measured on the shared
2-core machine: 460-720 ticks/s against 32,000-38,000 (52-71x) before the work desks;
since them (issue 14: 852 sandbox and WASI commands in the default shift instead of ~165)
140x and 145x on a quiet machine, two benchmarks timed apart. Paired, at a load of 6-8
(other helpers' builds and tests): medians 171x, 222x and 274x with three world hours a
pair, 221x, 199x and 156x (load 4-8) with the ten-hour blocks; single pairs 109-355x. The wall-time slowdown grows with the load (see the module
docstring), so this gate only catches a gross regression; the CPU gate is the tight one."""
MAX_CPU_SLOWDOWN = 150.0
"""Gate on the CPU-time slowdown (median of the paired ratios): 103x, 97x, 88x, 81x and 82x
over five runs at a load of 4-8 (single pairs 72-139x, the highest each time the
process's first workload run, which pays for imports and first builds)."""
PAIRS = 3
"""Workload runs (8 s each on a quiet machine, 35-40 s at a load of 6)."""
WORLD_HOURS_PER_BLOCK = 10
"""World-alone hours per block (~0.6 s quiet, ~3 s at a load of 6): long enough to sample
the load of the moment, not one burst of it."""

SECONDS: dict[str, list[float]] = {"workload": [], "world": []}
"""Wall seconds per simulated hour: each workload run, each world block's mean."""
CPU_SECONDS: dict[str, list[float]] = {"workload": [], "world": []}
"""CPU seconds per simulated hour (this process and its reaped children: the sandboxes)."""


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.mark.timeout(900)
def test_full_workload_and_world_alone(benchmark: Any, tmp_path: Path) -> None:
    counter = itertools.count()
    company = company_for(load_company(CONFIG), RunOptions(hours=HOURS))

    def workload() -> None:
        store = tmp_path / f"run-{next(counter)}.db"
        started, cpu = time.perf_counter(), _cpu_s()
        summary = run(RunOptions(config=CONFIG, hours=HOURS, compromised=0.1, store=store))
        SECONDS["workload"].append(time.perf_counter() - started)
        CPU_SECONDS["workload"].append(_cpu_s() - cpu)
        assert summary.ok and summary.ticks == TICKS

    def world_alone() -> None:
        started, cpu = time.perf_counter(), _cpu_s()
        for _ in range(WORLD_HOURS_PER_BLOCK):
            world = World(company)
            for _ in range(TICKS):
                world.step(1)
        SECONDS["world"].append((time.perf_counter() - started) / WORLD_HOURS_PER_BLOCK)
        CPU_SECONDS["world"].append((_cpu_s() - cpu) / WORLD_HOURS_PER_BLOCK)

    def workload_then_world() -> None:
        workload()
        world_alone()

    world_alone()  # the block before the first workload run
    benchmark.group = "agents-hour"
    benchmark.extra_info["variant"] = f"one workload hour, then {WORLD_HOURS_PER_BLOCK} world hours"
    benchmark.pedantic(workload_then_world, rounds=PAIRS, iterations=1)


def _slowdowns(series: dict[str, list[float]]) -> list[float]:
    """Each workload run over the mean of the world blocks just before and after it."""
    world = series["world"]
    return [spent / ((world[n] + world[n + 1]) / 2) for n, spent in enumerate(series["workload"])]


def test_agents_slowdown_gate() -> None:
    """The median over the workload runs of workload / world alone, per simulated hour, in
    wall time and in CPU time."""
    if not SECONDS["workload"] or len(SECONDS["world"]) != len(SECONDS["workload"]) + 1:
        pytest.fail("the agents benchmark did not record its sequence; run the whole file")
    wall, cpu = _slowdowns(SECONDS), _slowdowns(CPU_SECONDS)
    workload, world = (TICKS / statistics.median(SECONDS[v]) for v in ("workload", "world"))
    print(
        f"\nticks/s, medians: workload {workload:.0f}, world alone {world:.0f}; slowdown of "
        f"each run {[round(r) for r in wall]}, median {statistics.median(wall):.1f}x (gate "
        f"{MAX_SLOWDOWN}x); cpu seconds a simulated hour {CPU_SECONDS}, slowdown of each run "
        f"{[round(r) for r in cpu]}, median {statistics.median(cpu):.1f}x (gate "
        f"{MAX_CPU_SLOWDOWN}x)"
    )
    assert statistics.median(wall) <= MAX_SLOWDOWN
    assert statistics.median(cpu) <= MAX_CPU_SLOWDOWN
