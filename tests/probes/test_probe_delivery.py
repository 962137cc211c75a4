"""How records travel from the kernel to a reader: no wakeup per record, none lost, none late.

The programs submit to the ring buffer without waking the probe's thread (a wakeup per
record cost the main job ~400 sleeps and wakes a second); the thread reads the ring every
100 ms, when the ring fills past 512 KiB, and whenever a reader drains, which waits for that
read: a poll right after a command holds all of its records.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.probes import ProbeSession
from sentinel.probes.session import agent_of_group
from tests.probes.watched_group import in_group, watched_group

pytestmark = pytest.mark.host

BURST = 6000
"""Files a burst opens for writing: ~1.8 MB of records, past the 512 KiB that wakes the thread."""
MAX_WAKES = 60
"""Sleeps of the probe's thread allowed over a burst: measured 3; with a wakeup per record (the
programs built with the old submit flag, the control) 2,002-2,638 for the same burst."""


@pytest.fixture
def watched() -> Iterator[tuple[ProbeSession, Path, str]]:
    with watched_group("delivery") as found:
        yield found


def _sleeps(tid: str) -> int:
    for line in Path(f"/proc/self/task/{tid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    raise AssertionError(f"thread {tid} has no voluntary_ctxt_switches")


def test_a_poll_right_after_a_command_holds_all_its_records(
    watched: tuple[ProbeSession, Path, str], tmp_path: Path
) -> None:
    session, group, _ = watched
    session.poll()
    in_group(
        group,
        "import os\nfor i in range(25): os.close(os.open(f'once-{i}', os.O_WRONLY | os.O_CREAT, 0o600))",
        tmp_path,
    )
    records = session.poll()  # once, no waiting: the drain has the thread read the ring
    opened = [r.detail()["path"] for r in records if r.kind.name == "OPEN_WRITE"]
    assert sorted(p for p in opened if p and p.startswith("once-")) == sorted(
        f"once-{i}" for i in range(25)
    )
    assert any(r.kind.name == "EXIT" for r in records)


def test_a_burst_wakes_the_thread_a_few_times_and_loses_nothing(
    watched: tuple[ProbeSession, Path, str], tmp_path: Path
) -> None:
    session, group, tid = watched
    session.poll()
    before = _sleeps(tid)
    in_group(
        group,
        f"import os\nfor i in range({BURST}): os.close(os.open(f'burst-{{i % 50}}', os.O_WRONLY | os.O_CREAT, 0o600))",
        tmp_path,
    )
    wakes = _sleeps(tid) - before
    records = session.poll()
    burst = [
        r
        for r in records
        if r.kind.name == "OPEN_WRITE" and r.detail()["path"].startswith("burst-")
    ]
    assert len(burst) == BURST and session.lost == 0
    assert session.totals()[agent_of_group(group.name)].write_opens >= BURST
    print(f"\n{BURST} records, the probe's thread slept {wakes} times")
    assert wakes <= MAX_WAKES, wakes
