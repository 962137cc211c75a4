"""Ratio gates: each benchmark group times the native path and its Python reference in the
same run, and a gate test compares their medians. Absolute times are never asserted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

MEDIANS: dict[tuple[str, str], float] = {}


@pytest.fixture
def measure(benchmark: Any) -> Callable[..., Any]:
    """Benchmark ``fn`` and keep its median under (group, variant) for the ratio gate."""

    def run(group: str, variant: str, fn: Callable[[], Any]) -> Any:
        benchmark.group = group
        benchmark.extra_info["variant"] = variant
        result = benchmark(fn)
        if benchmark.stats is not None:  # None when run with --benchmark-disable
            MEDIANS[(group, variant)] = benchmark.stats.stats.median
        return result

    return run


def speedup(group: str) -> float:
    """Median of the reference divided by median of the native variant of ``group``."""
    try:
        return MEDIANS[(group, "reference")] / MEDIANS[(group, "native")]
    except KeyError:
        pytest.fail(f"benchmark group {group!r} did not record both variants; run the whole file")
