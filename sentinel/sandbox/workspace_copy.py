"""Copying a workspace out of Sentinel's hands (``keep_workspaces``), as root, safely.

The source is agent-written and the destination may hold what an earlier copy left (a link
the agent planted, say). So the copy:

- walks both trees by directory descriptor and never follows a link, in the source or in
  the destination (:mod:`sentinel.sandbox.host_paths`); the destination directory is made
  afresh (an earlier copy there is removed first, by descriptor);
- copies regular files and directories only; links, devices, fifos and sockets are left
  out and listed in the result;
- never keeps set-uid, set-gid or sticky bits, nor write bits for group and others;
- gives every copied file and directory to ``owner`` (the invoking user, never root when
  it can be helped: see :func:`copy_owner`) by descriptor.

A directory tree rather than an archive: people open kept workspaces with git and an
editor, and an archive would only move the same questions to whoever extracts it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sentinel.errors import SandboxError
from sentinel.sandbox import host_paths

SKIPPED_NAMES: Final = frozenset({".tmp", ".shm", ".home", "lost+found"})
"""Top-level entries that are Sentinel's scratch (per session), not the agent's work."""
KEPT_MODE_BITS: Final = 0o755
"""Permission bits a copy keeps: no set-id or sticky bits, no write for group and others."""
CHUNK: Final = 1 << 20


@dataclass
class CopyReport:
    """What a copy did."""

    files: int = 0
    directories: int = 0
    skipped: list[str] = field(default_factory=list)
    """Entries left out (links, devices, fifos, sockets), relative to the workspace."""


def copy_owner(destination_root: Path, fallback: tuple[int, int]) -> tuple[int, int]:
    """Who owns a copy: the owner of ``destination_root`` unless root, else the invoking user.

    ``SUDO_UID``/``SUDO_GID`` name the user who ran ``sudo``; without them, ``fallback``
    (the sandbox uid), so no agent file becomes root's.
    """
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()  # an unprivileged copy is the caller's anyway
    info = destination_root.stat()
    if info.st_uid != 0:
        return info.st_uid, info.st_gid
    sudo_uid, sudo_gid = os.environ.get("SUDO_UID", ""), os.environ.get("SUDO_GID", "")
    if sudo_uid.isdigit() and sudo_gid.isdigit() and int(sudo_uid) != 0:
        return int(sudo_uid), int(sudo_gid)
    return fallback


def _copy_file(source: int, name: str, target: int, owner: tuple[int, int]) -> bool:
    try:
        fd = host_paths.open_beneath(source, name, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False  # a link (ELOOP), or gone
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return False  # a fifo or a device swapped in after the listing
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        out = os.open(name, flags, 0o600, dir_fd=target)
        try:
            while chunk := os.read(fd, CHUNK):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(out, view) :]
            os.fchown(out, *owner)
            os.fchmod(out, info.st_mode & KEPT_MODE_BITS)
        finally:
            os.close(out)
    finally:
        os.close(fd)
    return True


def _copy_tree(
    source: int, target: int, owner: tuple[int, int], prefix: str, report: CopyReport
) -> None:
    for name in sorted(os.listdir(source)):
        if not prefix and name in SKIPPED_NAMES:
            continue
        mode = host_paths.kind(source, name)
        if mode is None:
            continue
        relative = f"{prefix}{name}"
        if stat.S_ISDIR(mode):
            try:
                inner = host_paths.open_directory(source, name)
            except OSError:
                report.skipped.append(relative)
                continue
            try:
                os.mkdir(name, 0o700, dir_fd=target)
                made = host_paths.open_directory(target, name)
                try:
                    _copy_tree(inner, made, owner, f"{relative}/", report)
                    os.fchown(made, *owner)
                    os.fchmod(made, stat.S_IMODE(os.fstat(inner).st_mode) & KEPT_MODE_BITS)
                finally:
                    os.close(made)
            finally:
                os.close(inner)
            report.directories += 1
        elif stat.S_ISREG(mode) and _copy_file(source, name, target, owner):
            report.files += 1
        else:
            report.skipped.append(relative)


def copy_workspace(source: Path, destination: Path, owner: tuple[int, int]) -> CopyReport:
    """Copy the workspace ``source`` to a fresh ``destination`` (see the module's rules).

    ``destination`` is replaced if it exists; its parent is the caller's (a host path).

    Raises:
        SandboxError: The source or the destination's parent cannot be used.
    """
    report = CopyReport()
    parent = host_paths.open_root(destination.parent)
    try:
        root = host_paths.open_root(source)
        try:
            host_paths.remove(parent, destination.name)  # by descriptor, links not followed
            os.mkdir(destination.name, 0o700, dir_fd=parent)
            target = host_paths.open_directory(parent, destination.name)
            try:
                _copy_tree(root, target, owner, "", report)
                os.fchown(target, *owner)
                os.fchmod(target, KEPT_MODE_BITS)
            finally:
                os.close(target)
        except OSError as exc:
            raise SandboxError(
                f"cannot copy {source} to {destination}: {exc.strerror} at {exc.filename}"
            ) from None
        finally:
            os.close(root)
    finally:
        os.close(parent)
    return report
