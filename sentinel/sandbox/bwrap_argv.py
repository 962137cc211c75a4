"""The bubblewrap command line of a sandbox, built from its policy.

bwrap is started as the unprivileged sandbox uid (never as root: launched by root, bwrap
would map the sandbox's root to host root, which peers did and which let commands write
global sysctls), so it creates an unprivileged user namespace and every other namespace
inside it. The sandbox sees: read-only binds of the policy's paths, its workspace
read-write, a private /proc, /dev and /tmp, and nothing else of the host.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from sentinel.sandbox import leftovers
from sentinel.sandbox.policy_terms import MANDATORY_DENY, WORKSPACE, PolicyView, resolve

SHIM_MOUNT: Final = "/.sentinel"
"""Where the Landlock shim's directory is bound inside the sandbox."""
SHIM_BINARY_MOUNT: Final = "/.sentinel-shim"
"""Where the native Landlock shim is bound inside the sandbox."""
SANDBOX_HOSTNAME: Final = "sentinel-sandbox"
MERGED_USR_LINKS: Final = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""On merged-/usr systems these are symlinks into /usr; the sandbox gets the same links."""


def bwrap_argv(
    bwrap: str,
    policy: PolicyView,
    workspace: Path,
    *,
    env: Mapping[str, str],
    isolate_network: bool,
    seccomp_fd: int | None,
    shim_dir: Path | None,
    hardening: Sequence[str],
    shim_binary: Path | None = None,
    scratch_on_workspace: bool = False,
) -> list[str]:
    """The argv up to (not including) the ``--`` that precedes the command.

    Args:
        bwrap: Path of the bwrap executable.
        policy: The policy.
        workspace: The agent's workspace (bound read-write at the same path).
        env: The complete environment of the command (bwrap starts from an empty one).
        isolate_network: Give the sandbox its own network namespace (loopback only).
        seccomp_fd: A file descriptor holding the BPF program, or None for no filter.
        shim_dir: Directory with the Python shims, bound read-only at ``/.sentinel``.
        shim_binary: The native Landlock shim, bound read-only at ``/.sentinel-shim``.
        hardening: Options this bwrap supports among ``--disable-userns``, ``--cap-drop``.
        scratch_on_workspace: The workspace is its own noexec file system (the disk quota):
            /tmp and /dev/shm are bound from its ``.tmp`` and ``.shm`` (noexec, counted in
            the quota) instead of fresh tmpfs mounts (which a loader could execute from).
    """
    argv = [
        bwrap,
        "--unshare-user",
        "--unshare-ipc",
        "--unshare-pid",
        "--unshare-uts",
        "--unshare-cgroup-try",
    ]
    if isolate_network:
        argv.append("--unshare-net")
    argv += ["--die-with-parent", "--new-session", "--hostname", SANDBOX_HOSTNAME, "--clearenv"]
    for name, value in env.items():
        argv += ["--setenv", name, value]
    if "--cap-drop" in hardening:
        argv += ["--cap-drop", "ALL"]
    if "--disable-userns" in hardening:
        argv.append("--disable-userns")  # no nested user namespaces: no route to new capabilities
    argv += ["--proc", "/proc", "--dev", "/dev"]
    if scratch_on_workspace:
        argv += ["--bind", f"{workspace}/.tmp", "/tmp", "--bind", f"{workspace}/.shm", "/dev/shm"]  # noqa: S108
    else:
        argv += ["--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]  # noqa: S108 - private tmpfs mounts
    argv += ["--remount-ro", "/dev"]  # device nodes stay writable; nothing new can be created
    for link in map(Path, MERGED_USR_LINKS):
        if link.is_symlink():
            argv += ["--symlink", str(link.readlink()), str(link)]
    argv += _binds(policy, workspace)
    if shim_dir is not None:
        argv += ["--ro-bind", str(shim_dir), SHIM_MOUNT]
    if shim_binary is not None:
        argv += ["--ro-bind", str(shim_binary), SHIM_BINARY_MOUNT]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    argv += ["--chdir", str(workspace)]
    return argv


NODES_PREFIX: Final = "sentinel-nodes-"
"""The start of the empty nodes' directory name: ``sentinel-nodes-<pid>-<start>-<random>``."""


@functools.cache
def empty_nodes() -> tuple[Path, Path, Path]:
    """An empty file and directory with mode 000, and an empty read-only directory.

    Bound over a denied path, the first two make it unreadable and unexecutable for the
    sandbox uid (which owns neither and has no capability); the third stands in for a
    read-only path of the workspace that does not exist yet. Created once per process in a
    fresh directory (searchable, so bwrap running as the sandbox uid can bind them) named
    after the process (pid and start time), and removed when the process exits. A process
    killed before its exit handlers (SIGKILL, a worker pool's terminate) leaves them: the
    next process of the same uid to make its own removes those of dead processes first,
    and root leases its directory before it exists, so ``sentinel-run sandbox gc`` removes
    it too.
    """
    base = Path(tempfile.gettempdir())
    remove_stale_nodes(base)
    pid = os.getpid()
    home = base / f"{NODES_PREFIX}{pid}-{leftovers.process_start(pid)}-{os.urandom(4).hex()}"
    leftovers.take("directory", home)  # before it exists: a crash in between leaves a lease
    home.mkdir(mode=0o700)  # fails on a name someone made first: never a path not ours
    atexit.register(remove_empty_nodes, home, pid)
    home.chmod(0o711)
    empty_file, empty_dir, read_only_dir = home / "file", home / "dir", home / "ro-dir"
    empty_file.touch(mode=0o000)
    empty_file.chmod(0o000)
    empty_dir.mkdir(mode=0o000)
    empty_dir.chmod(0o000)
    read_only_dir.mkdir(mode=0o555)
    read_only_dir.chmod(0o555)
    return empty_file, empty_dir, read_only_dir


