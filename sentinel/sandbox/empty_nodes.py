"""The empty nodes bwrap binds over denied paths: made once per process, never left behind.

An empty file and directory with mode 000, and an empty read-only directory. Bound over a
denied path, the first two make it unreadable and unexecutable for the sandbox uid (which
owns neither and has no capability); the third stands in for a read-only path of the
workspace that does not exist yet. Each process makes its own in a fresh directory of the
temporary directory, named after the process (its pid namespace, pid and start time),
searchable by every uid so bwrap running as the sandbox uid can bind them, and removes it
at exit. A process killed before its exit handlers (SIGKILL, a worker pool's terminate)
leaves it: the next process of the same uid and pid namespace removes those of its dead
processes first, and root leases the directory before it exists, so
``sentinel-run sandbox gc`` removes root's too.

Root runs this code in a directory every user can write to, so every step after the
directory's name is chosen works through descriptors: the directory is made, opened
without following links and checked to be this uid's own before anything is made, changed
or removed in it, and a directory that is not the one the sweep looked at is left alone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from sentinel.errors import SandboxError
from sentinel.sandbox import host_paths, leftovers

NODES_PREFIX: Final = "sentinel-nodes-"
"""The start of a nodes directory's name: ``sentinel-nodes-<pidns>-<pid>-<start>-<random>``."""
_NAME: Final = re.compile(rf"{NODES_PREFIX}(\d+)-(\d+)-(\d+)-[0-9a-f]+", re.ASCII)
_SHARED_WRITE: Final = stat.S_IWGRP | stat.S_IWOTH

Nodes = tuple[Path, Path, Path]
_made: dict[int, Nodes] = {}
"""Pid -> its nodes: a forked child makes its own (its parent's go when the parent does)."""


def empty_nodes() -> Nodes:
    """This process's empty file, empty directory (both mode 000) and read-only directory.

    Raises:
        SandboxError: The temporary directory is one other users could replace entries in
            (writable by them and not sticky, or owned by another user).
    """
    pid = os.getpid()
    found = _made.get(pid)
    if found is None:
        made = _make(pid)
        found = _made.setdefault(pid, made)
        if found is not made:  # another thread made them first
            remove_empty_nodes(made[0].parent, pid)
    return found


def remove_empty_nodes(home: Path, owner: int) -> None:
    """Remove a nodes directory, in the process that made it only (never a forked child's).

    Args:
        home: The directory.
        owner: The pid that made it.
    """
    if os.getpid() != owner:
        return
    with contextlib.suppress(OSError), _opened(home.parent) as base:
        _remove_at(base, home)


def remove_stale_nodes(base: Path) -> list[Path]:
    """Remove the nodes of dead processes of this uid and pid namespace in ``base``.

    Only real directories (not links) this uid owns, named for a process of this pid
    namespace that no longer runs (its pid gone, or reused by a process started at another
    time): another uid's directory, another namespace's and a live process's are never
    touched.

    Returns:
        The directories removed.
    """
    removed: list[Path] = []
    namespace, uid = _pid_namespace(), os.geteuid()
    try:
        with _opened(base) as base_fd:
            for entry in os.scandir(base_fd):
                match = _NAME.fullmatch(entry.name)
                if match is None:
                    continue
                pid_namespace, pid, start = match.groups()
                if int(pid_namespace) != namespace or start == "0":
                    continue  # pids of another namespace; or a start time never known
                try:
                    facts = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISDIR(facts.st_mode) or facts.st_uid != uid:
                    continue
                if leftovers.process_start(int(pid)) == start:
                    continue  # its process still runs
                home = base / entry.name
                if _remove_at(base_fd, home, facts):
                    removed.append(home)
    except OSError:
        return removed
    return removed


def _make(pid: int) -> Nodes:
    base = Path(tempfile.gettempdir())
    _check_base(base)
    remove_stale_nodes(base)
    start = leftovers.process_start(pid) or "0"
    name = f"{NODES_PREFIX}{_pid_namespace()}-{pid}-{start}-{os.urandom(4).hex()}"
    home = base / name
    with _opened(base) as base_fd:
        leftovers.make_leased_directory(home, 0o700, base_fd)  # fails on a name already made
        atexit.register(remove_empty_nodes, home, pid)
        with host_paths.directory(base_fd, name) as fd:  # just made: this uid's, 0700
            os.fchmod(fd, 0o711)
            os.close(os.open("file", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o000, dir_fd=fd))  # fmt: skip
            os.mkdir("dir", 0o000, dir_fd=fd)
            os.mkdir("ro-dir", 0o555, dir_fd=fd)
            os.chmod("ro-dir", 0o555, dir_fd=fd)  # noqa: S103 - read-only for all: what it stands for
    return home / "file", home / "dir", home / "ro-dir"


def _check_base(base: Path) -> None:
    facts = base.stat()
    foreign = facts.st_uid not in (0, os.geteuid())
    shared = facts.st_mode & _SHARED_WRITE and not facts.st_mode & stat.S_ISVTX
    if foreign or shared:
        raise SandboxError(
            f"the temporary directory {base} (TMPDIR) is "
            + ("owned by another user" if foreign else "writable by others and not sticky")
            + ": another user could replace the sandbox's empty nodes there; set TMPDIR to a "
            "directory of your own or a sticky one such as /tmp"
        )


def _remove_at(base_fd: int, home: Path, seen: os.stat_result | None = None) -> bool:
    """Remove ``home`` (a name in ``base_fd``) if it is this uid's directory; whether it went.

    ``seen``: what the sweep looked at; a directory that is not that one is left.
    """
    try:
        fd = host_paths.open_directory(base_fd, home.name)
    except OSError:
        return False
    try:
        facts = os.fstat(fd)
        if facts.st_uid != os.geteuid():
            return False
        if seen is not None and (facts.st_dev, facts.st_ino) != (seen.st_dev, seen.st_ino):
            return False
        if not facts.st_mode & _SHARED_WRITE:  # only this uid can have made what is inside
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(host_paths.kind(fd, "dir") or 0):
                    os.chmod("dir", 0o700, dir_fd=fd)  # an owner cannot list its 000 dir
        shutil.rmtree(home.name, ignore_errors=True, dir_fd=base_fd)  # by descriptor
    finally:
        os.close(fd)
    try:
        gone = host_paths.kind(base_fd, home.name) is None
    except OSError:
        return False
    if gone:
        leftovers.give_back("directory", home)
    return gone


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[int]:
    """A host-chosen directory, opened without following a link at its name."""
    fd = os.open(path, host_paths.DIRECTORY_FLAGS)
    try:
        yield fd
    finally:
        os.close(fd)


def _pid_namespace() -> int:
    """This process's pid namespace (the inode of ``/proc/self/ns/pid``; 0 if unknown)."""
    try:
        return Path("/proc/self/ns/pid").stat().st_ino
    except OSError:
        return 0
