"""Files only root can have written: read and written for the per-boot caches.

Root's caches (the host detection, :mod:`sentinel.sandbox.capabilities.cache`; compiled
launches, :mod:`sentinel.sandbox.launch_cache`) live in :data:`CACHE_DIR`. A file there is
trusted only if no one but root could have written it: the directory is opened with
``O_NOFOLLOW | O_DIRECTORY`` and must be root's with no group or other write bit; the file is
opened below it with ``O_NOFOLLOW`` and must be a regular root-owned file of mode 0600 with
one link and at most the size asked. Writes are atomic: a new file made with
``O_CREAT | O_EXCL | O_NOFOLLOW``, mode 0600, fsynced, renamed over the old one. A non-root
process never reads or writes these files.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Final

CACHE_DIR: Final = Path("/run/sentinel")
"""A tmpfs directory of root's (``/run`` is emptied at every boot)."""


def open_root_directory(directory: Path, *, create: bool) -> int | None:
    """The directory as an fd, if it is root's alone (created 0700 when asked)."""
    if os.geteuid() != 0:
        return None
    if create:
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    info = os.fstat(fd)
    if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        os.close(fd)
        return None
    return fd


def read_root_file(path: Path, max_bytes: int) -> bytes | None:
    """The content of ``path`` if only root can have written it, else None."""
    directory = open_root_directory(path.parent, create=False)
    if directory is None:
        return None
    try:
        fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
    except OSError:
        return None
    finally:
        os.close(directory)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        trusted = (
            stat.S_ISREG(info.st_mode)
            and info.st_uid == 0
            and stat.S_IMODE(info.st_mode) == 0o600
            and info.st_nlink == 1
            and info.st_size <= max_bytes
        )
        return handle.read(max_bytes + 1) if trusted else None


def write_root_file(path: Path, data: bytes) -> bool:
    """Replace ``path`` atomically with ``data`` (root only); False when it could not safely."""
    directory = open_root_directory(path.parent, create=True)
    if directory is None:
        return False
    temporary = f".{path.name}.{os.getpid()}.tmp"
    try:
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=directory,
        )
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temporary, path.name, src_dir_fd=directory, dst_dir_fd=directory)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=directory)
        return False
    finally:
        os.close(directory)
    return True
