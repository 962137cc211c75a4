"""One workspace image, one holder at a time: an exclusive ``flock`` on the image file.

Mounting a workspace's image (:mod:`sentinel.sandbox.disk_quota`), unmounting it (the
caller's own release, the release at process exit, the background release) and
``sentinel-run sandbox gc`` act on the same image from different processes. Without a lock
gc could detach the loop device a launcher has just bound and not yet mounted, or unmount a
workspace a new launcher mounted after gc decided its old lease was dead. Every one of
those paths holds this lock while it acts; gc never waits for it (a held lock means a live
process is working on the image: gc keeps it and says so).

The lock is ``flock(2)``, not ``fcntl`` record locks: it belongs to the open file
description, so a forked background release inherits it and holds it until it is done
(a record lock would be dropped at the fork), and the kernel drops it when its last holder
dies, so a crash never leaves a stale lock behind.

The image lives next to the workspace, in a directory of the caller's; a name there must
never lead root elsewhere. The image is opened ``O_NOFOLLOW`` (a link in its place fails
with ``ELOOP``, refused), ``O_NONBLOCK`` (a fifo planted there cannot hang the opener) and
``O_CLOEXEC`` (no sandboxed process inherits the lock); anything but a regular file is
refused before it is locked.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from pathlib import Path
from types import TracebackType
from typing import Final

from sentinel.errors import ImageLockedError, SandboxError

OPEN_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
"""How an existing image is opened to be locked (a read-only open suffices for flock)."""
WAIT_S: Final = 30.0
"""How long a launcher waits for another holder (a mount, unmount or gc takes
milliseconds; a first-use copy into a fresh image, seconds at most)."""
POLL_S: Final = 0.002


def _refuse(image: Path, what: str) -> SandboxError:
    return SandboxError(
        f"{image}: {what}; Sentinel does not lock, mount or unmount anything but a regular "
        "file at a workspace image's name (remove it if Sentinel did not make it)"
    )


def open_image(image: Path) -> int:
    """Open ``image`` for locking, never through a link: its descriptor.

    Raises:
        FileNotFoundError: There is no image.
        SandboxError: A link, or anything but a regular file, is at the image's name.
    """
    try:
        fd = os.open(image, OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(image, "is a symbolic link") from None
        if exc.errno == errno.ENOENT:
            raise
        raise _refuse(image, f"cannot be opened ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _refuse(image, "is not a regular file")
    return fd


class ImageLock:
    """The held lock of one image; released by :meth:`release` or at the end of a ``with``.

    Args:
        image: The image's path (for messages).
        fd: An open descriptor of the image whose exclusive ``flock`` this process holds.
    """

    def __init__(self, image: Path, fd: int) -> None:
        self.image = image
        self.fd = fd

    def release(self) -> None:
        """Drop the lock (idempotent). A forked child still holding the fd keeps it."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def __enter__(self) -> ImageLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def lock_fd(image: Path, fd: int, *, wait: bool = True) -> ImageLock:
    """Take the exclusive lock on an already open image descriptor (owned by the lock).

    Raises:
        ImageLockedError: Another process holds it (at once with ``wait=False``, else after
            :data:`WAIT_S`); ``fd`` is closed.
    """
    deadline = time.monotonic() + (WAIT_S if wait else 0.0)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                waited = f" after {WAIT_S:.0f} s" if wait else ""
                raise ImageLockedError(
                    f"{image} is locked by another process (a launcher mounting or releasing "
                    f"it, or sandbox gc){waited}"
                ) from None
            time.sleep(POLL_S)
            continue
        return ImageLock(image, fd)


def hold(image: Path, *, wait: bool = True) -> ImageLock:
    """Open ``image`` without following links and take its exclusive lock.

    Raises:
        FileNotFoundError: There is no image.
        SandboxError: A link or a non-regular file is at the image's name.
        ImageLockedError: Another process holds the lock (see :func:`lock_fd`).
    """
    return lock_fd(image, open_image(image), wait=wait)
