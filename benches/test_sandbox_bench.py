"""Sandbox spawn cost: plain subprocess vs a cold full-stack sandbox vs a warm one.

Goals on the CI machine (reported in the closing notes, not asserted as times): warm
command overhead p50 <= 1 ms over plain subprocess; cold full stack p50 <= 15 ms and <= 3x
bubblewrap alone. The gates are ratios measured in the same run: a warm command costs
clearly less than a cold one and at most WARM_MAX_RATIO_OF_PLAIN times a plain fork+exec of
the same command, and a cold one is within :data:`COLD_MAX_SHARE_OF_BWRAP` of
``bwrap --unshare-all ... /bin/true`` run as the sandbox uid.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benches.conftest import MEDIANS, interleaved_samples
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.warm import Sandbox
from sentinel.sandbox.workspace import scratch_dir

POLICY = SandboxPolicy()
COMMANDS = {"true": ["/usr/bin/true"], "python": ["/usr/bin/python3", "-c", "pass"]}
WARM_MAX_SHARE_OF_COLD = 0.75  # measured ~0.2 (true) and ~0.5 (python) on the CI machine
WARM_MAX_RATIO_OF_PLAIN = {"true": 2.6, "python": 1.3}
"""Warm over plain subprocess: /usr/bin/true takes ~0.65 ms plain, so 2.6x is the 1 ms
overhead goal (measured ~1.9x with posix_spawn in the supervisor, ~4.1x with fork). With
the machine shared by 7 sessions (load 10-16) it held in 3 of 5 runs (+0.6 to +1.8 ms)."""

COLD_MAX_SHARE_OF_BWRAP = 5.0
"""Cold full stack over bwrap alone (median, /bin/true). The goal is 3x: met idle (2.6x,
13.7 ms, round 3); measured 2.4-3.7x on the 2-core CI machine while other test runs loaded
it, and 2.8x, 3.1x and once 5.1x with 7 sessions sharing it (load average 10-16): the
cgroups layer's share grows most with load (CFS bandwidth control, and joining the v1
groups waits for an RCU grace period; see docs/architecture.md, "Speed, round 4")."""
BWRAP_ALONE = [
    "bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
    "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "--", "/bin/true",
]  # fmt: skip
SANDBOX_UID = 65534
GATE_ROUNDS = 25
"""Calls of each variant the gate times, interleaved."""


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    with scratch_dir("sentinel-bench") as path:
        yield path


@pytest.fixture(scope="module")
def warm(base: Path) -> Iterator[Sandbox]:
    with Sandbox(POLICY, "bench", workspace=base / "warm") as sandbox:
        sandbox.run(["true"])
        yield sandbox


def _record(benchmark: Any, group: str, variant: str) -> None:
    MEDIANS[(group, variant)] = benchmark.stats.stats.median


@pytest.mark.parametrize("name", list(COMMANDS))
def test_plain(benchmark: Any, name: str) -> None:
    benchmark.group = f"spawn-{name}"
    benchmark.pedantic(
        subprocess.run, args=(COMMANDS[name],), kwargs={"check": True}, rounds=30, iterations=1
    )
    _record(benchmark, f"spawn-{name}", "plain")


def test_bwrap_alone(benchmark: Any) -> None:
    benchmark.group = "spawn-true"
    as_sandbox_uid = (
        {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []} if os.geteuid() == 0 else {}
    )
    benchmark.pedantic(
        subprocess.run,
        args=(BWRAP_ALONE,),
        kwargs={"check": True, **as_sandbox_uid},
        rounds=30,
        iterations=1,
    )
    _record(benchmark, "spawn-true", "bwrap")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_cold(benchmark: Any, name: str, base: Path) -> None:
    benchmark.group = f"spawn-{name}"
    result = benchmark.pedantic(
        run_once,
        args=(POLICY, COMMANDS[name]),
        kwargs={"workspace": base / "cold"},
        rounds=20,
        iterations=1,
    )
    assert result.exit_code == 0, result.stderr
    _record(benchmark, f"spawn-{name}", "cold")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_warm(benchmark: Any, name: str, warm: Sandbox) -> None:
    benchmark.group = f"spawn-{name}"
    result = benchmark.pedantic(warm.run, args=(COMMANDS[name],), rounds=30, iterations=1)
    assert result.exit_code == 0, result.stderr
    _record(benchmark, f"spawn-{name}", "warm")


def _bwrap_alone() -> None:
    if os.geteuid() == 0:
        subprocess.run(
            BWRAP_ALONE, check=True, user=SANDBOX_UID, group=SANDBOX_UID, extra_groups=[]
        )
    else:
        subprocess.run(BWRAP_ALONE, check=True)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_gate(name: str, warm: Sandbox, base: Path) -> None:
    """The gate times the variants again, interleaved call by call (see
    :func:`benches.conftest.interleaved_samples`): the tables above time each variant in its
    own stretch of the machine's load, and with other work on the machine one such run gave
    warm ``true`` 5.4 ms against plain 0.83 ms, a burst that landed on one side only."""
    command = COMMANDS[name]
    variants: dict[str, Callable[[], Any]] = {
        "plain": lambda: subprocess.run(command, check=True),
        "cold": lambda: run_once(POLICY, command, workspace=base / "cold"),
        "warm": lambda: warm.run(command),
    }
    if name == "true":
        variants["bwrap"] = _bwrap_alone
    samples = interleaved_samples(variants, rounds=GATE_ROUNDS, warmup=2)
    plain, cold, warm_s = (statistics.median(samples[v]) for v in ("plain", "cold", "warm"))
    print(
        f"\n{name}, interleaved medians: plain {plain * 1e3:.1f} ms, cold {cold * 1e3:.1f} ms, "
        f"warm {warm_s * 1e3:.1f} ms (warm overhead {(warm_s - plain) * 1e3:.1f} ms)"
    )
    bwrap = statistics.median(samples["bwrap"]) if name == "true" else None
    if bwrap is not None:  # every number printed before any gate can stop the test
        print(f"true: bwrap alone {bwrap * 1e3:.1f} ms, cold {cold / bwrap:.1f}x bwrap alone")
    assert warm_s <= cold * WARM_MAX_SHARE_OF_COLD
    assert warm_s <= plain * WARM_MAX_RATIO_OF_PLAIN[name]
    if bwrap is not None:
        assert cold <= bwrap * COLD_MAX_SHARE_OF_BWRAP
