"""The workspace image lock: gc never acts on an image a live process holds; no link is followed.

Each gc scenario has its control: the same leftover with the lock released is removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.errors import ImageLockedError, SandboxError
from sentinel.sandbox import disk_quota, image_lock, leftovers, loop_mount

pytestmark = pytest.mark.host

SIZE_MB = 64
NOBODY = 65534
HOLDER = (
    "import sys; from pathlib import Path\n"
    "from sentinel.sandbox.image_lock import hold\n"
    "lock = hold(Path(sys.argv[1]))\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)
"""A live launcher: holds the image's lock until its stdin closes."""


@pytest.fixture
def holder() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.communicate(timeout=10)  # closes its pipes


def _hold_elsewhere(image: Path, started: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(image)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    started.append(process)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


def _let_go(process: subprocess.Popen[str]) -> None:
    process.communicate(timeout=30)  # closes its stdin: the holder lets go and exits
    assert process.returncode == 0


def _as_if_crashed(kind: leftovers.Kind, path: Path) -> None:
    """Rewrite this process's lease on ``path`` as one of a process that is gone."""
    file = leftovers._lease_file(kind, str(path))
    record = json.loads(file.read_text())
    record.update(pid=_dead_pid(), start="1")
    file.write_text(json.dumps(record))


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def mounted(sandbox_base: Path) -> Iterator[Path]:
    workspace = sandbox_base / "ws"
    workspace.mkdir()
    assert disk_quota.ensure_quota(workspace, SIZE_MB, NOBODY, NOBODY)
    yield workspace
    disk_quota.release(workspace)


def test_gc_keeps_a_crashed_launchers_mount_while_a_live_process_holds_the_image(
    mounted: Path, holder: list[subprocess.Popen[str]]
) -> None:
    _as_if_crashed("mount", mounted)
    process = _hold_elsewhere(disk_quota.image_path(mounted), holder)
    report = leftovers.collect()
    assert disk_quota.mounts_below(mounted) == [mounted]
    assert any(str(mounted) in line and "locked" in line for line in report.kept), report
    # control: the same leftover once the holder lets go is unmounted
    _let_go(process)
    report = leftovers.collect()
    assert f"mount {mounted}" in report.removed, report
    assert not disk_quota.mounts_below(mounted)


def test_gc_keeps_a_mount_leased_again_after_it_read_the_leases(mounted: Path) -> None:
    """The check under the lock: a launcher that mounted again has a live lease by then."""
    _as_if_crashed("mount", mounted)
    dead, _ = leftovers.read_leases()
    leftovers.take("mount", mounted)  # the new launcher, after gc's read
    report = leftovers.GcReport()
    for lease in dead:
        if lease.path == str(mounted):
            leftovers._collect_lease(lease, report)
            leftovers._forget(lease)
    assert disk_quota.mounts_below(mounted) == [mounted]
    assert any(str(mounted) in line for line in report.kept), report
    assert leftovers._lease_holder("mount", str(mounted)) == os.getpid()


def test_gc_leaves_a_loop_device_bound_but_not_yet_mounted_while_its_image_is_locked(
    sandbox_base: Path, holder: list[subprocess.Popen[str]]
) -> None:
    workspace = sandbox_base / "ws"
    workspace.mkdir()
    assert disk_quota.ensure_quota(workspace, SIZE_MB, NOBODY, NOBODY)
    disk_quota.release(workspace)
    image = disk_quota.image_path(workspace)
    process = _hold_elsewhere(image, holder)  # the launcher between binding and mounting
    device, loop_fd = loop_mount.attach(image)  # bound, as a launcher about to mount it
    try:
        report = leftovers.collect()
        assert device in leftovers.quota_loop_devices(sandbox_base)
        assert any(device in line and "locked" in line for line in report.kept), report
        # control: unlocked, the same unmounted device is detached
        _let_go(process)
        report = leftovers.collect()
        assert any(device in line for line in report.removed), report
    finally:
        os.close(loop_fd)  # auto-clear: the device is free once nothing holds it


def test_a_link_at_the_image_name_is_refused_and_the_control_follows_it(
    sandbox_base: Path,
) -> None:
    target = sandbox_base / "host-file"
    target.write_bytes(b"root's")
    target.chmod(0o600)
    image = sandbox_base / f".ws{disk_quota.QUOTA_SUFFIX}"
    image.symlink_to(target)
    with pytest.raises(SandboxError, match="symbolic link"):
        image_lock.hold(image)
    (sandbox_base / "ws").mkdir()
    with pytest.raises(SandboxError, match="symbolic link"):
        disk_quota.ensure_quota(sandbox_base / "ws", SIZE_MB, NOBODY, NOBODY)
    # control: without O_NOFOLLOW the same open lands on the host file
    fd = os.open(image, os.O_RDONLY | os.O_CLOEXEC)
    try:
        assert os.fstat(fd).st_ino == target.stat().st_ino
    finally:
        os.close(fd)


def test_a_fifo_at_the_image_name_is_refused_without_hanging(sandbox_base: Path) -> None:
    image = sandbox_base / f".ws{disk_quota.QUOTA_SUFFIX}"
    os.mkfifo(image)
    with pytest.raises(SandboxError, match="not a regular file"):
        image_lock.hold(image)


def test_a_held_lock_is_reported_not_waited_for_when_asked(
    sandbox_base: Path, holder: list[subprocess.Popen[str]]
) -> None:
    image = sandbox_base / f".ws{disk_quota.QUOTA_SUFFIX}"
    image.write_bytes(b"")
    process = _hold_elsewhere(image, holder)
    with pytest.raises(ImageLockedError, match=str(image)):
        image_lock.hold(image, wait=False)
    _let_go(process)
    image_lock.hold(image, wait=False).release()
