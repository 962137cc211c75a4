"""Root-side operations on paths an agent controls, none of which follows a link.

The launcher runs as root; everything below a workspace was written by an agent and stays
hostile forever. Every host-side operation there starts from a directory descriptor of the
workspace and resolves each further path with ``openat2(RESOLVE_BENEATH |
RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`` (or, on kernels before 5.6, one component at a
time with ``O_NOFOLLOW``): a symlink anywhere on the way fails with ELOOP instead of leading
root elsewhere. Files are created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` after whatever was
at the name is removed, and ownership and modes are set with ``fchown``/``fchmod`` on the
open descriptor, never by path. Removal uses :func:`shutil.rmtree` with ``dir_fd``, which
on Linux walks by descriptor and never follows links (``rmtree.avoids_symlink_attacks``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Final

from sentinel.errors import SandboxError

SYS_OPENAT2: Final = 437
"""``openat2`` in the kernel's unified syscall table (the same number on every architecture)."""
RESOLVE_NO_MAGICLINKS: Final = 0x02
RESOLVE_NO_SYMLINKS: Final = 0x04
RESOLVE_BENEATH: Final = 0x08
"""From ``linux/openat2.h``."""
RESOLVE_STRICT: Final = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
DIRECTORY_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class _OpenHow(ctypes.Structure):
    _fields_ = (
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    )


_libc = ctypes.CDLL(None, use_errno=True)
_openat2_missing = False


def _openat2(dirfd: int, path: str, flags: int, mode: int) -> int:
    """``openat2`` with :data:`RESOLVE_STRICT`; raises OSError, or NotImplementedError (ENOSYS)."""
    how = _OpenHow(flags, mode if flags & os.O_CREAT else 0, RESOLVE_STRICT)
    fd = int(
        _libc.syscall(
            ctypes.c_long(SYS_OPENAT2),
            ctypes.c_int(dirfd),
            ctypes.c_char_p(os.fsencode(path)),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
    )
    if fd < 0:
        err = ctypes.get_errno()
        if err == errno.ENOSYS:
            raise NotImplementedError
        raise OSError(err, os.strerror(err), path)
    return fd


def _parts(relative: str) -> list[str]:
    parts = [part for part in PurePosixPath(relative).parts if part not in ("", ".")]
    if relative.startswith("/") or ".." in parts:
        raise SandboxError(f"{relative!r} is not a plain path below the workspace")
    return parts


def open_beneath(dirfd: int, relative: str, flags: int, mode: int = 0) -> int:
    """Open ``relative`` below ``dirfd`` without following any link on the way or at the end.

    Raises:
        OSError: ELOOP when a component is a symlink, and the usual errors of open.
        SandboxError: ``relative`` is absolute or climbs with ``..``.
    """
    global _openat2_missing  # noqa: PLW0603 - learned once per process
    parts = _parts(relative)
    if not parts:
        return os.dup(dirfd) if flags & os.O_DIRECTORY else os.open(".", flags, dir_fd=dirfd)
    flags |= os.O_NOFOLLOW | os.O_CLOEXEC
    if not _openat2_missing:
        try:
            return _openat2(dirfd, "/".join(parts), flags, mode)
        except NotImplementedError:
            _openat2_missing = True
    current = os.dup(dirfd)  # kernels before 5.6: one component at a time, none a link
    try:
        for part in parts[:-1]:
            try:
                following = os.open(part, DIRECTORY_FLAGS, dir_fd=current)
            except NotADirectoryError:  # O_NOFOLLOW | O_DIRECTORY on a link: say what it is
                if stat.S_ISLNK(kind(current, part) or 0):
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), relative) from None
                raise
            os.close(current)
            current = following
        return os.open(parts[-1], flags, mode, dir_fd=current)
    finally:
        os.close(current)


def open_directory(dirfd: int, relative: str) -> int:
    """A descriptor of the real directory ``relative`` below ``dirfd`` (ELOOP on a link)."""
    return open_beneath(dirfd, relative, DIRECTORY_FLAGS)


def open_root(path: os.PathLike[str] | str) -> int:
    """A descriptor of a host-chosen directory (the workspace itself; its last part no link).

    Raises:
        SandboxError: ``path`` is not a directory, or is a symlink.
    """
    try:
        return os.open(path, DIRECTORY_FLAGS)
    except OSError as exc:
        raise SandboxError(f"{path}: not a directory Sentinel can use ({exc.strerror})") from None


@contextlib.contextmanager
def directory(dirfd: int, relative: str) -> Iterator[int]:
    """:func:`open_directory` as a context manager that closes the descriptor."""
    fd = open_directory(dirfd, relative)
    try:
        yield fd
    finally:
        os.close(fd)


def kind(dirfd: int, name: str) -> int | None:
    """``st_mode`` of the entry ``name`` in ``dirfd`` (a link is a link), or None if absent."""
    try:
        return os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None


def remove(dirfd: int, name: str) -> None:
    """Remove the entry ``name`` of ``dirfd`` whatever it is (a directory with its contents).

    Never follows a link: a link is removed itself, a directory is walked by descriptor.
    """
    mode = kind(dirfd, name)
    if mode is None:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(name, dir_fd=dirfd)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dirfd)


def empty(dirfd: int) -> None:
    """Remove everything inside the directory ``dirfd`` (which stays)."""
    for name in os.listdir(dirfd):
        remove(dirfd, name)


def ensure_directory(dirfd: int, name: str, uid: int, gid: int, mode: int) -> int:
    """A descriptor of the real directory ``name`` in ``dirfd``, made if missing.

    Anything else at the name (a planted link, a file) is removed first. A directory Sentinel
    makes gets ``uid:gid`` and ``mode`` through its descriptor; an existing one is left as
    it is (it is the agent's).
    """
    current = kind(dirfd, name)
    if current is not None and not stat.S_ISDIR(current):
        remove(dirfd, name)
        current = None
    if current is None:
        os.mkdir(name, mode, dir_fd=dirfd)
        fd = os.open(name, DIRECTORY_FLAGS, dir_fd=dirfd)
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        return fd
    return os.open(name, DIRECTORY_FLAGS, dir_fd=dirfd)


def write_new_file(dirfd: int, name: str, data: bytes, uid: int, gid: int, mode: int) -> None:
    """Replace the entry ``name`` of ``dirfd`` by a new regular file holding ``data``.

    Whatever was there (a link to a host file included) is removed, never written through;
    the file is created exclusively, then given ``mode`` and ``uid:gid`` by descriptor.
    """
    remove(dirfd, name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(name, flags, 0o600, dir_fd=dirfd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchown(fd, uid, gid)  # before the mode: a chown clears set-id bits
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def read_beneath(root: os.PathLike[str] | str, relative: str, limit: int = 1 << 20) -> bytes | None:
    """Up to ``limit`` bytes of the regular file ``relative`` below ``root``, or None.

    None when it is absent, a link anywhere on the way, or not a regular file (a fifo the
    agent left would otherwise block the reader forever).
    """
    try:
        base = open_root(root)
    except SandboxError:
        return None
    try:
        fd = open_beneath(base, relative, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    finally:
        os.close(base)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit)
    finally:
        os.close(fd)
