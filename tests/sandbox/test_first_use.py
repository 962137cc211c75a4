"""A workspace's first quota mount: what the directory held before is copied in, links as
links, and the fresh file system's ``lost+found`` is gone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentinel.sandbox import disk_quota

pytestmark = pytest.mark.host

SIZE_MB = 64
NOBODY = 65534


def test_the_first_mount_carries_the_files_in_and_keeps_links_as_links(
    sandbox_base: Path,
) -> None:
    workspace = sandbox_base / "ws"
    (workspace / "src").mkdir(parents=True)
    (workspace / "src" / "main.py").write_text("print('hi')\n")
    (workspace / "leak").symlink_to("/etc/shadow")
    assert disk_quota.ensure_quota(workspace, SIZE_MB, NOBODY, NOBODY)
    try:
        assert os.path.ismount(workspace)
        assert (workspace / "src" / "main.py").read_text() == "print('hi')\n"
        assert str((workspace / "leak").readlink()) == "/etc/shadow"  # copied as a link
        assert not (workspace / "lost+found").exists()
    finally:
        disk_quota.release(workspace)
    assert not os.path.ismount(workspace)


def test_an_empty_workspace_mounts_an_empty_file_system(sandbox_base: Path) -> None:
    workspace = sandbox_base / "empty"
    workspace.mkdir()
    assert disk_quota.ensure_quota(workspace, SIZE_MB, NOBODY, NOBODY)
    try:
        assert list(workspace.iterdir()) == []
    finally:
        disk_quota.release(workspace)