def remove_empty_nodes(home: Path, owner: int) -> None:
    """Remove :func:`empty_nodes`' directory, in the process that made it only.

    A forked child that exits through its exit handlers must not take its parent's nodes
    away.
    """
    if os.getpid() == owner:
        _remove_nodes(home)


def remove_stale_nodes(base: Path) -> list[Path]:
    """Remove the empty nodes of dead processes of this uid in ``base``; what was removed.

    Only real directories (not links) that this uid owns and whose name is a process that
    no longer runs (its pid gone, or reused by a process started at another time): a
    directory of another uid, or one a live process holds, is never touched. Owned by this
    uid and searchable only for others (0711), nothing in one can have been replaced by
    another uid.
    """
    removed: list[Path] = []
    uid = os.geteuid()
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(NODES_PREFIX):
            continue
        pid, _, rest = entry.name.removeprefix(NODES_PREFIX).partition("-")
        start = rest.rpartition("-")[0]
        try:
            facts = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not (pid.isdigit() and start.isdigit()):
            continue  # not a name this module gives (or its start time was unknown)
        if not (stat.S_ISDIR(facts.st_mode) and facts.st_uid == uid):
            continue
        if leftovers.process_start(int(pid)) == start:
            continue  # its process still runs
        home = Path(entry.path)
        _remove_nodes(home)
        if not home.exists():
            removed.append(home)
    return removed


def _remove_nodes(home: Path) -> None:
    """Remove a nodes directory and its lease.

    The mode-000 directory is opened up first: an unprivileged owner cannot list it, and a
    removal that cannot list it leaves it, and its parent, behind.
    """
    inner = home / "dir"
    with contextlib.suppress(OSError):
        if stat.S_ISDIR(inner.lstat().st_mode):  # a real directory, made by its owner
            inner.chmod(0o700)
    shutil.rmtree(home, ignore_errors=True)
    if not home.exists():
        leftovers.give_back("directory", home)


def _binds(policy: PolicyView, workspace: Path) -> list[str]:
    """The policy's binds, in an order where the narrower rule always wins.

    Host read-only and exec paths first, then the workspace read-write, then read-only paths
    inside the workspace (bound after it, so they stay read-only), then the mandatory
    read-only set, and last the policy's denials: an empty 000 node bound over each, so a
    denied file can be neither read nor executed whatever a wider rule allows.
    """
    files = policy.filesystem
    empty_file, empty_dir, read_only_dir = empty_nodes()
    argv: list[str] = []
    bound: list[str] = []
    inside = [p for p in files.read_only if p.startswith(WORKSPACE)]
    for path in (*files.read_only, *files.exec):
        resolved = resolve(path, workspace)
        if path in inside or resolved in bound:
            continue
        if os.path.lexists(resolved) and not Path(resolved).is_symlink():
            argv += ["--ro-bind", resolved, resolved]
            bound.append(resolved)
    argv += ["--bind", str(workspace), str(workspace)]
    mandatory = [Path(resolve(path, workspace)) for path in MANDATORY_DENY]
    # A denied path's parents inside the workspace (.git for .git/hooks) become mount points
    # too: a mount point cannot be renamed, so the agent cannot move .git aside with its
    # read-only hooks and make a fresh one.
    parents = {
        parent
        for path in mandatory
        if path.is_relative_to(workspace)
        for parent in path.relative_to(workspace).parents[:-1]
    }
    for parent in sorted(parents, key=lambda p: len(p.parts)):
        source = workspace / parent
        if source.is_dir() and not source.is_symlink():
            argv += ["--bind", str(source), str(source)]
    argv += _workspace_read_only(inside, workspace, read_only_dir)
    for resolved in map(str, mandatory):
        if os.path.lexists(resolved):
            argv += ["--ro-bind", resolved, resolved]
    for path in sorted(files.deny, key=lambda p: p.count("/")):
        resolved = resolve(path, workspace)
        if not os.path.lexists(resolved):
            continue
        node = empty_dir if Path(resolved).is_dir() else empty_file
        argv += ["--ro-bind", str(node), resolved]
    return argv


def _workspace_read_only(paths: list[str], workspace: Path, stand_in: Path) -> list[str]:
    """Read-only binds of ``paths`` inside the workspace, bound after it (outer first).

    A path that does not exist (or is a link, which a mount would follow) gets the empty
    read-only ``stand_in``: the agent can never create it writable.
    """
    argv: list[str] = []
    for path in sorted(paths, key=lambda p: p.count("/")):
        resolved = resolve(path, workspace)
        usable = os.path.lexists(resolved) and not Path(resolved).is_symlink()
        argv += ["--ro-bind", resolved if usable else str(stand_in), resolved]
    return argv
