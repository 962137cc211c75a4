"""The request path's shortcuts keep the file system's meaning.

Three things make a CAS write cheaper (see docs/architecture.md, "Content-addressed
workspaces"): ``open(O_TRUNC)`` truncates inside OPEN (FUSE_ATOMIC_O_TRUNC, one SETATTR
round trip fewer), FLUSH is not implemented so ``close()`` waits for nothing and the
contents are committed at RELEASE, which the kernel sends after ``close()`` returns, and
the request thread spins briefly after each reply. These tests pin what must not change:
the kernel still checks write permission before an O_TRUNC open reaches the daemon; a
snapshot taken while a RELEASE is outstanding (right after ``close()``, or with the file
still open) holds exactly the bytes written; the spin is counted and can be turned off.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentinel.cas.reference import directory_tree_id
from sentinel.errors import SandboxError
from tests.cas.conftest import MountFactory

pytestmark = pytest.mark.host


def _write(path: Path, payload: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, payload)
    finally:
        os.close(fd)


def test_open_with_o_trunc_empties_the_file_and_keeps_its_snapshot(
    mount_cas: MountFactory,
) -> None:
    workspace = mount_cas()
    path = workspace.mountpoint / "f"
    path.write_bytes(b"old contents")
    before = workspace.snapshot()
    os.close(os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC))
    assert path.read_bytes() == b""
    assert path.stat().st_size == 0
    workspace.restore(before)
    assert path.read_bytes() == b"old contents"


def test_o_trunc_still_needs_write_permission(mount_cas: MountFactory) -> None:
    """FUSE_ATOMIC_O_TRUNC hands the truncation to the daemon inside OPEN; the kernel's
    permission check (``default_permissions``) must still come first. Control: the same
    open by the owner (root) does truncate."""
    root = mount_cas(uid=0, gid=0, mode=0o755).mountpoint
    (root / "kept").write_bytes(b"not yours")
    (root / "kept").chmod(0o644)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setgid(65534)
            os.setuid(65534)
            for flags in (os.O_WRONLY | os.O_TRUNC, os.O_RDONLY | os.O_TRUNC):
                try:
                    os.close(os.open(root / "kept", flags | os.O_CLOEXEC))
                    code |= 1
                except PermissionError:
                    pass
        except OSError:
            code |= 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (root / "kept").read_bytes() == b"not yours"
    os.close(os.open(root / "kept", os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC))  # control
    assert (root / "kept").read_bytes() == b""


def test_a_snapshot_right_after_close_holds_the_written_bytes(
    mount_cas: MountFactory, tmp_path: Path
) -> None:
    """``close()`` returns before the kernel sends RELEASE (no FLUSH), so a snapshot can run
    while the commit of the file's last write is outstanding. WRITE is synchronous (no
    writeback cache): the bytes are in the daemon's table when ``write()`` returns, and a
    snapshot commits every file itself, so it never waits for a RELEASE and never misses
    one. Each snapshot is checked against the reference root of the same tree on the host."""
    workspace = mount_cas()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for index in range(200):
        payload = bytes([index % 256]) * (4096 + index)
        for base in (workspace.mountpoint, mirror):
            _write(base / "file.bin", payload)
            (base / "file.bin").chmod(0o644)
        assert workspace.snapshot() == directory_tree_id(mirror), index


def test_a_snapshot_of_a_file_still_open_holds_its_written_bytes(
    mount_cas: MountFactory, tmp_path: Path
) -> None:
    """The outstanding RELEASE in its longest form: the file is still open, so none was
    sent yet; the snapshot commits the written bytes, and the later RELEASE changes nothing."""
    workspace = mount_cas()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _write(mirror / "open.bin", b"written, not closed")
    (mirror / "open.bin").chmod(0o644)
    fd = os.open(workspace.mountpoint / "open.bin", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.fchmod(fd, 0o644)
        os.write(fd, b"written, not closed")
        root = workspace.snapshot()
        assert root == directory_tree_id(mirror)
    finally:
        os.close(fd)
    assert workspace.snapshot() == root


def test_the_spin_after_replies_is_counted_and_can_be_turned_off(
    mount_cas: MountFactory,
) -> None:
    spinning = mount_cas("ws-spin")
    still = mount_cas("ws-still", linger_us=0)
    for workspace in (spinning, still):
        for index in range(20):
            _write(workspace.mountpoint / f"f{index}", b"x" * 4096)
    spins, hits, spun_ns, cpu_ns = spinning.linger_stats()
    assert spins >= 20 * 2  # at least OPEN/CREATE and WRITE of each write were replied to
    assert 0 <= hits <= spins
    assert spun_ns >= 0 and cpu_ns >= 0
    assert still.linger_stats() == (0, 0, 0, 0)


def test_a_spin_budget_over_the_bound_is_refused(mount_cas: MountFactory) -> None:
    with pytest.raises(SandboxError, match="linger_us"):
        mount_cas("ws-long", linger_us=10_001)
