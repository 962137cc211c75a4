"""The main job's speed: ticks per second of the full workload vs the world alone.

The workload is one simulated hour of the morning shift of the default company (26 agents
on duty) with everything on: the offline provider through the whole gateway pipeline, one
warm sandbox per agent (started and stopped), the audit store (appended per tick, then
checkpointed and verified) and a tenth of the agents attacking. The baseline steps the
same world alone, one tick per call as the runtime does. The gate bounds the slowdown the
agents add.

Both are timed in pairs, one right after the other, the order alternating from pair to
pair: the world alone (three hours of it, their median) next to one workload run. The gate is the median of the pairs' slowdowns, so each ratio divides two
times taken at about the same moment: timed as two separate benchmarks, the world's
0.3 s of rounds could fall on a quiet stretch and the workload's 25 s on a busy one (CI
once read 374x that way, against 140x on a quiet machine).
"""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from benches.conftest import paired_ratio
from sentinel.agents import RunOptions, run
from sentinel.agents.options import company_for
from sentinel.config import load_company
from sentinel.world import World

CONFIG = Path(__file__).resolve().parents[1] / "config"
HOURS = 1.0
TICKS = 3600
MAX_SLOWDOWN = 200.0
"""World alone over the full workload, in ticks per second. Measured on the shared 2-core
machine over two runs: 460-720 ticks/s against 32,000-38,000 (52-71x). Since the work
desks (issue 14: every persona works tickets, the desk's CI runs their tests; 852 sandbox
and WASI commands in the default shift instead of ~165) two runs measured 449 ticks/s
against 62,839 (140x), and 145x; the gate leaves room for a busy neighbour."""
PAIRS = 3
"""Workload/world pairs (a workload run takes 8 s on a quiet machine, 25 s or more loaded)."""
WORLD_HOURS_PER_PAIR = 3
"""World-alone runs per pair (~60 ms each): a median of three, not one 60 ms sample."""

SECONDS: dict[str, list[float]] = {"workload": [], "world": []}
"""Seconds per simulated hour, by variant, in pair order."""


@pytest.mark.timeout(900)
def test_full_workload_and_world_alone(benchmark: Any, tmp_path: Path) -> None:
    counter = itertools.count()
    company = company_for(load_company(CONFIG), RunOptions(hours=HOURS))

    def workload() -> None:
        store = tmp_path / f"run-{next(counter)}.db"
        started = time.perf_counter()
        summary = run(RunOptions(config=CONFIG, hours=HOURS, compromised=0.1, store=store))
        SECONDS["workload"].append(time.perf_counter() - started)
        assert summary.ok and summary.ticks == TICKS

    def world_alone() -> None:
        hours = []
        for _ in range(WORLD_HOURS_PER_PAIR):
            started = time.perf_counter()
            world = World(company)
            for _ in range(TICKS):
                world.step(1)
            hours.append(time.perf_counter() - started)
        SECONDS["world"].append(statistics.median(hours))

    def pair() -> None:
        first_world = len(SECONDS["world"]) % 2 == 1
        for step in (world_alone, workload) if first_world else (workload, world_alone):
            step()

    benchmark.group = "agents-hour"
    benchmark.extra_info["variant"] = f"one workload hour + {WORLD_HOURS_PER_PAIR} world hours"
    benchmark.pedantic(pair, rounds=PAIRS, iterations=1)


def test_agents_slowdown_gate() -> None:
    """The median over the pairs of workload seconds / world-alone seconds (a tick each)."""
    if not SECONDS["workload"] or len(SECONDS["workload"]) != len(SECONDS["world"]):
        pytest.fail("the agents benchmark did not record its pairs; run the whole file")
    slowdown = paired_ratio(SECONDS["workload"], SECONDS["world"])
    workload, world = (TICKS / statistics.median(SECONDS[v]) for v in ("workload", "world"))
    pairs = [round(a / b) for a, b in zip(SECONDS["workload"], SECONDS["world"], strict=True)]
    print(
        f"\nticks/s, medians: workload {workload:.0f}, world alone {world:.0f}; slowdown of "
        f"each pair {pairs}, median {slowdown:.1f}x (gate {MAX_SLOWDOWN}x)"
    )
    assert slowdown <= MAX_SLOWDOWN
