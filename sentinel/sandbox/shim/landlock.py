"""Landlock rulesets from Python (ctypes), for the in-sandbox shim and for tests.

Landlock restricts the calling thread and its future children, irrevocably. It cannot be
applied before bubblewrap (it forbids the mounts bwrap makes), so Sentinel's shim applies
it inside the sandbox, after bwrap's setup, just before it executes the agent's command.
Access rights not known to the kernel's ABI are dropped from the ruleset (best effort
within what the ABI offers); the ABI in force is reported by ``sentinel-run doctor``.

This module imports only the standard library: the shim loads it by file path inside the
sandbox, with the system Python and without the rest of Sentinel.
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Iterable
from typing import Final

# include/uapi/linux/landlock.h
ACCESS_FS_EXECUTE: Final = 1 << 0
ACCESS_FS_WRITE_FILE: Final = 1 << 1
ACCESS_FS_READ_FILE: Final = 1 << 2
ACCESS_FS_READ_DIR: Final = 1 << 3
ACCESS_FS_REMOVE_DIR: Final = 1 << 4
ACCESS_FS_REMOVE_FILE: Final = 1 << 5
ACCESS_FS_MAKE_CHAR: Final = 1 << 6
ACCESS_FS_MAKE_DIR: Final = 1 << 7
ACCESS_FS_MAKE_REG: Final = 1 << 8
ACCESS_FS_MAKE_SOCK: Final = 1 << 9
ACCESS_FS_MAKE_FIFO: Final = 1 << 10
ACCESS_FS_MAKE_BLOCK: Final = 1 << 11
ACCESS_FS_MAKE_SYM: Final = 1 << 12
ACCESS_FS_REFER: Final = 1 << 13  # ABI 2
ACCESS_FS_TRUNCATE: Final = 1 << 14  # ABI 3
ACCESS_FS_IOCTL_DEV: Final = 1 << 15  # ABI 5
ACCESS_NET_BIND_TCP: Final = 1 << 0  # ABI 4
ACCESS_NET_CONNECT_TCP: Final = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET: Final = 1 << 0  # ABI 6
SCOPE_SIGNAL: Final = 1 << 1  # ABI 6
RULE_PATH_BENEATH: Final = 1

_FS_BY_ABI: Final = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
READ: Final = ACCESS_FS_READ_FILE | ACCESS_FS_READ_DIR
WRITE: Final = (
    ACCESS_FS_WRITE_FILE | ACCESS_FS_REMOVE_DIR | ACCESS_FS_REMOVE_FILE | ACCESS_FS_MAKE_DIR
    | ACCESS_FS_MAKE_REG | ACCESS_FS_MAKE_SYM | ACCESS_FS_MAKE_FIFO | ACCESS_FS_MAKE_SOCK
    | ACCESS_FS_REFER | ACCESS_FS_TRUNCATE
)  # fmt: skip
"""Write rights of the workspace: no device nodes, and no EXECUTE (no exec where one writes)."""


def handled_fs(abi: int) -> int:
    """Every file-system right the ABI knows (all are handled: unlisted means denied)."""
    return _FS_BY_ABI.get(abi, (1 << 16) - 1) if abi >= 1 else 0


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _NetPortAttr(ctypes.Structure):
    _fields_ = (("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64))


RULE_NET_PORT: Final = 2


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446  # the same on every architecture
_PR_SET_NO_NEW_PRIVS: Final = 38


def restrict(
    read: Iterable[str],
    write: Iterable[str],
    execute: Iterable[str],
    abi: int,
    connect_ports: Iterable[int] = (),
) -> None:
    """Confine this process: read where listed, write in ``write``, exec in ``execute``.

    Network (ABI >= 4): TCP bind denied, TCP connect only to ``connect_ports`` (the
    network namespace's nftables rules decide which addresses); scoping (ABI >= 6): no
    signals to, and no abstract unix sockets of, processes outside the sandbox's domain.

    Raises:
        OSError: The kernel refused a step; the errno says which.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    fs = handled_fs(abi)
    attr = _RulesetAttr(fs, (ACCESS_NET_BIND_TCP | ACCESS_NET_CONNECT_TCP) if abi >= 4 else 0,
                        (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)  # fmt: skip
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16
    ruleset = libc.syscall(_SYS_CREATE, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        rights: dict[str, int] = {}
        for paths, access in (
            (read, READ),
            (execute, READ | ACCESS_FS_EXECUTE),
            (write, READ | WRITE),
        ):
            for path in paths:
                rights[path] = rights.get(path, 0) | access
        for path, access in rights.items():
            _add_path_rule(libc, ruleset, path, access & fs)
        for port in sorted(set(connect_ports)) if abi >= 4 else ():
            _add_rule(
                libc,
                ruleset,
                RULE_NET_PORT,
                _NetPortAttr(ACCESS_NET_CONNECT_TCP, port),
                f"TCP port {port}",
            )
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_SYS_RESTRICT, ruleset, 0) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)


def _add_rule(
    libc: ctypes.CDLL, ruleset: int, kind: int, rule: ctypes.Structure, what: str
) -> None:
    if libc.syscall(_SYS_ADD_RULE, ruleset, kind, ctypes.byref(rule), 0) < 0:
        raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {what}")


def _add_path_rule(libc: ctypes.CDLL, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # a bind that does not exist on this host grants nothing
    try:
        # Directory rights on a file rule are refused with EINVAL: keep the file rights.
        allowed = access if stat.S_ISDIR(os.fstat(fd).st_mode) else access & _FILE_RIGHTS
        _add_rule(libc, ruleset, RULE_PATH_BENEATH, _PathBeneathAttr(allowed, fd), path)
    finally:
        os.close(fd)


_FILE_RIGHTS: Final = (
    ACCESS_FS_EXECUTE
    | ACCESS_FS_WRITE_FILE
    | ACCESS_FS_READ_FILE
    | ACCESS_FS_TRUNCATE
    | ACCESS_FS_IOCTL_DEV
)
"""Rights that apply to a file (directory rights on a file rule are refused with EINVAL)."""
