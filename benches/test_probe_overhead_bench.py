"""What the kernel probes cost: the main job with and without them, and any process's syscalls.

Issue 19's goal: the main job's wall time with probes at most 5 % over the same job without
them, measured in the same run. The first measure is the crossover
(:func:`test_main_job_crossover`): the 8 h main job run twice with the same seed, its
probes' programs switched on and off every five simulated minutes, one run starting with
them off and the other on, so every block of the same work is timed once with them and once
without (:mod:`sentinel.probes.overhead`). Whole runs cannot measure this: identical runs
differ by up to 15 % here. The second keeps the short job (a quarter of a simulated hour,
fixed seed, a tenth of the agents attacking, control planes on) in off/on pairs, where the
probes' fixed costs (loading, closing) weigh most, after one untimed run (a process's first
run pays for imports and first builds); its gate is the median over the pairs of
wall(on) / wall(off).

The probe's ``sys_enter`` and ``sys_exit`` programs run for every syscall of every task on
the host, not only the sandboxes' (they return after reading the task's cgroup id and one
array lookup for the others).
The second group measures that: a tight loop of ``getppid`` (about the cheapest syscall, so
the worst case as a ratio) in this process, which no probe watches, with and without a
probe session attached. The third measures the same loop inside a sandbox the probe watches
(where each syscall also marks and clears the thread in task-local storage), timed by the
sandboxed process itself, in its thread's CPU time, so neither the sandbox's start nor the
time it waits for a CPU on a busy machine is in it. Their gates, too, take the
median of ratios of pairs timed one right after the other, attached and not, in the
thread's CPU time (see :func:`test_host_syscall_overhead_gate`).
"""

from __future__ import annotations

import itertools
import math
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benches.conftest import paired_ratio
from sentinel.agents import RunOptions, run
from sentinel.agents.probe_overhead import ProbeOverhead, measure_probe_overhead
from sentinel.audit import AuditStore
from sentinel.control.probe_window import PROBE_METRICS
from sentinel.control.replay import replay_control
from sentinel.probes import ProbeSession
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.workspace import scratch_dir

CONFIG = Path(__file__).resolve().parents[1] / "config"
HOURS = 0.25
SEED = 19
PAIRS = 4
"""Off/on pairs of the short job (each run 6-12 s in round 5, 1.8-7.2 s in round 8, ~1 s in
round 12); four since the crossover below measures the goal."""
MAX_MAIN_JOB_RATIO = 1.35
"""Gate on the median over the pairs of wall(on) / wall(off): each ratio divides two runs
taken one right after the other, so a neighbour's load that slows one run of a pair likely
slows the other too (the ratio of the two medians could divide an `on` run from a busy
stretch by an `off` run from a quiet one: 1.152 once under load, 0.975 quiet). Pairing does
not cancel what the probe itself adds under load: its programs run for every syscall of
every task on the host, so attached it slows the neighbours too, and they then take more
of the two CPUs the main job waits for. Measured at a load of 4.5-8: medians of the paired
ratios 1.117, 0.974, 1.200, 0.944 and 1.094 (single pairs 0.75-1.58). The goal is 1.05 and is not what
this gate proves (see docs/architecture.md, Kernel probes); the gate bounds a regression
on a busy machine."""
CROSSOVER_HOURS = 8.0
"""The main job's default length: what the goal is about."""
BLOCK_TICKS = 300
"""Five simulated minutes a block: 96 blocks a run, each ~0.1-2 s."""
MAX_CROSSOVER_RATIO = 1.10
"""A regression bound on the crossover's ratio, not the goal. Measured at a load of 2 (another
job on the second core): 1.029 (one round) and 1.029 (1.001-1.056, two rounds); idle: 1.047
(1.031-1.065, four rounds)."""
SYSCALLS = 50_000
"""``getppid`` calls per timed round."""
MAX_SYSCALL_RATIO = 3.0
"""Gate on a bare syscall loop outside the sandboxes, probe attached over detached: not the
goal (no real process makes only bare syscalls), a bound on the programs' early return."""
HOST_PAIRS = 6
"""Detached/attached pairs the host-syscall gate times."""
LOOPS_PER_TURN = 5
"""Timed loops per turn (10-25 ms each); the turn's sample is their median."""

MAX_WATCHED_RATIO = 4.0
"""Gate on the same loop inside a watched sandbox, probe attached over none: a bound only."""
WATCHED_PAIRS = 4
INSIDE = (
    "import os, time\n"
    "call, rounds = os.getppid, []\n"
    "for _ in range(15):\n"
    "    start = time.thread_time_ns()\n"
    "    for _ in range(20000):\n"
    "        call()\n"
    "    rounds.append(time.thread_time_ns() - start)\n"
    "print(sorted(rounds)[7] / 20000)\n"
)
"""The sandboxed loop: prints the median round's nanoseconds a ``getppid``, in the thread's
CPU time (see :func:`test_host_syscall_overhead_gate` for why not wall time)."""

