"""The naive host side the negative controls of host-side scenarios run against.

Each function is what a launcher does without Sentinel's root-side path discipline, as
Sentinel itself did before: write and chown workspace files by path, copy a workspace
out with :func:`shutil.copytree`, start the next session as a plain subprocess with HOME
in the workspace and no pins. Used only against decoys in the breakout arena.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Final

from sentinel.sandbox.workspace import SCRATCH_DIRS

SESSION_TIMEOUT_S: Final = 30.0
PLAIN_PATH: Final = "/usr/local/bin:/usr/bin:/bin"


def _owner(workspace: Path) -> int:
    """The uid the workspace's sandbox ran as (each agent has a uid of its own)."""
    return os.lstat(workspace).st_uid


def reprepare(workspace: Path) -> None:
    """Make ``.git`` a repository by path, as Sentinel's workspace code did (follows links)."""
    uid = _owner(workspace)
    git = workspace / ".git"
    git.mkdir(exist_ok=True)
    if (git / "HEAD").exists():
        return
    head = git / "HEAD"
    head.write_text("ref: refs/heads/main\n")
    os.chown(head, uid, uid)
    (git / "info").mkdir(exist_ok=True)
    exclude = git / "info" / "exclude"
    exclude.write_text("".join(f"/{name}/\n" for name in SCRATCH_DIRS))
    os.chown(exclude, uid, uid)


def copy_out(workspace: Path, destination: Path) -> None:
    """A plain root copy, as ``keep_workspaces`` did (links kept, modes kept, root's files)."""
    shutil.copytree(
        workspace,
        destination,
        symlinks=True,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".tmp", ".shm", "lost+found"),
    )


def next_session(workspace: Path, argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    """The next session as a plain subprocess of the sandbox uid: HOME is the workspace."""
    env = {"PATH": PLAIN_PATH, "HOME": str(workspace), "LANG": "C.UTF-8"}
    uid = _owner(workspace)
    return subprocess.run(
        argv, cwd=workspace, env=env, user=uid, group=uid, extra_groups=[],
        capture_output=True, timeout=SESSION_TIMEOUT_S, check=False,
    )  # fmt: skip
