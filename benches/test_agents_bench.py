"""The main job's speed: ticks per second of the full workload vs the world alone.

The workload is one simulated hour of the morning shift of the default company (26 agents
on duty) with everything on: the offline provider through the whole gateway pipeline, one
warm sandbox per agent (started and stopped), the audit store (appended per tick, then
checkpointed and verified) and a tenth of the agents attacking. The baseline steps the
same world alone, one tick per call as the runtime does. The gate bounds the slowdown the
agents add, as a ratio of the two medians measured in the same run.
"""

from __future__ import annotations

import itertools
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
MAX_SLOWDOWN = 200.0
"""World alone over the full workload, in ticks per second. Measured on the shared 2-core
machine over two runs: 460-720 ticks/s against 32,000-38,000 (52-71x). Since the work
desks (issue 14: every persona works tickets, the desk's CI runs their tests; 852 sandbox
and WASI commands in the default shift instead of ~165) two runs measured 449 ticks/s
against 62,839 (140x), and 145x; the gate leaves room for a busy neighbour."""

TICKS_PER_S: dict[str, float] = {}


@pytest.mark.timeout(900)
def test_full_workload(benchmark: Any, tmp_path: Path) -> None:
    counter = itertools.count()

    def once() -> None:
        store = tmp_path / f"run-{next(counter)}.db"
        summary = run(RunOptions(config=CONFIG, hours=HOURS, compromised=0.1, store=store))
        assert summary.ok and summary.ticks == TICKS

    benchmark.group = "agents-hour"
    benchmark.extra_info["variant"] = "workload"
    benchmark.pedantic(once, rounds=3, iterations=1)
    if benchmark.stats is not None:
        TICKS_PER_S["workload"] = TICKS / benchmark.stats.stats.median


@pytest.mark.timeout(300)
def test_world_alone(benchmark: Any) -> None:
    company = company_for(load_company(CONFIG), RunOptions(hours=HOURS))

    def once() -> None:
        world = World(company)
        for _ in range(TICKS):
            world.step(1)

    benchmark.group = "agents-hour"
    benchmark.extra_info["variant"] = "world"
    benchmark.pedantic(once, rounds=5, iterations=1)
    if benchmark.stats is not None:
        TICKS_PER_S["world"] = TICKS / benchmark.stats.stats.median


def test_agents_slowdown_gate() -> None:
    if len(TICKS_PER_S) < 2:
        pytest.fail("the agents benchmarks did not record both variants; run the whole file")
    slowdown = TICKS_PER_S["world"] / TICKS_PER_S["workload"]
    print(
        f"\nticks/s: workload {TICKS_PER_S['workload']:.0f}, world alone "
        f"{TICKS_PER_S['world']:.0f}, slowdown {slowdown:.1f}x (gate {MAX_SLOWDOWN}x)"
    )
    assert slowdown <= MAX_SLOWDOWN
