"""Agent uid lease files: removed on release, a crashed holder's removed by gc, and a lock
on a file released under us never counts as a lease."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys

import pytest

from sentinel.sandbox.agent_uid import LEASE_DIR, lease, remove_stale_leases

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="uid leases are root's")


def test_release_removes_the_lease_file() -> None:
    held = lease("uid-file-test-release")
    path = LEASE_DIR / str(held.uid)
    assert path.exists()
    held.release()
    assert not path.exists()
    held.release()  # idempotent


def test_gc_removes_what_a_crashed_holder_left_and_never_a_held_one() -> None:
    crashed = subprocess.run(
        [sys.executable, "-c",
         "import os; from sentinel.sandbox.agent_uid import lease\n"
         "held = lease('uid-file-test-crash'); print(held.uid, flush=True); os._exit(9)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert crashed.returncode == 9, crashed.stderr
    stale = int(crashed.stdout)
    assert (LEASE_DIR / str(stale)).exists()  # the control: a crash leaves the file
    held = lease("uid-file-test-held")
    try:
        removed = remove_stale_leases()
        assert stale in removed and not (LEASE_DIR / str(stale)).exists()
        assert held.uid not in removed and (LEASE_DIR / str(held.uid)).exists()
    finally:
        held.release()


def test_a_lock_on_a_file_released_under_us_is_not_a_lease(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = lease("uid-file-test-race")
    path = LEASE_DIR / str(held.uid)
    stale_fd = os.open(path, os.O_RDWR)  # opened before the holder releases
    real_flock = fcntl.flock
    calls: list[int] = []

    def flock_after_release(fd: int, operation: int) -> None:
        if not calls:  # the holder releases (unlinks) between our open and our lock
            calls.append(fd)
            held.release()
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock_after_release)
    again = lease("uid-file-test-race", preferred=held.uid)
    try:
        assert again.uid == held.uid and calls  # the first lock was given up, the name taken afresh
        current, ours = os.lstat(path), os.fstat(again._fd)
        assert (current.st_dev, current.st_ino) == (ours.st_dev, ours.st_ino)
    finally:
        again.release()
        os.close(stale_fd)
