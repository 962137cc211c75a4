"""A run's probes load in the background and never outlive the run.

The programs load while the main job reads its company and opens its store
(:class:`StartingProbes`); a run that fails before it takes them must still detach them,
and closing a session must not wait for the polling thread's idle wake.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sentinel.agents import RunOptions, run
from sentinel.errors import SentinelError
from sentinel.probes import ProbeSession
from sentinel.probes.run_probes import StartingProbes

pytestmark = pytest.mark.host

CLOSE_LIMIT_S = 0.5
"""Far above a close that rings the waker (~1 ms), below the polling thread's idle wake (1 s)."""


def _probe_threads() -> int:
    """The native polling threads of this process (named ``sentinel-probe``)."""
    count = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            count += (task / "comm").read_text().strip() == "sentinel-probe"
        except OSError:
            continue  # the thread ended while listed
    return count


def test_a_run_that_fails_before_its_sandboxes_detaches_its_probes(tmp_path: Path) -> None:
    before = _probe_threads()
    options = RunOptions(config=tmp_path / "no-company", store=tmp_path / "run.db", probes="on")
    with pytest.raises(SentinelError):
        run(options)
    assert _probe_threads() == before


def test_probes_nobody_takes_stay_attached_until_abandoned() -> None:
    """The control: the same session, not abandoned, is still polling."""
    before = _probe_threads()
    starting = StartingProbes("on")
    try:
        starting._wait()
        assert _probe_threads() == before + 1
    finally:
        starting.abandon()
    assert _probe_threads() == before


def test_off_loads_nothing() -> None:
    starting = StartingProbes("off")
    assert starting._thread is None
    starting.abandon()


def test_closing_does_not_wait_for_the_idle_wake() -> None:
    session = ProbeSession(follow_sandboxes=False)
    time.sleep(0.05)  # the thread is waiting
    started = time.perf_counter()
    session.close()
    assert time.perf_counter() - started < CLOSE_LIMIT_S
    assert not session._probe.running()
