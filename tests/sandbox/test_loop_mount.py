"""Quota images mounted with system calls: nosuid, nodev, noexec, the loop device detached at
unmount (auto-clear), never through a link."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.sandbox import loop_mount
from sentinel.sandbox.disk_quota import MNT_DETACH, UMOUNT_NOFOLLOW, mounts_below
from sentinel.sandbox.leftovers import quota_loop_devices

LIBC = ctypes.CDLL(None, use_errno=True)
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


@pytest.fixture
def image(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / f"test-loop-{uuid.uuid4().hex[:8]}.img"
    with path.open("wb") as handle:
        handle.truncate(16 << 20)
    mkfs = shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin")
    assert mkfs is not None, "apt-get install e2fsprogs"
    subprocess.run([mkfs, "-q", "-F", str(path)], check=True)
    yield path


def _options(target: Path) -> set[str]:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == str(target):
            return set(fields[5].split(","))
    return set()


def _bound_to(image: Path) -> list[str]:
    return [dev for dev, backing in _all_loops().items() if backing == str(image)]


def _all_loops() -> dict[str, str]:
    found = {}
    for block in Path("/sys/block").glob("loop*"):
        try:
            found[f"/dev/{block.name}"] = (block / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue
    return found


def test_an_image_mounts_noexec_and_its_device_goes_with_the_mount(
    image: Path, tmp_path: Path
) -> None:
    target = tmp_path / "mnt"
    target.mkdir()
    loop_mount.mount_image(image, target)
    try:
        assert {"nosuid", "nodev", "noexec"} <= _options(target)
        assert len(_bound_to(image)) == 1
    finally:
        assert LIBC.umount2(os.fsencode(target), MNT_DETACH | UMOUNT_NOFOLLOW) == 0
    assert mounts_below(target) == []
    for _ in range(100):  # auto-clear detaches once the last user is gone
        if not _bound_to(image):
            break
        os.sched_yield()
    assert _bound_to(image) == []
    assert quota_loop_devices(tmp_path) == {}


def test_a_link_in_place_of_the_image_is_not_followed(image: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.img"
    link.symlink_to(image)
    target = tmp_path / "mnt"
    target.mkdir()
    with pytest.raises(OSError, match=r"symbolic link|Too many levels"):
        loop_mount.mount_image(link, target)
    assert _bound_to(image) == [] and mounts_below(target) == []
    # the control: the same image by its own name mounts
    loop_mount.mount_image(image, target)
    assert LIBC.umount2(os.fsencode(target), MNT_DETACH) == 0
