"""Which FUSE requests one benchmarked CAS write makes, and how long each takes.

Run as root: ``python -m benches.cas_requests [--ops N]``. It mounts a CAS workspace,
makes the bench's two operations (``overwrite`` and ``create``, see
:mod:`benches.test_cas_bench`) ``N`` times each, and traces the kernel's side of every
request with the ``fuse:fuse_request_send`` / ``fuse:fuse_request_end`` tracepoints
(Linux 6.15+) in a private tracefs instance, filtered to the mount's connection. Each
operation is delimited by a ``trace_marker`` line, so every request is attributed to the
operation that caused it: the output is, per operation, the requests it sent (median
count) and each request's round trip (send to end: queued, the daemon woken, served,
replied), plus a bare round trip (a 4 KiB ``pwrite`` on an open file, one WRITE) as the
floor of any synchronous request on this machine.

A diagnostic, not a gate: the gate is :func:`benches.test_cas_bench.test_gate`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benches.test_cas_bench import PAYLOAD, write_payload
from sentinel.cas import CasStore, CasWorkspace

_LINE = re.compile(r"\s(\d+\.\d+): (\w+): (.*)$")
_SEND = re.compile(r"req (\d+) opcode \d+ \((\w+)\)")
_END = re.compile(r"req (\d+) ")


@contextmanager
def _tracefs() -> Iterator[Path]:
    """The kernel's tracefs: the mounted one, or one mounted here for the run and removed."""
    for candidate in (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing")):
        if (candidate / "instances").is_dir():
            yield candidate
            return
    point = Path(tempfile.mkdtemp(prefix="sentinel-tracefs-"))
    subprocess.run(["/usr/bin/mount", "-t", "tracefs", "none", str(point)], check=True)
    try:
        yield point
    finally:
        subprocess.run(["/usr/bin/umount", str(point)], check=False)
        point.rmdir()


@contextmanager
def _instance(connection: int) -> Iterator[Path]:
    with _tracefs() as tracefs:
        root = tracefs / "instances" / f"sentinel-cas-{os.getpid()}"
        root.mkdir()
        try:
            for event in ("fuse_request_send", "fuse_request_end"):
                event_dir = root / "events" / "fuse" / event
                (event_dir / "filter").write_text(f"connection == {connection}")
                (event_dir / "enable").write_text("1")
            (root / "buffer_size_kb").write_text("65536")
            (root / "tracing_on").write_text("1")
            yield root
        finally:
            (root / "tracing_on").write_text("0")
            root.rmdir()


def _trace(
    root: Path, name: str, operation: Callable[[], object], count: int
) -> tuple[Counter[str], dict[str, list[float]], list[float]]:
    """Per request kind: median count per operation, round trips (s); and op wall times."""
    (root / "trace").write_text("")
    marker = os.open(root / "trace_marker", os.O_WRONLY)
    walls = []
    try:
        for index in range(count):
            os.write(marker, f"op {name} {index}".encode())
            start = time.perf_counter()
            operation()
            walls.append(time.perf_counter() - start)
        time.sleep(0.05)  # the last RELEASE is sent in the background
        os.write(marker, b"op end")
    finally:
        os.close(marker)
    per_op: list[Counter[str]] = []
    sent: dict[str, tuple[str, float]] = {}
    trips: dict[str, list[float]] = defaultdict(list)
    for line in (root / "trace").read_text().splitlines():
        found = _LINE.search(line)
        if found is None:
            continue
        stamp, event, rest = float(found[1]), found[2], found[3]
        if event == "tracing_mark_write":
            per_op.append(Counter())
        elif event == "fuse_request_send" and (send := _SEND.search(rest)) and per_op:
            per_op[-1][send[2]] += 1
            sent[send[1]] = (send[2], stamp)
        elif event == "fuse_request_end" and (end := _END.search(rest)) and end[1] in sent:
            kind, began = sent.pop(end[1])
            trips[kind].append(stamp - began)
    kinds = {kind for counts in per_op for kind in counts}
    median = Counter({k: int(statistics.median(c[k] for c in per_op[:count])) for k in kinds})
    return median, trips, walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=500, help="operations traced per kind")
    parser.add_argument("--linger-us", type=int, default=None, help="the mount's spin budget")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentinel-cas-requests-") as base:
        point = Path(base, "cas")
        point.mkdir()
        with CasWorkspace(
            CasStore(Path(base, "store")), point, linger_us=args.linger_us
        ) as workspace:
            path = workspace.mountpoint / "file.bin"
            write_payload(path)
            names = iter(range(10**9))
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            try:
                operations: dict[str, Callable[[], object]] = {
                    "overwrite": lambda: write_payload(path),
                    "create": lambda: write_payload(path.parent / f"new-{next(names)}.bin"),
                    "bare-write": lambda: os.pwrite(fd, PAYLOAD, 0),
                }
                with _instance(point.stat().st_dev) as root:
                    for _ in range(100):  # warm up
                        for operation in operations.values():
                            operation()
                    for name, operation in operations.items():
                        before = workspace.linger_stats()
                        cpu = time.process_time()
                        counts, trips, walls = _trace(root, name, operation, args.ops)
                        cpu = (time.process_time() - cpu) / args.ops
                        spins, hits, spun, spin_cpu = (
                            a - b for a, b in zip(workspace.linger_stats(), before, strict=True)
                        )
                        walls.sort()
                        print(
                            f"{name}: wall p50 {walls[len(walls) // 2] * 1e6:.0f} us, "
                            f"p95 {walls[int(len(walls) * 0.95)] * 1e6:.0f} us; process CPU "
                            f"{cpu * 1e6:.0f} us/op; spins {spins / args.ops:.1f}/op, "
                            f"{hits / max(spins, 1):.0%} caught a request, "
                            f"{spun / args.ops / 1e3:.1f} us/op spun ({spin_cpu / args.ops / 1e3:.1f} us "
                            "CPU); requests per op:"
                        )
                        for kind, times in sorted(trips.items()):
                            times.sort()
                            print(
                                f"  {kind:14} x{counts.get(kind, 0)}  round trip p50 "
                                f"{times[len(times) // 2] * 1e6:6.1f} us  p95 "
                                f"{times[int(len(times) * 0.95)] * 1e6:6.1f} us  (n={len(times)})"
                            )
            finally:  # an open file keeps the mount busy: its unmount would fail
                os.close(fd)


if __name__ == "__main__":
    main()
