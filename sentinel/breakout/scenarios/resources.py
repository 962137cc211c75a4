"""Resource exhaustion: memory, processes, CPU, descriptors, disk, output and time.

Every bomb is bounded (the limit plus a margin) so the negative control, which runs without
any limit, proves the point without hurting the host.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from sentinel.breakout.arena import Arena
from sentinel.breakout.scenario import RUNNER, WORKSPACE_FS, Family, Outcome, Run, Scenario
from sentinel.breakout.scenarios.judges import arena_of

R = Family.RESOURCES
WALL_LIMIT_S = 2.0
"""The wall-clock scenario runs with this limit (the production limit is longer)."""


IDLE_SAMPLE_S = 0.5


def _idle_cores() -> float:
    """CPUs' worth of idle time on the host over a short sample (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total (in jiffies)

    idle_before, total_before = sample()
    time.sleep(IDLE_SAMPLE_S)
    idle_after, total_after = sample()
    cores = os.cpu_count() or 1
    return cores * (idle_after - idle_before) / max(1, total_after - total_before)


def _enough_cores(arena: Arena) -> str | None:
    """The control must be able to use more CPU than the quota: it needs idle cores."""
    quota = arena.facts["limits"]["cpu_percent"] / 100
    needed = math.ceil(quota) + 1
    cores = os.cpu_count() or 1
    if cores < needed:
        return f"the host has {cores} CPU(s); the control needs {needed}"
    idle = _idle_cores()
    if idle < quota * 1.5:
        return f"the host is busy ({idle:.1f} idle CPUs); the control needs {quota * 1.5:.1f}"
    return None


def _flood(run: Run) -> Outcome | None:
    limit = arena_of(run).facts["limits"]["max_output_bytes"]
    if run.exec.truncated:
        return Outcome("blocked", f"output cut at {limit} bytes and the command killed")
    if len(run.exec.stdout) > limit:
        return Outcome("escaped", f"{len(run.exec.stdout)} bytes of output (limit {limit})")
    return None


def _wall(run: Run) -> Outcome | None:
    if run.exec.timed_out:
        return Outcome("blocked", f"killed at the {WALL_LIMIT_S} s wall-clock limit")
    return None


SCENARIOS = [
    Scenario("res-memory-bomb", R, "allocate and touch memory beyond the limit", ("cgroups",), """
def attack(A):
    limit = A["limits"]["memory_mb"]
    chunks = []
    for _ in range((limit + 128) // 16):
        chunk = bytearray(16 << 20)
        chunk[::4096] = b"\\1" * len(range(0, len(chunk), 4096))
        chunks.append(chunk)
    escaped(f"allocated {limit + 128} MiB (limit {limit} MiB)")
"""),
    Scenario("res-fork-bomb", R, "start more processes than the pids limit", ("cgroups",), """
import signal
def attack(A):
    wanted = A["limits"]["pids"] + 64
    children = []
    try:
        for _ in range(wanted):
            pid = os.fork()
            if pid == 0:
                time.sleep(10)
                os._exit(0)
            children.append(pid)
    except OSError as exc:
        blocked(f"fork refused after {len(children)} processes: {describe(exc)}")
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    escaped(f"started {wanted} processes (limit {A['limits']['pids']})")
"""),
    Scenario("res-cpu-burn", R, "burn more CPU than the quota with parallel busy loops",
             ("cgroups",), """
import math
def attack(A):
    limit = A["limits"]["cpu_percent"] / 100
    workers = math.ceil(limit) + 1
    start = time.monotonic()
    pids = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            while time.monotonic() - start < 2.0:
                pass
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    wall = time.monotonic() - start
    times = os.times()
    used = (times.children_user + times.children_system) / wall
    if used > limit * 1.25:
        escaped(f"used {used:.2f} CPUs for {wall:.1f} s (quota {limit:.2f})")
    blocked(f"held to {used:.2f} CPUs (quota {limit:.2f})")
""", precondition=_enough_cores),
    Scenario("res-fd-exhaustion", R, "open more file descriptors than the limit", (RUNNER,), """
def attack(A):
    limit = A["limits"]["max_open_files"]
    fds = []
    try:
        for _ in range(limit * 4):
            fds.append(os.open("/dev/null", os.O_RDONLY))
    except OSError as exc:
        blocked(f"refused after {len(fds)} descriptors: {describe(exc)}")
    escaped(f"opened {len(fds)} descriptors (limit {limit})")
"""),
    Scenario("res-file-size", R, "write one file larger than the per-file limit", (RUNNER,), """
def attack(A):
    limit = A["limits"]["max_file_mb"]
    block = b"\\1" * (8 << 20)
    written = 0
    try:
        with open("huge.bin", "wb") as handle:
            while written < limit + 16:
                handle.write(block)
                written += 8
    except OSError as exc:
        blocked(f"stopped at {written} MiB: {describe(exc)}")
    finally:
        try:
            os.unlink("huge.bin")
        except OSError:
            pass
    escaped(f"wrote a {written} MiB file (limit {limit} MiB)")
"""),
    Scenario("res-disk-fill", R, "fill the disk from the workspace with many files", (WORKSPACE_FS,), """
def attack(A):
    limit = A["limits"]["disk_mb"]
    block = b"\\0" * (1 << 20)
    written = 0
    try:
        for index in range(limit + 64):
            with open(f"fill-{index:05d}", "wb") as handle:
                handle.write(block)
            written += 1
    except OSError as exc:
        blocked(f"stopped after {written} MiB: {describe(exc)}")
    finally:
        for index in range(written + 1):
            try:
                os.unlink(f"fill-{index:05d}")
            except OSError:
                pass
    escaped(f"wrote {written} MiB (quota {limit} MiB)")
"""),
    Scenario("res-tmp-fill", R, "fill /tmp beyond the workspace's disk quota",
             (WORKSPACE_FS,), """
def attack(A):
    limit = A["limits"]["disk_mb"]
    path = "/tmp/sentinel-breakout-fill-" + A["token"]
    block = b"\\1" * (1 << 20)
    written = 0
    try:
        with open(path, "wb") as handle:
            for _ in range(limit + 64):
                handle.write(block)
                written += 1
            handle.flush()
    except OSError as exc:
        blocked(f"stopped after {written} MiB: {describe(exc)}")
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
    escaped(f"wrote {written} MiB to /tmp (quota {limit} MiB)")
"""),
    Scenario("res-output-flood", R, "flood the supervisor with output", (RUNNER,), """
def attack(A):
    chunk = b"x" * 65536
    for _ in range(A["limits"]["max_output_bytes"] * 4 // len(chunk)):
        os.write(1, chunk)
    attempted("wrote four times the output limit")
""", judge=_flood),
    Scenario("res-wall-clock", R, "keep running past the wall-clock limit", (RUNNER,), f"""
def attack(A):
    time.sleep({WALL_LIMIT_S} + 2)
    escaped("ran 2 s past the wall-clock limit")
""", judge=_wall, timeout=WALL_LIMIT_S),
]  # fmt: skip
