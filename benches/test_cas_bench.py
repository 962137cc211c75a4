"""A 4 KiB dedup-hit write: the content-addressed workspace against the ext4 quota workspace.

The operation is what an agent's editor or build does most: open an existing file with
O_TRUNC, write 4 KiB, close. On the CAS workspace the contents are already in the object
store, so the close hashes 4 KiB and finds it (a dedup hit) and nothing reaches the disk;
on the ext4 workspace (the loop-mounted quota file system of ``disk_quota``) it is a page
cache write. Both run in the same session on the same machine.

Goal (issue 19): the CAS write's p95 <= 100 us; reported in ``extra_info``, not asserted
as a time. The gate is the ratio of the two p95s, :data:`MAX_P95_RATIO`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentinel.cas import CasStore, CasWorkspace
from sentinel.sandbox.disk_quota import ensure_quota, release
from sentinel.sandbox.workspace import scratch_dir

ROUNDS = 3000
"""Writes timed per variant: enough for a stable 95th percentile."""
BLOCK = 4096
PAYLOAD = bytes(range(256)) * (BLOCK // 256)
QUOTA_MB = 64
MAX_P95_RATIO = 4.0
"""CAS p95 over ext4 p95. FUSE adds three round trips to the daemon per write (open,
write, flush) that ext4 does in the kernel; measured TODO on the 2-core CI machine."""

P95: dict[str, float] = {}


def _write_once(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, PAYLOAD)
    finally:
        os.close(fd)


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    with scratch_dir("sentinel-cas-bench") as path:
        yield path


@pytest.fixture(scope="module")
def cas_file(base: Path) -> Iterator[Path]:
    point = base / "cas"
    point.mkdir()
    with CasWorkspace(CasStore(base / "store"), point) as workspace:
        path = workspace.mountpoint / "file.bin"
        _write_once(path)  # the contents are in the store from here on: every write hits
        yield path


@pytest.fixture(scope="module")
def ext4_file(base: Path) -> Iterator[Path]:
    point = base / "ext4"
    point.mkdir()
    ensure_quota(point, QUOTA_MB, 0, 0)
    try:
        path = point / "file.bin"
        _write_once(path)
        yield path
    finally:
        release(point)


def _bench(benchmark: Any, variant: str, path: Path) -> None:
    benchmark.group = "cas-4k-dedup-write"
    benchmark.extra_info["variant"] = variant
    benchmark.pedantic(_write_once, args=(path,), rounds=ROUNDS, iterations=1, warmup_rounds=200)
    if benchmark.stats is None:  # --benchmark-disable
        return
    P95[variant] = _p95(list(benchmark.stats.stats.data))
    benchmark.extra_info["p95_us"] = round(P95[variant] * 1e6, 1)


def test_ext4_quota_workspace(benchmark: Any, ext4_file: Path) -> None:
    _bench(benchmark, "ext4", ext4_file)


def test_cas_workspace(benchmark: Any, cas_file: Path) -> None:
    _bench(benchmark, "cas", cas_file)


def test_gate() -> None:
    if set(P95) != {"cas", "ext4"}:
        pytest.skip("needs both variants timed in this run (not with --benchmark-disable)")
    ratio = P95["cas"] / P95["ext4"]
    print(  # noqa: T201 - the numbers the issue asks to report
        f"4 KiB dedup-hit write p95: cas {P95['cas'] * 1e6:.1f} us, "
        f"ext4 {P95['ext4'] * 1e6:.1f} us, ratio {ratio:.2f}"
    )
    assert ratio <= MAX_P95_RATIO
