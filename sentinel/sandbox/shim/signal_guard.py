"""The supervisor's signal guard: no command can signal the supervisor, its threads or init.

Every command of a warm sandbox runs as the supervisor's uid, so without this the kernel
lets a command ``kill(getppid(), SIGKILL)`` or SIGSTOP it and the sandbox is lost with the
command. The supervisor installs this seccomp filter on itself before serving a command,
and every command inherits it. It refuses with EPERM every way one process makes the
kernel signal another, when the target is one of :data:`protected` (the supervisor's pid
and its threads' ids, which ``kill`` also reaches, and the namespace's init) or all
processes (``-1``), or their process groups:

- ``kill``, ``rt_sigqueueinfo``, ``tgkill``, ``rt_tgsigqueueinfo`` and ``pidfd_open`` on
  such a target (the first argument's low 32 bits, as the kernel reads a ``pid_t``);
- ``tkill`` and ``pidfd_send_signal`` always (a thread id, or a pidfd that may be a
  ``/proc/<pid>`` directory, cannot be checked by value);
- ``fcntl(F_SETOWN)`` to such a target, ``fcntl(F_SETOWN_EX)`` and the ``FIOSETOWN`` and
  ``SIOCSPGRP`` ioctls always (an owner gets SIGIO or SIGURG, or any signal F_SETSIG names).

The supervisor is bound by it too: it kills what a command left one pid at a time (see
``Cleaner``), never with ``kill(-1)``. Standard library only (loaded by path in the sandbox).
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Iterable, Mapping

# include/uapi/linux/filter.h, bpf_common.h, seccomp.h, prctl.h, fcntl.h, sockios.h
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_RET_K = 0x06
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
EPERM = 1
SECCOMP_SET_MODE_FILTER = 1
PR_SET_NO_NEW_PRIVS = 38
F_SETOWN = 8
F_SETOWN_EX = 15
FIOSETOWN = 0x8901
SIOCSPGRP = 0x8902
OFFSET_NR = 0
OFFSET_ARCH = 4
ARG_LOW = (16, 24, 32)
"""Offsets of the low 32 bits of args[0], args[1], args[2] in struct seccomp_data."""
TARGETED = ("kill", "rt_sigqueueinfo", "tgkill", "rt_tgsigqueueinfo", "pidfd_open")
ALWAYS = ("tkill", "pidfd_send_signal")
ALL_PROCESSES = 0xFFFFFFFF
"""``-1`` as a 32-bit pid: every process the caller may signal."""


def _bad_targets(protected: Iterable[int]) -> list[int]:
    values = {ALL_PROCESSES}
    for pid in protected:
        values |= {pid & 0xFFFFFFFF, -pid & 0xFFFFFFFF}  # the process, and its group
    return sorted(values)


def program(arch: int, numbers: Mapping[str, int], protected: Iterable[int]) -> bytes:
    """The filter's classic BPF program (see the module docstring for what it refuses)."""
    bad = _bad_targets(protected)
    code: list[tuple[int, object, object, int]] = []  # (op, jt label, jf label, k)

    def emit(op: int, k: int, jt: object = 0, jf: object = 0) -> None:
        code.append((op, jt, jf, k))

    labels: dict[str, int] = {}

    def label(name: str) -> None:
        labels[name] = len(code)

    emit(BPF_LD_W_ABS, OFFSET_ARCH)
    emit(BPF_JEQ_K, arch, 0, "allow")  # another arch: the sandbox's main filter decides
    emit(BPF_LD_W_ABS, OFFSET_NR)
    for name in TARGETED:
        emit(BPF_JEQ_K, numbers[name], "target", 0)
    for name in ALWAYS:
        emit(BPF_JEQ_K, numbers[name], "deny", 0)
    emit(BPF_JEQ_K, numbers["fcntl"], "fcntl", 0)
    emit(BPF_JEQ_K, numbers["ioctl"], "ioctl", "allow")
    label("target")
    emit(BPF_LD_W_ABS, ARG_LOW[0])
    for value in bad:
        emit(BPF_JEQ_K, value, "deny", 0)
    emit(BPF_RET_K, SECCOMP_RET_ALLOW)
    label("fcntl")
    emit(BPF_LD_W_ABS, ARG_LOW[1])
    emit(BPF_JEQ_K, F_SETOWN_EX, "deny", 0)
    emit(BPF_JEQ_K, F_SETOWN, 0, "allow")
    emit(BPF_LD_W_ABS, ARG_LOW[2])
    for value in bad:
        emit(BPF_JEQ_K, value, "deny", 0)
    emit(BPF_RET_K, SECCOMP_RET_ALLOW)
    label("ioctl")
    emit(BPF_LD_W_ABS, ARG_LOW[1])
    emit(BPF_JEQ_K, FIOSETOWN, "deny", 0)
    emit(BPF_JEQ_K, SIOCSPGRP, "deny", "allow")
    label("deny")
    emit(BPF_RET_K, SECCOMP_RET_ERRNO | EPERM)
    label("allow")
    emit(BPF_RET_K, SECCOMP_RET_ALLOW)

    def offset(at: int, target: object) -> int:
        if isinstance(target, int):
            return target
        jump = labels[str(target)] - at - 1
        if not 0 <= jump <= 255:
            raise ValueError(f"jump to {target} out of range ({jump})")
        return jump

    return b"".join(
        struct.pack("<HBBI", op, offset(at, jt), offset(at, jf), k)
        for at, (op, jt, jf, k) in enumerate(code)
    )


class _Fprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install(code: bytes, seccomp_nr: int) -> None:
    """Load ``code`` on the calling thread (and so on every process it starts).

    ``seccomp_nr``: the number of the ``seccomp`` system call on this architecture.

    Raises:
        OSError: The kernel refused the filter.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    buffer = ctypes.create_string_buffer(code)
    fprog = _Fprog(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc.syscall.restype = ctypes.c_long
    if libc.syscall(seccomp_nr, SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(fprog)) != 0:
        raise OSError(ctypes.get_errno(), "seccomp(SECCOMP_SET_MODE_FILTER)")
