"""A seccomp filter whose denials a supervisor answers (EPERM) and records.

``SECCOMP_RET_USER_NOTIF`` suspends a process on a denied system call until the holder of
the filter's listener answers; the warm sandbox's supervisor installs the filter with
``SECCOMP_FILTER_FLAG_NEW_LISTENER`` before it forks any command, answers every
notification with EPERM from a thread, and reports (pid, system call number) with the
command's result. If the supervisor dies, the kernel fails the calls (ENOSYS): still
denied. Standard library only (loaded by path inside the sandbox).
"""

from __future__ import annotations

import ctypes
import errno
import threading
from typing import Final

SYS_SECCOMP: Final = 317  # x86_64; the launcher refuses other architectures
SECCOMP_SET_MODE_FILTER: Final = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER: Final = 1 << 3
PR_SET_NO_NEW_PRIVS: Final = 38
# _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp)
IOCTL_NOTIF_RECV: Final = (3 << 30) | (80 << 16) | (0x21 << 8) | 0
IOCTL_NOTIF_SEND: Final = (3 << 30) | (24 << 16) | (0x21 << 8) | 1


class _Data(ctypes.Structure):
    _fields_ = (("nr", ctypes.c_int), ("arch", ctypes.c_uint32), ("ip", ctypes.c_uint64),
                ("args", ctypes.c_uint64 * 6))  # fmt: skip


class _Notif(ctypes.Structure):
    _fields_ = (
        ("id", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("data", _Data),
    )


class _Resp(ctypes.Structure):
    _fields_ = (
        ("id", ctypes.c_uint64),
        ("val", ctypes.c_int64),
        ("error", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
    )


class _Fprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


class DenialRecorder:
    """Installs the notifying filter on this process and records every denial."""

    def __init__(self, program: bytes) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.syscall.restype = ctypes.c_long
        if self._libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        self._program = ctypes.create_string_buffer(program, len(program))
        fprog = _Fprog(len(program) // 8, ctypes.addressof(self._program))
        flags = SECCOMP_FILTER_FLAG_NEW_LISTENER
        fd = self._libc.syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(fprog))
        if fd < 0:
            raise OSError(ctypes.get_errno(), "seccomp(NEW_LISTENER) failed")
        self._fd = int(fd)
        self._lock = threading.Lock()
        self._denials: list[tuple[int, int]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            notif = _Notif()
            if self._libc.ioctl(self._fd, IOCTL_NOTIF_RECV, ctypes.byref(notif)) < 0:
                if ctypes.get_errno() in (errno.EINTR, errno.ENOENT):
                    continue  # interrupted, or the caller died before we read it
                return
            with self._lock:
                self._denials.append((int(notif.pid), int(notif.data.nr)))
            resp = _Resp(notif.id, 0, -errno.EPERM, 0)
            self._libc.ioctl(self._fd, IOCTL_NOTIF_SEND, ctypes.byref(resp))  # ENOENT if it died

    def take(self) -> list[tuple[int, int]]:
        """The denials recorded since the last call: ``(pid, system call number)``."""
        with self._lock:
            taken, self._denials = self._denials, []
        return taken
