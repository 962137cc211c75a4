"""The crossover that measures the probes' cost: its schedule, pairing and estimate.

No kernel here: the switch runs against a stand-in recorder that notes what it was asked.
The measurement on the real main job is in ``test_probe_overhead_run.py`` and the bench.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pytest

from sentinel.agents import RunOptions
from sentinel.errors import InvalidInputError
from sentinel.probes.overhead import (
    Block,
    ProbeSwitch,
    arm_of,
    cpu_split,
    crossover_pairs,
    estimate,
)
from sentinel.probes.recorder import ProbeRecorder


@dataclass
class _Session:
    switched: list[bool] = field(default_factory=list)

    def set_attached(self, on: bool) -> None:
        self.switched.append(on)


@dataclass
class _Recorder:
    session: _Session = field(default_factory=_Session)
    flushes: list[int] = field(default_factory=list)

    def flush(self) -> int:
        self.flushes.append(len(self.session.switched))
        return 0


def _switch(block_ticks: int, first: Any = "off") -> tuple[ProbeSwitch, _Recorder]:
    recorder = _Recorder()
    return ProbeSwitch(cast(ProbeRecorder, recorder), block_ticks, first), recorder


def test_arms_alternate_from_the_first() -> None:
    assert [arm_of(i, "off") for i in range(4)] == ["off", "on", "off", "on"]
    assert [arm_of(i, "on") for i in range(4)] == ["on", "off", "on", "off"]


def test_the_switch_times_blocks_switches_at_their_edges_and_attaches_at_the_end() -> None:
    switch, recorder = _switch(10)
    for _ in range(25):
        switch.before_tick()
    report = switch.finish()
    assert [(b.arm, b.first_tick, b.ticks) for b in switch.blocks] == [
        ("off", 0, 10),
        ("on", 10, 10),
        ("off", 20, 5),
    ]
    assert all(b.seconds >= 0 and b.main_cpu_s >= 0 and b.process_cpu_s >= 0 for b in switch.blocks)
    assert recorder.session.switched == [False, True, False, True]  # attached again at the end
    assert recorder.flushes == [2]  # the attached block drained before it ended, only it
    assert report["first"] == "off" and report["block_ticks"] == 10
    assert [Block.from_dict(b) for b in report["blocks"]] == [
        Block(b.arm, b.first_tick, b.ticks, *(round(v, 6) for v in _timings(b)))
        for b in switch.blocks
    ]


def _timings(block: Block) -> tuple[float, ...]:
    return (block.seconds, block.main_cpu_s, block.process_cpu_s, block.children_cpu_s)


def test_a_switch_starting_attached_drains_its_first_block() -> None:
    switch, recorder = _switch(3, "on")
    for _ in range(6):
        switch.before_tick()
    switch.finish()
    assert [b.arm for b in switch.blocks] == ["on", "off"]
    assert recorder.session.switched == [True, False, True]
    assert recorder.flushes == [1]  # before the switch that ended the attached block


def test_a_run_with_no_tick_records_no_block() -> None:
    switch, recorder = _switch(5)
    assert switch.finish()["blocks"] == []
    assert recorder.session.switched == [True]


def test_block_length_is_checked() -> None:
    with pytest.raises(InvalidInputError, match="at least 1 tick"):
        _switch(0)


def _blocks(first: Any, seconds: list[float], ticks: int = 10) -> list[Block]:
    return [Block(arm_of(i, first), i * ticks, ticks, s) for i, s in enumerate(seconds)]


def test_crossover_pairs_each_block_with_its_twin_in_the_other_arm() -> None:
    one = _blocks("off", [1.0, 2.2, 3.0])
    two = _blocks("on", [1.1, 2.0, 3.3])
    pairs = crossover_pairs(one, two, 10)
    assert [(on.seconds, off.seconds) for on, off in pairs] == [(1.1, 1.0), (2.2, 2.0), (3.3, 3.0)]
    assert all(on.arm == "on" and off.arm == "off" for on, off in pairs)


def test_the_cpu_split_sums_each_clock_per_arm() -> None:
    on = Block("on", 0, 10, 1.0, main_cpu_s=0.5, process_cpu_s=0.7, children_cpu_s=0.2)
    off = Block("off", 0, 10, 0.9, main_cpu_s=0.4, process_cpu_s=0.5, children_cpu_s=0.3)
    assert cpu_split([(on, off), (on, off)]) == {
        "main_cpu_s": {"on": 1.0, "off": 0.8},
        "process_cpu_s": {"on": 1.4, "off": 1.0},
        "children_cpu_s": {"on": 0.4, "off": 0.6},
    }
    assert Block.from_dict(on.to_dict()) == on
    old = {"arm": "off", "first_tick": 0, "ticks": 10, "seconds": 0.9}  # before the clocks
    assert Block.from_dict(old) == Block("off", 0, 10, 0.9)


def test_a_block_cut_short_is_left_out() -> None:
    one = [*_blocks("off", [1.0, 2.0]), Block("off", 20, 4, 0.4)]
    two = [*_blocks("on", [1.0, 2.0]), Block("on", 20, 4, 0.5)]
    assert len(crossover_pairs(one, two, 10)) == 2


@pytest.mark.parametrize(
    ("two", "why"),
    [
        (_blocks("off", [1.0, 2.0]), "oppositely"),  # both runs started detached
        (_blocks("on", [1.0, 2.0], ticks=5), "same ticks"),  # switched elsewhere
    ],
)
def test_runs_that_are_not_a_crossover_are_refused(two: list[Block], why: str) -> None:
    with pytest.raises(InvalidInputError, match=why):
        crossover_pairs(_blocks("off", [1.0, 2.0]), two, 10)


def test_the_estimate_recovers_a_known_overhead_through_noise() -> None:
    rng = np.random.default_rng(7)
    work = rng.lognormal(-1.0, 1.5, 200)  # blocks' work differs a hundredfold, as in the job
    off = work * rng.lognormal(0, 0.08, 200)
    on = 1.03 * work * rng.lognormal(0, 0.08, 200)
    found = estimate(list(zip(on.tolist(), off.tolist(), strict=True)))
    assert found.low < 1.03 < found.high
    assert abs(found.ratio - 1.03) < 0.03
    assert found.verdict == "met" if found.high <= 1.05 else found.verdict == "undecided"


@pytest.mark.parametrize(
    ("factor", "verdict"), [(1.0, "met"), (1.2, "missed"), (1.05, "undecided")]
)
def test_the_verdict_reads_the_interval_against_the_goal(factor: float, verdict: str) -> None:
    rng = np.random.default_rng(3)
    off = rng.uniform(0.5, 1.5, 100)
    on = factor * off * rng.normal(1, 0.01, 100)
    found = estimate(list(zip(on.tolist(), off.tolist(), strict=True)))
    assert found.verdict == verdict
    assert found.to_dict()["verdict"] == verdict and found.to_dict()["pairs"] == 100


def test_two_pairs_are_the_least_an_estimate_takes() -> None:
    with pytest.raises(InvalidInputError, match="at least 2"):
        estimate([(1.0, 1.0)])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"probe_blocks": 60, "probes": "auto"}, "needs --probes on"),
        ({"probe_blocks": -1, "probes": "on"}, "0 or more"),
        ({"probe_blocks": 60, "probes": "on", "probe_first": "both"}, "off or on"),
    ],
)
def test_run_options_refuse_a_switch_that_cannot_run(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        RunOptions(**fields)
