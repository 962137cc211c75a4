"""The control planes' speed: one rule-set evaluation, one plane iteration over 1,000 agents.

Goals (issue 15): a rule-set evaluation at most 10 us at the median; one plane iteration
over 1,000 agents at most 1 ms. Absolute times are reported (``extra_info`` and
docs/architecture.md), never asserted; the gates are ratios measured in the same run: the
vectorised ``decide`` over 1,000 agents against its per-row reference ``decide_row`` in a
Python loop over the same rows (the reference a native rewrite would be pinned to), and
one plane iteration against the per-key reference loop (tests/control/reference_loop.py,
pinned equal by tests/control/test_loop_equivalence.py).
"""

from __future__ import annotations

import itertools
import re
import statistics
import time
from collections.abc import Callable
from typing import Any, ClassVar, Final

import numpy as np
import pytest

from benches.conftest import MEDIANS, interleaved_samples, paired_ratio
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
from sentinel.control.verification_store import ReferenceVerificationStore
from tests.control import reference_loop

AGENTS: Final = 1000
MIN_VECTOR_SPEEDUP: Final = 5.0
"""decide over 1,000 agents against decide_row looped over them; measured ~60-90x on the
shared 2-core machine (other helpers' tests running); the interleaved gate read 34.0x at
load 3.0 and 59.9x at load 6.4 (medians of paired ratios); the gate leaves room."""
RULES_GATE_ROUNDS: Final = 40
"""Interleaved calls of each variant the decide gate times (native ~0.1 ms, reference ~5 ms)."""
POLICY = Policy.default()
MIN_PLANE_SPEEDUP: Final = {"storm": 1.7, "storm-held": 1.5}
"""An iteration against the per-key reference loop in the same run, interleaved, in CPU time
of the stepping thread (the median of the paired ratios). Wall-clock medians read 1.95-3.21x
(storm) and 1.86-4.61x (storm-held) at load 4-8 with a gate of 1.5x for both; in CPU time,
at load 10-16 on the shared 2-core machine, storm read 2.18-2.52x and storm-held 1.87-1.99x
over five runs (docs/architecture.md, control planes, round 9). Storm, the case the loop
was rewritten for, is gated at 1.7x (a fifth below its lowest reading); storm-held, which
barely acts, keeps 1.5x."""
MIN_STORE_SPEEDUP: Final = 1.1
"""A storm iteration with the native verification store against the same loop with its
Python reference store (ReferenceVerificationStore: one Analysis per action, measured and
recorded one by one), interleaved: measured 1.26-1.98x in wall time at load 4-8, and
1.42-1.64x (median of the paired ratios, CPU time) at load 10-16; 1.1 leaves room."""
ROUNDS: Final = 150
GATE_ROUNDS: Final = 80
"""Iterations of each loop the gate times, interleaved."""


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


def _storm(ticks: int) -> list[Observation]:
    """Every need drawn afresh each minute: every iteration many new incidents (the worst
    case for acting and verifying: ~530 firings, ~115 actions, ~245 measurements and ~115
    verdicts per iteration over 1,000 agents)."""
    return [_observation(tick, top=100.0) for tick in range(0, 60 * ticks, 60)]


HELD_POLICY = Policy.from_text(
    re.sub(rb"cooldown_ticks = \d+", b"cooldown_ticks = 1000000000", POLICY.text),
    "control.toml with every cooldown 1e9 ticks",
)
"""The default rules with endless cooldowns: once warmed up, a storm fires as much but
(almost) nothing acts: what an iteration costs apart from its actions and verifications."""

PLANES: Final[dict[str, type[ControlPlane] | type[reference_loop.ControlPlane]]] = {
    "native": ControlPlane,
    "reference": reference_loop.ControlPlane,
}
"""The loop, and its per-key reference (tests/control/reference_loop.py: the loop before
its holds and verification scheduling were vectorised and its digest text made native)."""


