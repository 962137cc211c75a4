"""Copying a workspace out as root: no link followed (source or destination), no set-id
bit, device or fifo kept, nothing owned by root; the control is a plain root copytree.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sentinel.breakout import unprotected
from sentinel.sandbox.launch import NOBODY_UID
from sentinel.sandbox.workspace_copy import copy_owner, copy_workspace

pytestmark = pytest.mark.host

OWNER = (NOBODY_UID, NOBODY_UID)


@pytest.fixture
def hostile(sandbox_base: Path) -> Path:
    """A workspace with everything an agent could leave for the copy."""
    workspace = sandbox_base / "ws"
    (workspace / "src").mkdir(parents=True)
    (workspace / "src" / "main.py").write_text("print('work')\n")
    (workspace / "tool").write_bytes(Path("/usr/bin/true").read_bytes())
    (workspace / "shared").mkdir(mode=0o777)
    (workspace / "to-shadow").symlink_to("/etc/shadow")
    (workspace / "logs").symlink_to(sandbox_base / "host")
    os.mkfifo(workspace / "pipe")
    os.mknod(workspace / "disk", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    (workspace / ".tmp").mkdir()
    (workspace / ".tmp" / "scratch").write_text("session scratch\n")
    (sandbox_base / "host").mkdir(mode=0o700)
    for path in workspace.rglob("*"):
        os.chown(path, NOBODY_UID, NOBODY_UID, follow_symlinks=False)
    (workspace / "tool").chmod(0o6755)  # after the chown, which clears set-id bits
    (workspace / "shared").chmod(0o3777)
    assert (workspace / "tool").stat().st_mode & stat.S_ISUID
    return workspace


def test_the_copy_keeps_work_and_nothing_dangerous(hostile: Path, sandbox_base: Path) -> None:
    kept = sandbox_base / "kept" / "agent"
    kept.parent.mkdir()
    report = copy_workspace(hostile, kept, OWNER)
    assert (kept / "src" / "main.py").read_text() == "print('work')\n"
    assert sorted(report.skipped) == ["disk", "logs", "pipe", "to-shadow"]
    assert sorted(p.name for p in kept.iterdir()) == ["shared", "src", "tool"]
    for path in [kept, *kept.rglob("*")]:
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == OWNER, path
        assert not info.st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), path
        assert not info.st_mode & 0o022, path
    assert stat.S_IMODE((kept / "tool").stat().st_mode) == 0o755


def test_a_link_left_in_the_destination_is_never_followed(
    hostile: Path, sandbox_base: Path
) -> None:
    host = sandbox_base / "host"
    kept = sandbox_base / "kept"
    kept.mkdir()
    (kept / "src").symlink_to(host)  # what an earlier (naive) copy may have left
    copy_workspace(hostile, kept, OWNER)
    assert not any(host.iterdir())
    assert (kept / "src").is_dir() and not (kept / "src").is_symlink()


def test_control_a_plain_root_copy_follows_links_and_keeps_set_uid(
    hostile: Path, sandbox_base: Path
) -> None:
    host = sandbox_base / "host"
    kept = sandbox_base / "kept"
    kept.mkdir()
    (kept / "src").symlink_to(host)
    (hostile / "disk").unlink()  # copytree would block reading a device; the rest suffices
    (hostile / "pipe").unlink()
    unprotected.copy_out(hostile, kept)
    assert (host / "main.py").exists()  # agent content landed outside the copy
    info = (kept / "tool").stat()
    assert info.st_uid == 0 and info.st_mode & stat.S_ISUID  # a set-uid root binary


def test_the_owner_is_the_invoking_user_never_root(
    sandbox_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUDO_UID", raising=False)
    assert copy_owner(sandbox_base, OWNER) == OWNER  # root's directory, no sudo: the sandbox uid
    monkeypatch.setenv("SUDO_UID", "1234")
    monkeypatch.setenv("SUDO_GID", "1235")
    assert copy_owner(sandbox_base, OWNER) == (1234, 1235)
    os.chown(sandbox_base, 4321, 4322)
    assert copy_owner(sandbox_base, OWNER) == (4321, 4322)
