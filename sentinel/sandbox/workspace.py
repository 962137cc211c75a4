"""Preparing an agent's workspace: ownership, and the mandatory deny set made real.

Landlock rules only grant (a grant on the workspace covers everything below it), so the
paths the policy denies inside the workspace (.git/hooks, .bashrc, .config ...) are
created up front, owned by root and read-only, and bound read-only over themselves by
bwrap: the agent can neither write them nor replace them (a mount point cannot be
removed or renamed).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from sentinel.errors import SandboxError
from sentinel.sandbox.disk_quota import ensure_quota, release
from sentinel.sandbox.policy import MANDATORY_DENY, WORKSPACE, SandboxPolicy, resolve

SCRATCH_ROOT: Final = Path("/var/tmp")  # noqa: S108 - every uid may traverse it
"""Where throwaway directories the sandbox uid must reach (decoys, test workspaces) live."""

_FILE_NAMES = frozenset({"config", ".bashrc", ".bash_profile", ".profile", ".zshrc"})
"""Denied paths that are files; the others are directories."""

GIT_CONFIG: Final = """[core]
	repositoryformatversion = 0
	filemode = true
	bare = false
	logallrefupdates = true
[user]
	name = Sentinel agent
	email = agent@sentinel.invalid
[init]
	defaultBranch = main
"""
"""The read-only config of a workspace repository Sentinel creates (``git init`` would
rewrite it, so Sentinel makes the repository: the agent can add, commit and branch)."""


def _git_repository(workspace: Path, uid: int, gid: int) -> None:
    """Make ``.git`` a repository the agent can commit to, if it is not one yet.

    ``.git/hooks`` and ``.git/config`` are root's and read-only (the deny set); everything
    git writes in daily use (objects, refs, index, logs) belongs to the agent.
    """
    git = workspace / ".git"
    if not git.is_dir() or git.is_symlink() or (git / "HEAD").exists():
        return
    for name in ("objects", "objects/info", "objects/pack", "refs", "refs/heads", "refs/tags"):
        _real_directory(git / name, uid, gid, 0o755)
    head = git / "HEAD"
    head.write_text("ref: refs/heads/main\n")
    os.chown(head, uid, gid)
    _real_directory(git / "info", uid, gid, 0o755)
    exclude = git / "info" / "exclude"  # Sentinel's own entries are not the agent's work
    managed = [*(f"/{name}/" for name in SCRATCH_DIRS), *(
        f"/{Path(path).relative_to(WORKSPACE)}" for path in MANDATORY_DENY
        if not path.startswith(f"{WORKSPACE}/.git")
    )]  # fmt: skip
    exclude.write_text("\n".join(managed) + "\n")
    os.chown(exclude, uid, gid)


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory ``<prefix>-<random>`` the sandbox uid can traverse, removed after.

    It lives under :data:`SCRATCH_ROOT` with mode 0711, and is removed with its contents
    (quota file systems of workspaces inside it unmounted first) when the block ends, even
    when it ends in an error.
    """
    path = SCRATCH_ROOT / f"{prefix}-{uuid.uuid4().hex[:12]}"
    path.mkdir(mode=0o711)
    try:
        yield path
    finally:
        with contextlib.suppress(SandboxError):
            release(path)
        shutil.rmtree(path, ignore_errors=True)


def _check_reachable(workspace: Path, uid: int) -> None:
    # bwrap runs as the sandbox uid and must traverse every parent of the workspace.
    for parent in workspace.parents:
        info = parent.stat()
        if info.st_uid != uid and not info.st_mode & 0o001:
            raise SandboxError(
                f"workspace {workspace} is not reachable by the sandbox uid {uid}: {parent} has "
                f"mode {info.st_mode & 0o777:o}; use a workspace root such as /var/lib/sentinel "
                f"(mode 0711) or run: chmod o+x {parent}"
            )


SCRATCH_DIRS: Final = (".tmp", ".shm")
"""Directories in a quota workspace that the sandbox sees as /tmp and /dev/shm."""


def _real_directory(path: Path, uid: int, gid: int, mode: int) -> None:
    """Make ``path`` a real directory (an agent-planted symlink or file there is removed)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    if not path.exists():
        path.mkdir(mode=mode)
        os.chown(path, uid, gid)


def _no_symlinks_between(workspace: Path, target: Path) -> None:
    """Remove agent-planted symlinks on the way from ``workspace`` to ``target``.

    Root creates and chowns the deny set; following a link the agent planted (``.git ->
    /etc``) would let the agent choose where root writes. Links are removed, never followed.
    """
    current = workspace
    for part in target.relative_to(workspace).parts:
        current = current / part
        if current.is_symlink():
            current.unlink()


def prepare_workspace(
    workspace: Path, policy: SandboxPolicy, uid: int, gid: int, *, quota_mb: int = 0
) -> None:
    """Give the workspace to the sandbox uid and materialise the deny set (as root).

    With ``quota_mb``, the workspace first becomes a file system of that size
    (:mod:`sentinel.sandbox.disk_quota`).

    Raises:
        SandboxError: A parent directory is not traversable by the sandbox uid, or the
            quota file system cannot be mounted.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return  # an unprivileged launcher owns the workspace already; denials stay bind-only
    _check_reachable(workspace, uid)
    if quota_mb:
        ensure_quota(workspace, quota_mb, uid, gid)
        for name in SCRATCH_DIRS:
            _real_directory(workspace / name, uid, gid, 0o700)
    os.chown(workspace, uid, gid)
    for path in policy.filesystem.denied:
        target = Path(resolve(path, workspace))
        if not target.is_relative_to(workspace):
            continue
        _no_symlinks_between(workspace, target)
        if target.exists():
            continue
        for parent in reversed(target.relative_to(workspace).parents[:-1]):
            _real_directory(workspace / parent, uid, gid, 0o755)  # e.g. .git: the agent's
        if target.name in _FILE_NAMES:
            target.touch(mode=0o644)
            if target.relative_to(workspace) == Path(".git/config"):
                target.write_text(GIT_CONFIG)
            target.chmod(0o444)
        else:
            target.mkdir(mode=0o555)
        with contextlib.suppress(OSError):
            os.chown(target, 0, 0)
    _git_repository(workspace, uid, gid)
