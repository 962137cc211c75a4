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
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from sentinel.errors import SandboxError
from sentinel.sandbox import host_paths, leftovers
from sentinel.sandbox.disk_quota import ensure_quota, release, unescape
from sentinel.sandbox.policy_terms import MANDATORY_DENY, WORKSPACE, PolicyView, resolve

CAS_SOURCE: Final = "sentinel-cas"
"""The mount source of a content-addressed workspace (:mod:`sentinel.cas`); its type is
``fuse`` (mounted directly by root) or ``fuse.sentinel-cas`` (through fusermount3)."""

SCRATCH_ROOT: Final = Path("/var/tmp")  # noqa: S108 - every uid may traverse it
"""Where throwaway directories the sandbox uid must reach (decoys, test workspaces) live."""

SESSION_HOME: Final = ".home"
"""The sandbox's HOME, inside the workspace and emptied when each session starts: dot files
that tools execute (``.gitconfig``, a Python user site's ``.pth``, shell rc files,
``.config/...``) never outlive the session that wrote them (SECURITY.md, "Persistence")."""

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


def _git_repository(root: int, uid: int, gid: int) -> None:
    """Make ``.git`` a repository the agent can commit to, if it is not one yet.

    ``.git/hooks`` and ``.git/config`` are root's and read-only (the deny set); everything
    git writes in daily use (objects, refs, index, logs) belongs to the agent. Every step
    goes through descriptors (:mod:`host_paths`): a link the agent planted at ``.git``,
    ``HEAD`` or ``info/exclude`` is replaced, never written through.
    """
    if host_paths.kind(root, ".git") is None:
        return
    git = host_paths.ensure_directory(root, ".git", uid, gid, 0o755)
    try:
        if stat.S_ISREG(host_paths.kind(git, "HEAD") or 0):
            return
        for name in ("objects", "objects/info", "objects/pack", "refs", "refs/heads", "refs/tags"):
            parent, _, leaf = name.rpartition("/")
            with host_paths.directory(git, parent) as where:
                os.close(host_paths.ensure_directory(where, leaf, uid, gid, 0o755))
        host_paths.write_new_file(git, "HEAD", b"ref: refs/heads/main\n", uid, gid, 0o644)
        info = host_paths.ensure_directory(git, "info", uid, gid, 0o755)
        try:  # Sentinel's own entries are not the agent's work
            managed = [*(f"/{name}/" for name in SCRATCH_DIRS), *(
                f"/{Path(path).relative_to(WORKSPACE)}" for path in MANDATORY_DENY
                if not path.startswith(f"{WORKSPACE}/.git")
            )]  # fmt: skip
            text = ("\n".join(managed) + "\n").encode()
            host_paths.write_new_file(info, "exclude", text, uid, gid, 0o644)
        finally:
            os.close(info)
    finally:
        os.close(git)


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory ``<prefix>-<random>`` the sandbox uid can traverse, removed after.

    It lives under :data:`SCRATCH_ROOT` with mode 0711, and is removed with its contents
    (quota file systems of workspaces inside it unmounted first) when the block ends, even
    when it ends in an error.
    """
    path = SCRATCH_ROOT / f"{prefix}-{os.urandom(6).hex()}"
    leftovers.make_leased_directory(path, 0o711)
    try:
        yield path
    finally:
        try:
            release(path)
        finally:
            shutil.rmtree(path, ignore_errors=True)
            leftovers.give_back("directory", path)


def on_cas(workspace: Path) -> bool:
    """Whether ``workspace`` is itself a content-addressed workspace's mount point.

    Such a workspace is already its own file system (``nosuid,nodev,noexec``, contents in
    the run's object store): the ext4 quota file system is not mounted over it. Only a
    mount served by root's daemon (``user_id=0``) counts.
    """
    target = str(workspace)
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            separator = fields.index("-")
            fstype, source = fields[separator + 1], fields[separator + 2]
            # Only a daemon root started: a user's own FUSE mount named alike is not trusted.
            by_root = "user_id=0" in fields[separator + 3].split(",")
            ours = fstype.startswith("fuse") and source == CAS_SOURCE and by_root
            if ours and unescape(fields[4]) == target:
                return True
    return False


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


SCRATCH_DIRS: Final = (".tmp", ".shm", SESSION_HOME)
"""Per-session directories of a workspace, emptied when a session starts: the sandbox's
/tmp and /dev/shm (on a quota workspace) and its HOME (always)."""


def _scratch(root: int, uid: int, gid: int, names: tuple[str, ...]) -> None:
    """Make ``names`` real, empty directories of the sandbox uid (nothing outlives a session)."""
    for name in names:
        fd = host_paths.ensure_directory(root, name, uid, gid, 0o700)
        try:
            host_paths.empty(fd)
        finally:
            os.close(fd)


def _deny(root: int, relative: Path, uid: int, gid: int) -> None:
    """Materialise one denied path, root-owned and read-only, walking by descriptor."""
    parent = os.dup(root)
    try:
        for part in relative.parts[:-1]:  # e.g. .git: the agent's
            following = host_paths.ensure_directory(parent, part, uid, gid, 0o755)
            os.close(parent)
            parent = following
        name = relative.name
        current = host_paths.kind(parent, name)
        if current is not None and stat.S_ISLNK(current):
            host_paths.remove(parent, name)  # removed, never followed
            current = None
        if current is not None:
            return
        if name in _FILE_NAMES:
            text = GIT_CONFIG.encode() if relative == Path(".git/config") else b""
            host_paths.write_new_file(parent, name, text, 0, 0, 0o444)
        else:
            os.close(host_paths.ensure_directory(parent, name, 0, 0, 0o555))
    finally:
        os.close(parent)


def prepare_workspace(
    workspace: Path, policy: PolicyView, uid: int, gid: int, *, quota_mb: int = 0
) -> bool:
    """Give the workspace to the sandbox uid, start a session, materialise the deny set.

    With ``quota_mb``, the workspace first becomes a file system of that size
    (:mod:`sentinel.sandbox.disk_quota`), unless it is a content-addressed mount
    (:func:`on_cas`), which is its own file system already; on either, the sandbox's /tmp
    and /dev/shm are directories of the workspace (noexec). A session starts with empty
    scratch directories (:data:`SCRATCH_DIRS`). Every operation below the workspace goes
    through directory descriptors and never follows a link (:mod:`sentinel.sandbox.host_paths`).

    Returns:
        Whether this call mounted the workspace's quota file system (the caller releases it).

    Raises:
        SandboxError: A parent directory is not traversable by the sandbox uid, the
            workspace is a link, or the quota file system cannot be mounted.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        # An unprivileged launcher owns the workspace already; denials stay bind-only.
        root = host_paths.open_root(workspace)
        try:
            _scratch(root, uid, gid, (SESSION_HOME,))
        finally:
            os.close(root)
        return False
    _check_reachable(workspace, uid)
    cas = on_cas(workspace)  # a content-addressed mount: its own noexec file system already
    mounted = ensure_quota(workspace, quota_mb, uid, gid) if quota_mb and not cas else False
    root = host_paths.open_root(workspace)  # after the mount: the workspace's own file system
    try:
        os.fchown(root, uid, gid)
        _scratch(root, uid, gid, SCRATCH_DIRS if quota_mb or cas else (SESSION_HOME,))
        for path in policy.filesystem.denied:
            target = Path(resolve(path, workspace))
            if target.is_relative_to(workspace) and target != workspace:
                _deny(root, target.relative_to(workspace), uid, gid)
        _git_repository(root, uid, gid)
    except OSError as exc:
        raise SandboxError(
            f"cannot prepare the workspace {workspace}: {exc.strerror} at {exc.filename}"
        ) from None
    finally:
        os.close(root)
    return mounted
