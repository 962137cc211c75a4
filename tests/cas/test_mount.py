"""File system behaviour through the real FUSE mount."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

from sentinel.cas import MAX_DEPTH
from sentinel.sandbox.workspace import on_cas
from tests.cas.conftest import MountFactory

pytestmark = pytest.mark.host


def test_write_read_rename_unlink(mount_cas: MountFactory) -> None:
    root = mount_cas().mountpoint
    (root / "a.txt").write_bytes(b"hello")
    assert (root / "a.txt").read_bytes() == b"hello"
    with (root / "a.txt").open("ab") as handle:
        handle.write(b" world")
    assert (root / "a.txt").read_bytes() == b"hello world"
    (root / "a.txt").rename(root / "b.txt")
    assert not (root / "a.txt").exists()
    assert (root / "b.txt").read_bytes() == b"hello world"
    (root / "b.txt").unlink()
    assert sorted(p.name for p in root.iterdir()) == []


def test_rename_replaces_and_refuses_dir_over_file(mount_cas: MountFactory) -> None:
    root = mount_cas().mountpoint
    (root / "old").write_bytes(b"1")
    (root / "new").write_bytes(b"2")
    (root / "old").rename(root / "new")
    assert (root / "new").read_bytes() == b"1"
    (root / "d").mkdir()
    with pytest.raises(NotADirectoryError):
        (root / "d").rename(root / "new")
    with pytest.raises(OSError, match="Invalid argument"):
        (root / "d").rename(root / "d" / "inside")


def test_mkdir_rmdir_and_listing(mount_cas: MountFactory) -> None:
    root = mount_cas().mountpoint
    (root / "d" / "e").mkdir(parents=True)
    (root / "d" / "f").write_text("x")
    assert sorted(p.name for p in (root / "d").iterdir()) == ["e", "f"]
    with pytest.raises(OSError, match="not empty"):
        (root / "d").rmdir()
    (root / "d" / "e").rmdir()
    (root / "d" / "f").unlink()
    (root / "d").rmdir()
    assert not any(root.iterdir())


def test_truncate_and_sparse_extend(mount_cas: MountFactory) -> None:
    root = mount_cas().mountpoint
    path = root / "t"
    path.write_bytes(b"0123456789")
    os.truncate(path, 4)
    assert path.read_bytes() == b"0123"
    os.truncate(path, 6)
    assert path.read_bytes() == b"0123\0\0"
    with path.open("r+b") as handle:
        handle.seek(8)
        handle.write(b"Z")
    assert path.read_bytes() == b"0123\0\0\0\0Z"
    path.write_bytes(b"new")  # O_TRUNC
    assert path.read_bytes() == b"new"


def test_symlink_is_stored_not_followed_by_the_daemon(mount_cas: MountFactory) -> None:
    root = mount_cas().mountpoint
    (root / "target").write_text("inside")
    (root / "link").symlink_to("target")
    (root / "escape").symlink_to("/etc/shadow")
    assert str((root / "link").readlink()) == "target"
    assert (root / "link").read_text() == "inside"
    assert str((root / "escape").readlink()) == "/etc/shadow"
    assert (root / "link").lstat().st_mode & 0o170000 == 0o120000


def test_unlinked_open_file_stays_readable(mount_cas: MountFactory) -> None:
    root = mount_cas().mountpoint
    (root / "f").write_bytes(b"kept")
    with (root / "f").open("rb") as handle:
        (root / "f").unlink()
        assert handle.read() == b"kept"
    assert not (root / "f").exists()


def test_mount_options_are_nosuid_nodev_noexec(mount_cas: MountFactory) -> None:
    workspace = mount_cas()
    line = next(
        line
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4] == str(workspace.mountpoint)
    )
    options = line.split()[5].split(",")
    assert {"nosuid", "nodev", "noexec"} <= set(options)
    assert on_cas(workspace.mountpoint)
    assert not on_cas(workspace.mountpoint.parent)
    script = workspace.mountpoint / "run.sh"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(0o755)
    with pytest.raises(PermissionError):
        subprocess.run([script], check=False)


def test_owner_and_modes_are_checked_by_the_kernel(mount_cas: MountFactory) -> None:
    root = mount_cas(uid=0, gid=0, mode=0o755).mountpoint
    (root / "private").write_text("secret")
    (root / "private").chmod(0o600)
    pid = os.fork()
    if pid == 0:  # a child that drops to an unprivileged uid and tries to read and write
        code = 0
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                (root / "private").read_text()
                code |= 1
            except PermissionError:
                pass
            try:
                (root / "new").write_text("x")
                code |= 2
            except PermissionError:
                pass
            root.stat()  # allow_other: others reach the mount at all
        except OSError:
            code |= 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_name_length_is_bounded(mount_cas: MountFactory) -> None:
    root = mount_cas().mountpoint
    (root / ("n" * 255)).write_text("ok")
    with pytest.raises(OSError) as raised:
        (root / ("n" * 256)).write_text("too long")
    assert raised.value.errno == errno.ENAMETOOLONG


def test_depth_is_bounded_and_deep_nesting_is_refused_not_recursed(
    mount_cas: MountFactory,
) -> None:
    """2,000 nested directories: refused at MAX_DEPTH with EMLINK; snapshot still works."""
    workspace = mount_cas()
    fd = os.open(workspace.mountpoint, os.O_RDONLY | os.O_DIRECTORY)
    made = 0
    refused = None
    try:
        for _ in range(2000):
            try:
                os.mkdir("d", dir_fd=fd)
            except OSError as exc:
                refused = exc.errno
                break
            following = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = following
            made += 1
    finally:
        os.close(fd)
    assert made == MAX_DEPTH
    assert refused == errno.EMLINK
    root = workspace.snapshot()
    workspace.restore(root)
    assert workspace.inodes() == MAX_DEPTH + 1


def test_rename_cannot_exceed_the_depth_bound(mount_cas: MountFactory) -> None:
    root = mount_cas().mountpoint
    deep = root / "a"
    path = deep
    for _ in range(MAX_DEPTH - 1):
        path = path / "d"
    path.mkdir(parents=True)  # a at depth 1, the last d at MAX_DEPTH
    (root / "b").mkdir()
    (root / "b" / "c").mkdir()
    with pytest.raises(OSError) as raised:
        (root / "b").rename(path.parent / "b")  # b/c would land at MAX_DEPTH + 1
    assert raised.value.errno == errno.EMLINK
    (root / "b" / "c").rename(path.parent / "c")  # an empty dir fits exactly


def test_hard_links_and_devices_are_refused(mount_cas: MountFactory) -> None:
    root = mount_cas().mountpoint
    (root / "f").write_text("x")
    with pytest.raises(OSError):
        os.link(root / "f", root / "g")
    with pytest.raises(OSError):
        os.mkfifo(root / "fifo")
    assert sorted(p.name for p in root.iterdir()) == ["f"]


def test_statfs_reports_the_stores_free_space(mount_cas: MountFactory) -> None:
    workspace = mount_cas()
    mounted = os.statvfs(workspace.mountpoint)
    host = os.statvfs(workspace.store.path)
    assert mounted.f_bavail > 0
    assert mounted.f_blocks * mounted.f_frsize == host.f_blocks * host.f_frsize
    assert mounted.f_files >= 1
    assert mounted.f_namemax == 255