@pytest.mark.parametrize("loop", ["native", "reference"])
@pytest.mark.parametrize("variant", ["office", "storm", "storm-held"])
def test_plane_iteration_1000_agents(benchmark: Any, variant: str, loop: str) -> None:
    """One iteration of the agent plane over 1,000 agents, in steady state: 50 iterations
    first (cooldowns and verifications open), then each timed round one more iteration on
    the next observation, its tick always a minute later (built outside the timing)."""
    policy = HELD_POLICY if variant == "storm-held" else POLICY
    plane = PLANES[loop]("agent", policy, _observation, _Counting(), AGENT_METRICS, VirtualClock())
    frames = _drifting(400) if variant == "office" else _storm(400)
    for observation in frames[:50]:
        plane.step(observation)
    rest = frames[50:]
    ticks = itertools.count(frames[50].tick, 60)
    records: list[Any] = []

    def setup() -> tuple[tuple[Observation], dict[str, Any]]:
        tick = next(ticks)
        frame = rest[(tick // 60 - 50) % len(rest)]
        return (Observation("agent", tick, frame.targets, frame.columns),), {}

    def once(observation: Observation) -> None:
        records.append(plane.step(observation))

    benchmark.group = f"control-plane-{variant}"
    benchmark.extra_info["variant"] = loop
    benchmark.pedantic(once, setup=setup, rounds=ROUNDS, iterations=1)
    if benchmark.stats is not None:
        MEDIANS[(benchmark.group, loop)] = benchmark.stats.stats.median
        benchmark.extra_info["median_us"] = round(benchmark.stats.stats.median * 1e6, 2)
    per = len(records)
    benchmark.extra_info["per_iteration"] = {
        "fired": sum(len(f["targets"]) for r in records for f in r.fired) / per,
        "actions": sum(len(r.actions) for r in records) / per,
        "measurements": sum(len(v["series"]) for r in records for v in r.verifications) / per,
        "verdicts": sum(len(r.verifications) for r in records) / per,
        "open": len(plane.pending),
    }
    assert plane.counters["actions"] > 0


def _stepper(loop: str, variant: str) -> Callable[[], None]:
    """One more iteration of a warmed-up plane per call, on the next minute's observation.

    ``reference-store`` is the loop with the Python reference of its verification store
    (sentinel.control.verification_store), swapped in before the first iteration.
    """
    policy = HELD_POLICY if variant == "storm-held" else POLICY
    cls = PLANES["native" if loop == "reference-store" else loop]
    plane: Any = cls("agent", policy, _observation, _Counting(), AGENT_METRICS, VirtualClock())
    if loop == "reference-store":
        plane.pending = ReferenceVerificationStore()
    frames = _storm(400)
    for observation in frames[:50]:
        plane.step(observation)
    rest = frames[50:]
    ticks = itertools.count(frames[50].tick, 60)

    def once() -> None:  # wrapping the frame costs both loops alike (no copy)
        tick = next(ticks)
        frame = rest[(tick // 60 - 50) % len(rest)]
        plane.step(Observation("agent", tick, frame.targets, frame.columns))

    return once


def test_gate_plane_iteration() -> None:
    """The storms only: an office iteration (few firings, ~6 actions) costs about what the
    reference's does (its time is the observation digest, decide and ~110 measurements).

    The gate steps both loops again, interleaved iteration by iteration (see
    :func:`benches.conftest.interleaved_samples`): timed one after the other, as in the
    tables above, a CI run on an idle machine once read 1.09x where the same code reads
    1.5-2.9x, one side having met a different stretch of the machine's load. Each call is
    timed in the stepping thread's CPU time (``time.thread_time``): an iteration is
    single-threaded, and on a machine with more runnable work than cores its wall time is
    mostly waiting for a core (at load 15 on 2 cores a 3 ms storm iteration read ~10 ms of
    wall time). The ratio is the median of the paired ratios (each pair taken together)."""
    for variant in ("storm", "storm-held"):
        loops = (*PLANES, "reference-store")
        samples = interleaved_samples(
            {loop: _stepper(loop, variant) for loop in loops},
            rounds=GATE_ROUNDS, warmup=5, clock=time.thread_time,
        )  # fmt: skip
        native, reference, store = (statistics.median(samples[loop]) for loop in loops)
        ratio = paired_ratio(samples["reference"], samples["native"])
        store_ratio = paired_ratio(samples["reference-store"], samples["native"])
        print(
            f"\n{variant}, interleaved CPU-time medians: native {native * 1e3:.2f} ms, reference "
            f"{reference * 1e3:.2f} ms ({ratio:.2f}x paired), with the reference store "
            f"{store * 1e3:.2f} ms ({store_ratio:.2f}x paired)"
        )
        limit = MIN_PLANE_SPEEDUP[variant]
        assert ratio >= limit, f"{variant}: only {ratio:.2f}x the reference loop (gate {limit}x)"
        if variant == "storm":  # storm-held opens (almost) no verification: nothing to gain
            assert store_ratio >= MIN_STORE_SPEEDUP, (
                f"storm: the native verification store only {store_ratio:.2f}x its reference"
            )


def test_gate_vectorised_decide() -> None:
    """``decide`` over 1,000 agents against ``decide_row`` looped over the same rows, timed
    again interleaved call by call (see :func:`benches.conftest.interleaved_samples`): the
    median of the paired ratios, so load on the machine falls on both sides of each."""
    observation = _observation(0)
    rows = [observation.row(t) for t in observation.targets]
    samples = interleaved_samples(
        {
            "native": lambda: decide(observation, POLICY),
            "reference": lambda: [decide_row(row, POLICY, "agent") for row in rows],
        },
        rounds=RULES_GATE_ROUNDS,
        warmup=3,
    )
    ratio = paired_ratio(samples["reference"], samples["native"])
    native, reference = (statistics.median(samples[v]) for v in ("native", "reference"))
    print(
        f"\ndecide over {AGENTS} agents, interleaved medians: native {native * 1e3:.3f} ms, "
        f"reference {reference * 1e3:.2f} ms; median of paired ratios {ratio:.1f}x"
    )
    assert ratio >= MIN_VECTOR_SPEEDUP, f"decide only {ratio:.1f}x the per-row reference"
