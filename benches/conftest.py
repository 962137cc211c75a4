"""Ratio gates: each benchmark group times the native path and its Python reference in the
same run, and a gate test compares their medians. Absolute times are never asserted."""

from __future__ import annotations

import os
import statistics
import time
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


def interleaved_samples(
    variants: dict[str, Callable[[], Any]],
    rounds: int,
    warmup: int = 0,
    block: int = 1,
    between: Callable[[], Any] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Time each variant ``rounds`` times, ``block`` calls of each per turn, in a rotating order.

    A ratio gate compares two variants; timed one after the other, each sees a different
    stretch of the machine's load (CI once failed two gates at 1.51x and 1.55x of a 1.5x
    limit that way). Interleaved, every round samples the same moment for all variants,
    so the load shifts both sides of the ratio alike. A ``block`` above one keeps a variant
    running for a while before the next takes over, for paths whose speed depends on staying
    hot (a FUSE daemon's thread sleeps between requests: call by call, every CAS write paid
    for waking it, 2-4x its p95 in a stream of writes). ``between``, if given, runs untimed
    after each block, for variants that leave work behind on another thread (the gateway's
    queued audit writer): it finishes that work before the next variant's block, so it is
    not timed against its neighbour. ``clock`` reads the time (``time.thread_time``: the
    calling thread's CPU time, for single-threaded variants on a machine so busy that a
    call's wall time is mostly waiting for a core). Returns seconds per call, by variant.
    """
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for turn in range(-(-(warmup + rounds) // block)):
        shift = turn % len(names)
        for name in names[shift:] + names[:shift]:
            call = variants[name]
            for index in range(turn * block, min((turn + 1) * block, warmup + rounds)):
                start = clock()
                call()
                elapsed = clock() - start
                if index >= warmup:
                    samples[name].append(elapsed)
            if between is not None:
                between()
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``samples`` (nearest rank, no interpolation)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def pytest_report_header() -> list[str]:
    """The machine's load when the benches start: the context every ratio below was taken in."""
    one, five, fifteen = os.getloadavg()
    return [f"load average at start: {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"]


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """The median of ``numerator[i] / denominator[i]``: each pair taken at the same moment.

    :func:`interleaved_samples` keeps each variant's samples in turn order, so the i-th
    sample of two variants were taken one right after the other: a burst of load that
    slows one sample of a pair slows the other too, and their ratio keeps what the code
    costs. The median of those ratios, unlike the ratio of the two medians, never divides
    a sample from a quiet moment by one from a busy moment.
    """
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError(f"paired samples differ in length: {len(numerator)}, {len(denominator)}")
    return statistics.median(a / b for a, b in zip(numerator, denominator, strict=True))