WALL_S: dict[str, list[float]] = {"off": [], "on": []}
CPU_S: dict[str, list[float]] = {"off": [], "on": []}
"""User + system time of this process and its reaped children (the sandboxes) per run."""


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _probe_values(store: Path) -> list[float]:
    """Every probe metric value the run's platform plane observed (NaN: unknown)."""
    values: list[float] = []
    with AuditStore(store, create=False) as opened:
        for event in opened.read(type="control.decision"):
            observation = event.payload.get("observation")
            if event.payload["plane"] != "platform" or observation is None:
                continue
            for name in PROBE_METRICS:
                column = observation["columns"][name]
                values += [math.nan if v is None else float(v) for v in column]
    return values


@pytest.mark.timeout(900)
def test_main_job_with_and_without_probes(benchmark: Any, tmp_path: Path) -> None:
    counter = itertools.count()

    def once(mode: str, *, timed: bool = True) -> None:
        store = tmp_path / f"run-{next(counter)}.db"
        options = RunOptions(
            config=CONFIG, hours=HOURS, seed=SEED, compromised=0.1, store=store, probes=mode
        )
        started, cpu = time.perf_counter(), _cpu_s()
        summary = run(options)
        if timed:
            WALL_S[mode].append(time.perf_counter() - started)
            CPU_S[mode].append(_cpu_s() - cpu)
        assert summary.ok and summary.chain_verified
        assert summary.probes["enabled"] is (mode == "on"), summary.probes
        # The platform plane read the probes (known values) only when they were on, and
        # the recorded observations prove the same decisions again.
        values = _probe_values(store)
        assert values and any(not math.isnan(v) for v in values) is (mode == "on")
        assert replay_control(store).equal
        store.unlink()

    def pair() -> None:
        for mode in ("off", "on") if len(WALL_S["off"]) % 2 == 0 else ("on", "off"):
            once(mode)

    once("on", timed=False)  # the process's first run pays for imports and first builds
    benchmark.group = "probes-main-job"
    benchmark.extra_info["variant"] = "one run off + one run on"
    benchmark.pedantic(pair, rounds=PAIRS, iterations=1)


def test_main_job_probe_overhead_gate() -> None:
    """Wall time of the main job with probes over without, the median of the paired ratios
    (issue 19: at most 5 % more). CPU time (this process and its reaped sandboxes) is
    printed next to it, not gated: it leaves out the kernel's time in the probe programs
    for other tasks and the daemons' time, and wall time is what the goal is about."""
    if not WALL_S["on"] or len(WALL_S["on"]) != len(WALL_S["off"]):
        pytest.fail("the main-job benchmark did not run; run the whole file")
    for name, series in (("wall", WALL_S), ("cpu", CPU_S)):
        off, on = statistics.median(series["off"]), statistics.median(series["on"])
        paired = paired_ratio(series["on"], series["off"])
        print(
            f"\nmain job ({HOURS} h, {len(series['on'])} pairs), {name} time: probes off "
            f"median {off:.2f} s {[round(w, 2) for w in series['off']]}, on {on:.2f} s "
            f"{[round(w, 2) for w in series['on']]}; ratio of medians {on / off:.3f}, median "
            f"of paired ratios {paired:.3f}"
        )
    wall = paired_ratio(WALL_S["on"], WALL_S["off"])
    print(f"wall time, median of paired ratios {wall:.3f} (goal 1.05, gate {MAX_MAIN_JOB_RATIO})")
    assert wall <= MAX_MAIN_JOB_RATIO


def test_main_job_crossover(benchmark: Any) -> None:
    """The goal's own measure: the 8 h main job, its probes switched every few simulated
    minutes, two runs of the same work in opposite arms (:mod:`sentinel.probes.overhead`,
    ``sentinel-run probe overhead``). Gated on the ratio of the attached blocks' wall time
    over the detached ones' at :data:`MAX_CROSSOVER_RATIO`, a regression bound; the goal's
    verdict (the bootstrap interval against 1.05) is printed, not gated: one round's interval
    is ~5 % wide on this machine, so a gate on it would fail runs by chance."""
    measured: list[ProbeOverhead] = []

    def crossover() -> None:
        options = RunOptions(config=CONFIG, hours=CROSSOVER_HOURS, seed=SEED, compromised=0.1)
        measured.append(measure_probe_overhead(options, block_ticks=BLOCK_TICKS, rounds=1))

    benchmark.group = "probes-main-job-crossover"
    benchmark.extra_info["variant"] = "warm-up + two switched runs of the 8 h job"
    benchmark.pedantic(crossover, rounds=1, iterations=1)
    (found,) = measured
    estimate = found.estimate
    benchmark.extra_info.update(found.to_dict())
    print(
        f"\nmain job ({CROSSOVER_HOURS} h) crossover, {len(estimate.pairs)} blocks of "
        f"{BLOCK_TICKS} ticks, runs {[round(r.wall_s, 1) for r in found.runs]} s: attached "
        f"over detached {estimate.ratio:.3f} (95 % {estimate.low:.3f}-{estimate.high:.3f}), "
        f"median block ratio {estimate.median_paired:.3f}; goal 1.05: {estimate.verdict}; "
        f"gate {MAX_CROSSOVER_RATIO}; cpu s attached/detached {found.cpu}"
    )
    assert estimate.ratio <= MAX_CROSSOVER_RATIO


