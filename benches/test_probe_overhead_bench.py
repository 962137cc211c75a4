"""What the kernel probes cost: the main job with and without them, and any process's syscalls.

Issue 19's goal: the main job's wall time with probes at most 5 % over the same job without
them, measured in the same run. The main job (a quarter of a simulated hour of the morning
shift, fixed seed, a tenth of the agents attacking, control planes on) runs in pairs, once
with ``--probes off`` and once with ``--probes on``, the order alternating from pair to
pair so a neighbour's load drifting over the run falls on both alike, after one untimed
run (a process's first run pays for imports and first builds: 12-13 s against 6-8 s).

The probe's ``sys_enter`` and ``sys_exit`` programs run for every syscall of every task on
the host, not only the sandboxes' (they return after one cgroup-id lookup for the others).
The second group measures that: a tight loop of ``getppid`` (about the cheapest syscall, so
the worst case as a ratio) in this process, which no probe watches, with and without a
probe session attached. The third measures the same loop inside a sandbox the probe watches
(where each syscall also marks and clears the thread in task-local storage), timed by the
sandboxed process itself so the sandbox's start is not in it.
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

from benches.conftest import MEDIANS
from sentinel.agents import RunOptions, run
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
PAIRS = 5
"""Off/on pairs of the main job (each run 6-12 s here)."""
MAX_MAIN_JOB_RATIO = 1.15
"""Gate on median(on) / median(off). The goal is 1.05; the gate leaves room for the noise of
a shared 2-core machine (see docs/architecture.md, Kernel probes, for the numbers measured)."""
SYSCALLS = 50_000
"""``getppid`` calls per timed round."""
MAX_SYSCALL_RATIO = 3.0
"""Gate on a bare syscall loop outside the sandboxes, probe attached over detached: not the
goal (no real process makes only bare syscalls), a bound on the programs' early return."""

MAX_WATCHED_RATIO = 4.0
"""Gate on the same loop inside a watched sandbox, probe attached over none: a bound only."""
WATCHED_PAIRS = 4
INSIDE = (
    "import os, time\n"
    "call, rounds = os.getppid, []\n"
    "for _ in range(15):\n"
    "    start = time.perf_counter_ns()\n"
    "    for _ in range(20000):\n"
    "        call()\n"
    "    rounds.append(time.perf_counter_ns() - start)\n"
    "print(sorted(rounds)[7] / 20000)\n"
)
"""The sandboxed loop: prints the median round's nanoseconds a ``getppid``."""

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
    if not WALL_S["on"] or len(WALL_S["on"]) != len(WALL_S["off"]):
        pytest.fail("the main-job benchmark did not run; run the whole file")
    for name, series in (("wall", WALL_S), ("cpu", CPU_S)):
        off, on = statistics.median(series["off"]), statistics.median(series["on"])
        paired = statistics.median(b / a for a, b in zip(series["off"], series["on"], strict=True))
        print(
            f"\nmain job ({HOURS} h, {len(series['on'])} pairs), {name} time: probes off "
            f"median {off:.2f} s {[round(w, 2) for w in series['off']]}, on {on:.2f} s "
            f"{[round(w, 2) for w in series['on']]}; ratio of medians {on / off:.3f}, median "
            f"of paired ratios {paired:.3f}"
        )
    wall = statistics.median(WALL_S["on"]) / statistics.median(WALL_S["off"])
    print(f"wall-time ratio {wall:.3f} (goal 1.05, gate {MAX_MAIN_JOB_RATIO})")
    assert wall <= MAX_MAIN_JOB_RATIO


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
    try:
        detached = MEDIANS[("probes-host-syscalls", "detached")]
        attached = MEDIANS[("probes-host-syscalls", "attached")]
    except KeyError:
        pytest.fail("the syscall benchmarks did not record both variants; run the whole file")
    added_ns = (attached - detached) / SYSCALLS * 1e9
    print(
        f"\ngetppid outside the sandboxes: {detached / SYSCALLS * 1e9:.0f} ns detached, "
        f"{attached / SYSCALLS * 1e9:.0f} ns with the probe attached (+{added_ns:.0f} ns a "
        f"syscall, ratio {attached / detached:.2f}, gate {MAX_SYSCALL_RATIO})"
    )
    assert attached / detached <= MAX_SYSCALL_RATIO


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
    print(
        f"\ngetppid inside a watched sandbox: {off:.0f} ns without the probe, {on:.0f} ns with "
        f"it (+{on - off:.0f} ns a syscall, ratio {on / off:.2f}, gate {MAX_WATCHED_RATIO}); "
        f"{per_call}"
    )
    assert on / off <= MAX_WATCHED_RATIO
