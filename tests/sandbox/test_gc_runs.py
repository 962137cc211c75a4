"""gc finds run directories under RUNS_ROOT that no live lease holds (their quota mounts
and workspace images with them), and leaves the ones a live process holds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.sandbox import leftovers
from sentinel.sandbox.disk_quota import mounts_below, release

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="gc is root's")
CRASH = """
import os, sys
from pathlib import Path
from sentinel.sandbox import leftovers
from sentinel.sandbox.disk_quota import ensure_quota
run = Path(sys.argv[1])
leftovers.take("directory", run)
run.mkdir(mode=0o711)
(run / "ws").mkdir()
ensure_quota(run / "ws", 16, 65534, 65534)
os._exit(9)  # a crash: no teardown, no exit handlers
"""


@pytest.fixture
def run_dirs() -> Iterator[list[Path]]:
    made: list[Path] = []
    yield made
    for run in made:  # whatever the test left
        release(run)
        shutil.rmtree(run, ignore_errors=True)
        for kind in ("directory", "mount"):
            leftovers.give_back(kind, run if kind == "directory" else run / "ws")


def _crashed_run(run_dirs: list[Path], *, forget_leases: bool) -> Path:
    leftovers.RUNS_ROOT.mkdir(mode=0o711, parents=True, exist_ok=True)
    run = leftovers.RUNS_ROOT / f"gc-test-{uuid.uuid4().hex[:10]}"
    run_dirs.append(run)
    argv = [sys.executable, "-c", CRASH, str(run)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 9, done.stderr
    if forget_leases:  # as when /run was emptied, or an older version made them
        leftovers.give_back("directory", run)
        leftovers.give_back("mount", run / "ws")
    old = time.time() - 2 * leftovers.UNLEASED_MIN_AGE_S
    os.utime(run, (old, old))
    return run


def test_an_unleased_crashed_run_is_collected(run_dirs: list[Path]) -> None:
    run = _crashed_run(run_dirs, forget_leases=True)
    # the control: the crash left a mounted workspace and its image, with no lease naming them
    assert mounts_below(run) == [run / "ws"]
    assert (run / ".ws.quota.img").exists()
    assert not any(lease.path.startswith(str(run)) for lease in leftovers.leases())
    report = leftovers.collect()
    assert f"directory {run}" in report.removed, report
    assert mounts_below(run) == [] and not run.exists()
    assert leftovers.quota_loop_devices(run) == {}


def test_a_run_a_live_process_holds_is_kept(run_dirs: list[Path]) -> None:
    run = _crashed_run(run_dirs, forget_leases=True)
    leftovers.take("directory", run)  # this live process now holds it
    report = leftovers.collect()
    assert f"directory {run}" not in report.removed
    assert mounts_below(run) == [run / "ws"] and (run / ".ws.quota.img").exists()
