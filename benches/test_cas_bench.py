"""A 4 KiB dedup-hit write: the content-addressed workspace against the ext4 quota workspace.

Two operations an agent's editor or build does most, each with contents the object store
already holds (so the close hashes 4 KiB, finds it, a dedup hit, and nothing reaches the
disk): ``overwrite`` opens an existing file with O_TRUNC, writes 4 KiB and closes;
``create`` makes a new file (a new name each time), writes 4 KiB and closes. On the ext4
workspace (the loop-mounted quota file system of ``disk_quota``) both are page cache
writes, except that ext4 flushes a file truncated from non-zero length at close
(``auto_da_alloc``, the "replace via truncate" heuristic), which sets its overwrite p95.
Both file systems run in the same session on the same machine.

Goal (issue 19): the CAS write's p95 <= 100 us; reported in ``extra_info``, not asserted
as a time. The gate is the ratio of the two p95s, :data:`MAX_P95_RATIO`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
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
MAX_P95_RATIO = {"overwrite": 1.5, "create": 5.0}
"""CAS p95 over ext4 p95, per operation. FUSE adds synchronous round trips to the daemon
that ext4 does in the kernel (overwrite: open, write; create: lookup, create, write;
RELEASE, which commits, is sent in the background), so on a loaded machine the p95 is
set by how fast the daemon's thread is scheduled; ext4's overwrite pays for its flush at
close. Measured on the 2-core CI machine (load 6-11 from other jobs), eight runs:
overwrite cas 31-49 us vs ext4 41-107 us (ratio 0.33-0.93); create cas 44-143 us vs
ext4 28-57 us (ratio 1.26-4.23)."""

OPERATIONS = ("overwrite", "create")
P95: dict[tuple[str, str], float] = {}


def _write_once(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, PAYLOAD)
    finally:
        os.close(fd)


def _operation(operation: str, path: Path) -> Callable[[], None]:
    if operation == "overwrite":
        return lambda: _write_once(path)
    names = itertools.count()
    return lambda: _write_once(path.parent / f"new-{next(names)}.bin")


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


def _bench(benchmark: Any, operation: str, variant: str, path: Path) -> None:
    benchmark.group = f"cas-4k-dedup-write-{operation}"
    benchmark.extra_info["variant"] = variant
    write = _operation(operation, path)
    benchmark.pedantic(write, rounds=ROUNDS, iterations=1, warmup_rounds=200)
    if benchmark.stats is None:  # --benchmark-disable
        return
    P95[(operation, variant)] = _p95(list(benchmark.stats.stats.data))
    benchmark.extra_info["p95_us"] = round(P95[(operation, variant)] * 1e6, 1)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_ext4_quota_workspace(benchmark: Any, operation: str, ext4_file: Path) -> None:
    _bench(benchmark, operation, "ext4", ext4_file)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_cas_workspace(benchmark: Any, operation: str, cas_file: Path) -> None:
    _bench(benchmark, operation, "cas", cas_file)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_gate(operation: str) -> None:
    if not {(operation, "cas"), (operation, "ext4")} <= set(P95):
        pytest.skip("needs both variants timed in this run (not with --benchmark-disable)")
    cas, ext4 = P95[(operation, "cas")], P95[(operation, "ext4")]
    print(
        f"4 KiB dedup-hit write ({operation}) p95: cas {cas * 1e6:.1f} us, "
        f"ext4 {ext4 * 1e6:.1f} us, ratio {cas / ext4:.2f}"
    )
    assert cas / ext4 <= MAX_P95_RATIO[operation]
