"""Thin ctypes bindings to the Linux system calls that detection and the layers rely on.

Only what the standard library lacks lives here (Python 3.11 has no ``os.unshare``, no
Landlock, seccomp or bpf calls). Each wrapper returns ``0`` or a positive ``errno`` instead of
raising, because for detection a refusal is an answer, not an error.

System call numbers differ per architecture; those for ``landlock_*`` are shared by every
architecture (they were added after the tables were unified in Linux 5.x).
"""

from __future__ import annotations

import ctypes
import os
import struct
import warnings
from collections.abc import Callable
from typing import Final

from sentinel.errors import HostProbeError

CLONE_NEWNS: Final = 0x00020000
CLONE_NEWCGROUP: Final = 0x02000000
CLONE_NEWUTS: Final = 0x04000000
CLONE_NEWIPC: Final = 0x08000000
CLONE_NEWUSER: Final = 0x10000000
CLONE_NEWPID: Final = 0x20000000
CLONE_NEWNET: Final = 0x40000000

PR_SET_NO_NEW_PRIVS: Final = 38

# include/uapi/linux/landlock.h
LANDLOCK_CREATE_RULESET_VERSION: Final = 1 << 0
# include/uapi/linux/seccomp.h
SECCOMP_SET_MODE_FILTER: Final = 1
SECCOMP_RET_ALLOW: Final = 0x7FFF0000
# include/uapi/linux/bpf.h
BPF_PROG_LOAD: Final = 5
BPF_RAW_TRACEPOINT_OPEN: Final = 17
BPF_PROG_TYPE_RAW_TRACEPOINT: Final = 17

_SYSCALLS: Final[dict[str, dict[str, int]]] = {
    # arch/x86/entry/syscalls/syscall_64.tbl
    "x86_64": {"seccomp": 317, "bpf": 321, "landlock_create_ruleset": 444},
    # include/uapi/asm-generic/unistd.h
    "aarch64": {"seccomp": 277, "bpf": 280, "landlock_create_ruleset": 444},
}

# The C library the interpreter itself runs on (glibc names it libc.so.6). Not
# ``ctypes.util.find_library``: it runs ``ldconfig -p``, a fork and exec on every CLI start.
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def syscall_number(name: str) -> int | None:
    """Return the number of system call ``name`` on this machine, or None if unknown here."""
    return _SYSCALLS.get(os.uname().machine, {}).get(name)


def _errno_of(result: int) -> int:
    return ctypes.get_errno() if result < 0 else 0


def landlock_abi_version() -> tuple[int, int]:
    """Ask the kernel for its Landlock ABI version.

    Calls ``landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)``, which returns
    the highest ABI the running kernel supports without creating a ruleset.

    Returns:
        ``(abi, 0)`` on success; ``(0, errno)`` when refused: ``ENOSYS`` means the kernel was
        built without Landlock, ``EOPNOTSUPP`` that it is built in but disabled at boot.
    """
    number = syscall_number("landlock_create_ruleset")
    if number is None:
        return 0, 38  # ENOSYS: unknown architecture, treat as absent
    result = _libc.syscall(
        number, None, ctypes.c_size_t(0), ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION)
    )
    if result < 0:
        return 0, ctypes.get_errno()
    return int(result), 0


def unshare(flags: int) -> int:
    """Call ``unshare(2)``; return 0 or the errno."""
    return _errno_of(_libc.unshare(ctypes.c_int(flags)))


def setns(fd: int, nstype: int) -> int:
    """Call ``setns(2)``; return 0 or the errno."""
    return _errno_of(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)))


