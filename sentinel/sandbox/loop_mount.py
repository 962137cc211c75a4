"""Mount a file system image through a loop device with system calls, not ``mount(8)``.

``mount -o loop`` costs a cold launch a fork and two execs (mount, then its losetup work
through libmount) every time a workspace's quota file system is mounted, which a one-shot
``sentinel-run sandbox exec`` does on every call. The same steps as system calls: ask
``/dev/loop-control`` for a free device, bind the image to it with ``LOOP_CONFIGURE``
(Linux 5.8; ``LOOP_SET_FD`` and ``LOOP_SET_STATUS64`` before) and the auto-clear flag, as
``mount -o loop`` does, so the device is detached when the file system is unmounted, then
``mount(2)``. The image is opened with ``O_NOFOLLOW``; a device another process takes
between the two steps (``EBUSY``) is given up for the next free one.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import struct
from pathlib import Path
from typing import Final

LOOP_CONTROL: Final = "/dev/loop-control"
# From linux/loop.h.
LOOP_SET_FD: Final = 0x4C00
LOOP_CLR_FD: Final = 0x4C01
LOOP_SET_STATUS64: Final = 0x4C04
LOOP_CONFIGURE: Final = 0x4C0A
LOOP_CTL_GET_FREE: Final = 0x4C82
LO_FLAGS_AUTOCLEAR: Final = 4
LO_NAME_SIZE: Final = 64
# From linux/mount.h.
MS_NOSUID: Final = 0x2
MS_NODEV: Final = 0x4
MS_NOEXEC: Final = 0x8
ATTEMPTS: Final = 8
"""Free devices tried when others keep taking the one we were offered."""


def _loop_info(image: Path) -> bytes:
    """``struct loop_info64`` with the auto-clear flag and the image's name (232 bytes)."""
    name = os.fsencode(image)[: LO_NAME_SIZE - 1]
    return struct.pack(
        "=5Q4I64s64s32s2Q", 0, 0, 0, 0, 0, 0, 0, 0, LO_FLAGS_AUTOCLEAR, name, b"", b"", 0, 0
    )


def _bind(loop_fd: int, image_fd: int, image: Path) -> None:
    info = _loop_info(image)
    try:  # struct loop_config: fd, block_size, loop_info64, 8 reserved u64
        fcntl.ioctl(loop_fd, LOOP_CONFIGURE, struct.pack("=II", image_fd, 0) + info + bytes(64))
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTTY):  # ENOTTY/EINVAL: before Linux 5.8
            raise
        fcntl.ioctl(loop_fd, LOOP_SET_FD, image_fd)
        try:
            fcntl.ioctl(loop_fd, LOOP_SET_STATUS64, info)
        except OSError:
            fcntl.ioctl(loop_fd, LOOP_CLR_FD, 0)
            raise


def attach(image: Path) -> tuple[str, int]:
    """Bind ``image`` to a free loop device: its path and an open fd that holds it.

    The device detaches itself when the fd is closed and no mount uses it (auto-clear).

    Raises:
        OSError: No free device could be bound, or the image cannot be opened.
    """
    image_fd = os.open(image, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        control = os.open(LOOP_CONTROL, os.O_RDWR | os.O_CLOEXEC)
        try:
            for _ in range(ATTEMPTS):
                device = f"/dev/loop{fcntl.ioctl(control, LOOP_CTL_GET_FREE)}"
                loop_fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
                try:
                    _bind(loop_fd, image_fd, image)
                except OSError as exc:
                    os.close(loop_fd)
                    if exc.errno == errno.EBUSY:  # taken since we asked: ask again
                        continue
                    raise
                return device, loop_fd
        finally:
            os.close(control)
    finally:
        os.close(image_fd)
    raise OSError(errno.EBUSY, f"no free loop device after {ATTEMPTS} attempts")


def mount_image(image: Path, target: Path, fstype: str = "ext4") -> None:
    """Mount ``image`` on ``target`` nosuid, nodev and noexec, as ``mount -o loop`` would.

    Raises:
        OSError: The device could not be bound or the kernel refused the mount.
    """
    device, loop_fd = attach(image)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
        if libc.mount(device.encode(), os.fsencode(target), fstype.encode(), flags, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {device} on {target}: {os.strerror(err)}")
    finally:
        os.close(loop_fd)  # the mount holds the device now; without it, auto-clear frees it
