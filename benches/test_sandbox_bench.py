"""Sandbox spawn cost: plain subprocess vs a cold full-stack sandbox vs a warm one.

Goals on the CI machine (reported in the closing notes, not asserted as times): warm
command overhead p50 <= 1 ms over plain subprocess; cold full stack p50 <= 15 ms. The gates
are ratios measured in the same run: a warm command costs clearly less than a cold one, and
at most WARM_MAX_RATIO_OF_PLAIN times a plain fork+exec of the same command.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benches.conftest import MEDIANS
from sentinel.sandbox.policy import SandboxPolicy
from sentinel.sandbox.runner import run_once
from sentinel.sandbox.warm import Sandbox
from sentinel.sandbox.workspace import scratch_dir

POLICY = SandboxPolicy()
COMMANDS = {"true": ["/usr/bin/true"], "python": ["/usr/bin/python3", "-c", "pass"]}
WARM_MAX_SHARE_OF_COLD = 0.75  # measured ~0.2 (true) and ~0.5 (python) on the CI machine
WARM_MAX_RATIO_OF_PLAIN = {"true": 2.6, "python": 1.3}
"""Warm over plain subprocess: /usr/bin/true takes ~0.65 ms plain, so 2.6x is the 1 ms
overhead goal (measured ~1.9x with posix_spawn in the supervisor, ~4.1x with fork)."""


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


@pytest.mark.parametrize("name", list(COMMANDS))
def test_gate(name: str) -> None:
    plain, cold, warm = (MEDIANS[(f"spawn-{name}", v)] for v in ("plain", "cold", "warm"))
    print(
        f"\n{name}: plain {plain * 1e3:.1f} ms, cold {cold * 1e3:.1f} ms, warm {warm * 1e3:.1f} ms "
        f"(warm overhead {(warm - plain) * 1e3:.1f} ms)"
    )
    assert warm <= cold * WARM_MAX_SHARE_OF_COLD
    assert warm <= plain * WARM_MAX_RATIO_OF_PLAIN[name]