def _syscalls() -> Callable[[], None]:
    getppid = os.getppid

    def loop() -> None:
        for _ in range(SYSCALLS):
            getppid()

    return loop


@pytest.fixture
def attached() -> Iterator[ProbeSession]:
    session = ProbeSession(follow_sandboxes=False)
    try:
        yield session
    finally:
        session.close()


def test_host_syscalls_without_probe(measure: Callable[..., Any]) -> None:
    measure("probes-host-syscalls", "detached", _syscalls())


def test_host_syscalls_with_probe(measure: Callable[..., Any], attached: ProbeSession) -> None:
    assert attached.running()
    measure("probes-host-syscalls", "attached", _syscalls())


def test_host_syscall_overhead_gate() -> None:
    """The loop outside the sandboxes, probe attached over detached, timed again in pairs:
    attach, time the loop, detach, time it (the order alternating from pair to pair; the
    attaching and detaching not timed), gated on the median of the paired ratios.

    Timed in this thread's CPU time, which holds the probe programs' run (they run in the
    calling task, charged to its system time) but not the time the thread waits for a CPU.
    In wall time, four pairs read 1.5x to 3.8x at a load of 8: the probe runs for every
    syscall of every task on the host, so attaching it slows the neighbours too, and on a
    busy machine they then take more of the CPU this loop waits for. In CPU time the same
    four pairs read +310 ns a call (ratio 2.1-2.2); the gate read 2.18, 1.95 and 2.21."""
    loop = _syscalls()
    seconds: dict[str, list[float]] = {"detached": [], "attached": []}
    for n in range(HOST_PAIRS):
        for mode in ("detached", "attached") if n % 2 == 0 else ("attached", "detached"):
            session = ProbeSession(follow_sandboxes=False) if mode == "attached" else None
            try:
                assert session is None or session.running()
                loops = []
                for _ in range(LOOPS_PER_TURN):
                    started = time.thread_time()
                    loop()
                    loops.append(time.thread_time() - started)
                seconds[mode].append(statistics.median(loops))
            finally:
                if session is not None:
                    session.close()
    ratio = paired_ratio(seconds["attached"], seconds["detached"])
    detached, attached = (
        statistics.median(seconds[m]) / SYSCALLS * 1e9 for m in ("detached", "attached")
    )
    print(
        f"\ngetppid outside the sandboxes, {HOST_PAIRS} pairs, thread cpu time: {detached:.0f} "
        f"ns detached, "
        f"{attached:.0f} ns with the probe attached (+{attached - detached:.0f} ns a syscall; "
        f"median of paired ratios {ratio:.2f}, gate {MAX_SYSCALL_RATIO})"
    )
    assert ratio <= MAX_SYSCALL_RATIO


def test_watched_sandbox_syscall_overhead() -> None:
    policy = SandboxPolicy.from_toml(CONFIG / "policies" / "agent.toml")
    per_call: dict[str, list[float]] = {"off": [], "on": []}
    with scratch_dir("sentinel-bench") as base:
        for n in range(WATCHED_PAIRS):
            for mode in ("off", "on") if n % 2 == 0 else ("on", "off"):
                session = ProbeSession() if mode == "on" else None
                try:
                    result = run_once(
                        policy, ["python3", "-c", INSIDE], workspace=base / f"ws-{n}-{mode}",
                        agent_id="probe-bench",
                    )  # fmt: skip
                finally:
                    if session is not None:
                        session.close()
                assert result.exit_code == 0, result.stderr
                per_call[mode].append(float(result.stdout))
    off, on = statistics.median(per_call["off"]), statistics.median(per_call["on"])
    ratio = paired_ratio(per_call["on"], per_call["off"])
    print(
        f"\ngetppid inside a watched sandbox, thread cpu time: {off:.0f} ns without the probe, "
        f"{on:.0f} ns with "
        f"it (+{on - off:.0f} ns a syscall; median of paired ratios {ratio:.2f}, gate "
        f"{MAX_WATCHED_RATIO}); {per_call}"
    )
    assert ratio <= MAX_WATCHED_RATIO
