"""The control planes' speed: one rule-set evaluation, one plane iteration over 1,000 agents.

Goals (issue 15): a rule-set evaluation at most 10 us at the median; one plane iteration
over 1,000 agents at most 1 ms. Absolute times are reported (``extra_info`` and
docs/architecture.md), never asserted; the gate is a ratio measured in the same run: the
vectorised ``decide`` over 1,000 agents against its per-row reference ``decide_row`` in a
Python loop over the same rows (the reference a native rewrite would be pinned to).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final

import numpy as np
import pytest

from benches.conftest import MEDIANS, speedup
from sentinel.control import (
    Actuator,
    Command,
    ControlPlane,
    Observation,
    Policy,
    decide,
    decide_row,
)
from sentinel.control.agent_plane import AGENT_METRICS
from sentinel.control.clock import VirtualClock

AGENTS: Final = 1000
MIN_VECTOR_SPEEDUP: Final = 5.0
"""decide over 1,000 agents against decide_row looped over them; measured ~60-90x on the
shared 2-core machine (other helpers' tests running); the gate leaves room."""
POLICY = Policy.default()


def _observation(tick: int, seed: int = 7, top: float = 91.0) -> Observation:
    """1,000 agents with needs spread up to ``top`` (91: about 1 % in each incident, as an
    office; 100: 10-15 %, a storm)."""
    rng = np.random.default_rng(seed + tick)
    columns = {
        "hunger": rng.uniform(0, top, AGENTS), "energy": rng.uniform(100 - top + 5, 100, AGENTS),
        "bladder": rng.uniform(0, top, AGENTS), "stress": rng.uniform(0, top - 5, AGENTS),
        "social": rng.uniform(0, 100, AGENTS), "valence": rng.uniform(-1, 1, AGENTS),
        "in_meeting": (rng.uniform(0, 1, AGENTS) < 0.1).astype(float),
        "room_stressed": rng.integers(0, 5, AGENTS).astype(float),
        "deadline": (rng.uniform(0, 1, AGENTS) < 0.3).astype(float),
    }  # fmt: skip
    return Observation("agent", tick, tuple(f"AGENT-{n:04d}" for n in range(AGENTS)), columns)


class _Counting(Actuator):
    """The agent plane's actions, counted (the world is not what is timed here)."""

    plane: ClassVar[str] = "agent"
    actions: ClassVar[frozenset[str]] = frozenset(
        {"enforce_lunch", "coffee_break", "send_to_bathroom", "send_to_break_room",
         "lower_workload", "move_meeting"}
    )  # fmt: skip

    def apply(self, command: Command) -> str:
        return "counted"

    def revert(self, command: Command) -> str:
        return "uncounted"


@pytest.fixture
def timed(benchmark: Any) -> Callable[..., Any]:
    def run(group: str, variant: str, fn: Callable[[], Any]) -> Any:
        benchmark.group = group
        benchmark.extra_info["variant"] = variant
        result = benchmark(fn)
        if benchmark.stats is not None:
            MEDIANS[(group, variant)] = benchmark.stats.stats.median
            benchmark.extra_info["median_us"] = round(benchmark.stats.stats.median * 1e6, 2)
        return result

    return run


def test_rule_set_one_agent(timed: Callable[..., Any]) -> None:
    row = {"hunger": 95.0, "energy": 40.0, "bladder": 20.0, "stress": 70.0, "social": 50.0,
           "valence": 0.1, "in_meeting": 1.0, "room_stressed": 3.0, "deadline": 1.0}  # fmt: skip
    fired = timed("control-rules", "one-agent", lambda: decide_row(row, POLICY, "agent"))
    assert fired == ["agent.starving", "agent.meeting_stress"]


def test_rule_set_1000_agents_vectorised(timed: Callable[..., Any]) -> None:
    observation = _observation(0)
    timed("control-rules-1000", "native", lambda: decide(observation, POLICY))


def test_rule_set_1000_agents_per_row(timed: Callable[..., Any]) -> None:
    observation = _observation(0)
    rows = [observation.row(t) for t in observation.targets]
    timed(
        "control-rules-1000", "reference",
        lambda: [decide_row(row, POLICY, "agent") for row in rows],
    )  # fmt: skip


def _drifting(ticks: int) -> list[Observation]:
    """An office of 1,000: needs spread up to 91 (about 1 % per incident at the start),
    drifting a little each minute (level-triggered steady state: incidents persist, few are
    new in any one iteration; nothing is fixed, as the counting actuator changes nothing)."""
    rng = np.random.default_rng(11)
    first = _observation(0)
    columns = {name: column.copy() for name, column in first.columns.items()}
    drifting = ("hunger", "energy", "bladder", "stress", "social")
    observations = []
    for tick in range(0, ticks * 60, 60):
        for name in drifting:
            columns[name] = np.clip(columns[name] + rng.normal(0, 0.5, AGENTS), 0, 100)
        snapshot = {name: column.copy() for name, column in columns.items()}
        observations.append(Observation("agent", tick, first.targets, snapshot))
    return observations


@pytest.mark.parametrize("variant", ["office", "storm"])
def test_plane_iteration_1000_agents(timed: Callable[..., Any], variant: str) -> None:
    """``office``: drifting needs; ``storm``: every need drawn afresh each iteration (every
    iteration many new incidents: the worst case for acting and verifying)."""
    clock = VirtualClock()
    plane = ControlPlane("agent", POLICY, _observation, _Counting(), AGENT_METRICS, clock)
    if variant == "office":
        observations = _drifting(400)
    else:
        observations = [_observation(tick, top=100.0) for tick in range(0, 60 * 400, 60)]
    for observation in observations[:50]:  # steady state: cooldowns and verifications open
        plane.step(observation)
    rest = iter(observations[50:] * 100)

    def once() -> None:
        plane.step(next(rest))

    timed("control-plane", f"iteration-1000-{variant}", once)
    assert plane.counters["actions"] > 0


def test_gate_vectorised_decide() -> None:
    ratio = speedup("control-rules-1000")
    assert ratio >= MIN_VECTOR_SPEEDUP, f"decide only {ratio:.1f}x the per-row reference"
