"""An acknowledged append survives SIGKILL: 20 rounds of killing a writer at random moments."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sentinel.audit import AuditStore, verify_store

ROUNDS = 20


def _run_and_kill(path: Path, rng: random.Random) -> dict[int, str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.audit.workers", str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        # A writer killed mid-way can leave SQLite's temporary files (etilqs_*) behind: keep
        # them in the test's directory, not in the host's /var/tmp.
        env=dict(os.environ, SQLITE_TMPDIR=str(path.parent)),
    )
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + rng.uniform(0.02, 0.4)
        acknowledged: dict[int, str] = {}
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            position, event_id = line.split()
            acknowledged[int(position)] = event_id
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    # Whatever the child printed before it died was acknowledged, so it counts too.
    with child.stdout:
        for line in child.stdout.read().splitlines():
            parts = line.split()
            if len(parts) == 2:
                acknowledged[int(parts[0])] = parts[1]
    return acknowledged


def test_acknowledged_appends_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    rng = random.Random(1234)
    acknowledged: dict[int, str] = {}
    for _ in range(ROUNDS):
        acknowledged.update(_run_and_kill(path, rng))
        with AuditStore(path) as store:  # reopening recovers the WAL
            for position, event_id in acknowledged.items():
                event = store.at(position)
                assert event is not None, f"acknowledged position {position} lost"
                assert event.event_id == event_id
        report = verify_store(path)
        assert report.ok, report.problems
    assert len(acknowledged) > ROUNDS  # the writer really ran between kills