def set_no_new_privs() -> int:
    """Set ``PR_SET_NO_NEW_PRIVS`` (required before an unprivileged seccomp filter load)."""
    return _errno_of(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


BPF_RET_K: Final = 0x06
"""BPF_RET | BPF_K: return the constant k."""


def load_seccomp_program(program: bytes, *, no_new_privs: bool = True) -> int:
    """Install a classic-BPF seccomp program (``struct sock_filter`` bytes) on this process.

    Filters cannot be removed once installed: call this only in a process that is about to
    execute the confined command, or in a throwaway probe child.

    Args:
        program: The instructions, 8 bytes each.
        no_new_privs: Set ``PR_SET_NO_NEW_PRIVS`` first, as the kernel demands of a process
            without CAP_SYS_ADMIN. Only tests pass False, to show that refusal.

    Returns:
        0 on success, else the errno of ``prctl`` or ``seccomp``.
    """
    number = syscall_number("seccomp")
    if number is None:
        return 38  # ENOSYS: no system-call number known for this architecture
    err = set_no_new_privs() if no_new_privs else 0
    if err:
        return err
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    return _errno_of(_libc.syscall(number, SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(fprog)))


def load_allow_all_seccomp_filter(*, no_new_privs: bool = True) -> int:
    """Install a one-instruction filter that allows everything (the detection probe).

    Proves the kernel accepts classic-BPF seccomp filters from this process; see
    :func:`load_seccomp_program` for the arguments and the result.
    """
    allow = struct.pack("<HBBI", BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)
    return load_seccomp_program(allow, no_new_privs=no_new_privs)


# Two eBPF instructions: "r0 = 0; exit". struct bpf_insn is {u8 code; u8 regs; s16 off; s32 imm}.
_BPF_RETURN_ZERO: Final = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)
_BPF_ATTR_SIZE: Final = (
    128  # larger than the fields we set; the kernel requires the tail to be zero
)


def bpf_attach_raw_tracepoint(tracepoint: str) -> tuple[int, int]:
    """Load a do-nothing raw-tracepoint program and attach it to ``tracepoint``, then detach.

    Returns:
        ``(load_errno, attach_errno)``; ``(0, 0)`` means eBPF programs can be loaded and
        attached to tracepoints. The program returns 0 and is detached before returning.
    """
    number = syscall_number("bpf")
    if number is None:
        return 38, 38
    insns = ctypes.create_string_buffer(_BPF_RETURN_ZERO, len(_BPF_RETURN_ZERO))
    license_ = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(_BPF_ATTR_SIZE)
    # union bpf_attr, BPF_PROG_LOAD: prog_type@0 insn_cnt@4 insns@8 license@16
    struct.pack_into(
        "<IIQQ",
        attr,
        0,
        BPF_PROG_TYPE_RAW_TRACEPOINT,
        2,
        ctypes.addressof(insns),
        ctypes.addressof(license_),
    )
    prog_fd = _libc.syscall(number, BPF_PROG_LOAD, attr, _BPF_ATTR_SIZE)
    if prog_fd < 0:
        err = ctypes.get_errno()
        return err, err
    try:
        name = ctypes.create_string_buffer(tracepoint.encode())
        attach = ctypes.create_string_buffer(_BPF_ATTR_SIZE)
        # BPF_RAW_TRACEPOINT_OPEN: name@0 (u64 pointer) prog_fd@8
        struct.pack_into("<QI", attach, 0, ctypes.addressof(name), prog_fd)
        link_fd = _libc.syscall(number, BPF_RAW_TRACEPOINT_OPEN, attach, _BPF_ATTR_SIZE)
        if link_fd < 0:
            return 0, ctypes.get_errno()
        os.close(link_fd)
        return 0, 0
    finally:
        os.close(prog_fd)


def errno_in_child(action: Callable[[], int]) -> int:
    """Run ``action`` in a forked child and return the errno it reports (0 for success).

    Probes that change the calling process for good (entering namespaces, installing seccomp
    filters, dropping to another uid) run here so the caller stays untouched. The child is
    single-threaded after ``fork``, which ``unshare(CLONE_NEWUSER)`` requires.

    Raises:
        HostProbeError: ``fork`` itself failed, or the child died without reporting.
    """
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork in threaded programs; the child only makes system
        # calls and exits, which is the use fork remains safe for.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            pid = os.fork()
        except OSError as exc:
            raise HostProbeError(f"cannot fork a probe process: {exc}") from exc
    if pid == 0:  # pragma: no cover - runs in the child
        code = 255
        try:
            code = min(action(), 254)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) == 255:
        raise HostProbeError(f"probe process died unexpectedly (wait status {status})")
    return os.WEXITSTATUS(status)


def drop_to_uid(uid: int, gid: int) -> int:
    """Drop every group and switch real, effective and saved ids to ``uid``/``gid``.

    Only for use inside :func:`errno_in_child`; returns 0 or the errno of the first failure.
    """
    try:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except OSError as exc:
        return exc.errno or 1
    return 0
