"""The seccomp deny filter, compiled to classic BPF for ``bwrap --seccomp FD``.

bwrap installs the filter just before it executes the sandboxed command, after its own
namespace and mount setup (installing it earlier would break bwrap itself). The filter:

1. kills the process if the system call comes from another architecture's ABI (a 32-bit
   ``int 0x80`` call on x86_64 uses different numbers and would slip past the list);
2. refuses x32 system calls (numbers with bit 30 set);
3. answers ``ENOSYS`` for every number past this kernel generation's table (and in the
   table's unassigned gap): a call added by a later kernel is refused until it is reviewed;
4. returns ``EPERM`` for every call in :data:`~sentinel.sandbox.syscall_table.DENIED` (kernel
   attack surface, namespaces, mounts, other processes, the host's configuration, and
   ``memfd_create``: Landlock cannot restrict executing an anonymous memory file);
5. returns ``EAFNOSUPPORT`` for ``socket`` outside AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK;
6. allows ``personality`` only to query or to pick the harmless personas (as Docker's
   default profile does): ADDR_NO_RANDOMIZE (no ASLR) and READ_IMPLIES_EXEC are refused;
7. returns ``EPERM`` for ``clone`` with any ``CLONE_NEW*`` flag (new namespaces), and
   ``ENOSYS`` for ``clone3``, whose flags live in memory a filter cannot read (glibc then
   falls back to ``clone``, which the previous rule inspects);
8. allows everything else: the calls of :data:`~sentinel.sandbox.syscall_table.ALLOWED`,
   each group with the reason it stays allowed.
"""

from __future__ import annotations

import errno
import os
import struct
from typing import Final

from sentinel.errors import SandboxUnavailable
from sentinel.sandbox.kernel_api import BPF_RET_K, SECCOMP_RET_ALLOW
from sentinel.sandbox.syscall_table import (
    DENIED,
    NUMBERS,
    TABLE_GAP,
    UNKNOWN_FROM,
    X86_64_TABLE,
)

# include/uapi/linux/filter.h and bpf_common.h
BPF_LD_W_ABS: Final = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K: Final = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K: Final = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_JSET_K: Final = 0x45  # BPF_JMP | BPF_JSET | BPF_K
# include/uapi/linux/seccomp.h
SECCOMP_RET_KILL_PROCESS: Final = 0x80000000
SECCOMP_RET_ERRNO: Final = 0x00050000
SECCOMP_RET_USER_NOTIF: Final = 0x7FC00000
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
OFFSET_NR: Final = 0
OFFSET_ARCH: Final = 4
OFFSET_ARG0_LOW: Final = 16  # little-endian: the low 32 bits of args[0]
AUDIT_ARCH_X86_64: Final = 0xC000003E
X32_SYSCALL_BIT: Final = 0x40000000

NAMESPACE_FLAGS: Final = 0x7E020000
"""CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
CLONE_NEWNET (and CLONE_NEWTIME 0x80 is in the high flags of clone3 only)."""

X86_64_SYSCALLS: Final = NUMBERS
"""Name to number for every call of the table (``syscalls.extra_deny`` takes these names)."""

SYSCALL_SOCKET: Final = NUMBERS["socket"]
SOCKET_FAMILIES: Final = (1, 2, 10, 16)
"""AF_UNIX, AF_INET, AF_INET6, AF_NETLINK: the socket families a sandbox may create."""
PERSONAS: Final = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
"""PER_LINUX, PER_LINUX32, UNAME26, both, and the query (0xffffffff): the personality
arguments Docker's default profile allows; the rest (ASLR off, READ_IMPLIES_EXEC) refused."""

SYSCALL_NAMES: Final = dict(X86_64_TABLE)
"""System call names by number, for reports."""

DEFAULT_DENY: Final = tuple(DENIED)
"""Denied outright (see :data:`~sentinel.sandbox.syscall_table.DENIED` for the reasons)."""


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def build_filter(extra_deny: tuple[str, ...] = (), *, notify: bool = False) -> bytes:
    """The filter program as ``struct sock_filter`` bytes (what ``--seccomp`` reads).

    Args:
        extra_deny: More system calls to deny, by name.
        notify: Answer denied calls with ``SECCOMP_RET_USER_NOTIF`` instead of ``EPERM``, for
            a supervisor that holds the listener, answers EPERM itself and records each one.

    Raises:
        SandboxUnavailable: This architecture has no syscall table here, or a name in
            ``extra_deny`` is unknown.
    """
    if os.uname().machine != "x86_64":
        raise SandboxUnavailable(
            "seccomp", f"no system-call table for {os.uname().machine} yet", "run on x86_64"
        )
    unknown = [name for name in extra_deny if name not in X86_64_SYSCALLS]
    if unknown:
        raise SandboxUnavailable(
            "seccomp", f"unknown system calls in the policy: {', '.join(unknown)}"
        )
    denied = [X86_64_SYSCALLS[name] for name in dict.fromkeys((*DEFAULT_DENY, *extra_deny))]
    eperm = SECCOMP_RET_USER_NOTIF if notify else SECCOMP_RET_ERRNO | errno.EPERM
    enosys = SECCOMP_RET_ERRNO | errno.ENOSYS
    # Layout: a fixed prologue, the unknown-number checks, a JEQ and its own EPERM return
    # per denied call, the socket, personality, clone and clone3 checks, then ALLOW / EPERM /
    # ENOSYS / family returns at the end. A jump is an offset, or the name
    # of one of the returns at the end of the program.
    body: list[tuple[int, int | str, int | str, int]] = [
        (BPF_LD_W_ABS, 0, 0, OFFSET_ARCH),
        (BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        (BPF_LD_W_ABS, 0, 0, OFFSET_NR),
        (BPF_JGE_K, 0, 1, X32_SYSCALL_BIT),
        (BPF_RET_K, 0, 0, eperm),
        (BPF_JGE_K, 2, 0, UNKNOWN_FROM),  # past the table: ENOSYS
        (BPF_JGE_K, 0, 2, TABLE_GAP[0]),
        (BPF_JGE_K, 1, 0, TABLE_GAP[1]),  # in the gap: ENOSYS, else on to the deny list
        (BPF_RET_K, 0, 0, enosys),
    ]
    # Each denied call: a JEQ over its own return, so no jump grows with the list.
    for number in denied:
        body += [(BPF_JEQ_K, 0, 1, number), (BPF_RET_K, 0, 0, eperm)]
    # socket(): only the families agents need; AF_VSOCK (a path to the hypervisor host that
    # no network namespace filters), AF_PACKET, AF_ALG (kernel crypto) and the rest refused.
    families = list(SOCKET_FAMILIES)
    body += [
        (BPF_JEQ_K, 0, len(families) + 1, SYSCALL_SOCKET),
        (BPF_LD_W_ABS, 0, 0, OFFSET_ARG0_LOW),
    ]
    body += [(BPF_JEQ_K, "allow", 0, family) for family in families[:-1]]
    body += [(BPF_JEQ_K, "allow", "family", families[-1])]
    # personality(): the query and the harmless personas only.
    body += [
        (BPF_JEQ_K, 0, len(PERSONAS) + 1, NUMBERS["personality"]),
        (BPF_LD_W_ABS, 0, 0, OFFSET_ARG0_LOW),
    ]
    body += [(BPF_JEQ_K, "allow", 0, persona) for persona in PERSONAS[:-1]]
    body += [(BPF_JEQ_K, "allow", "eperm", PERSONAS[-1])]
    body += [
        (BPF_JEQ_K, "enosys", 0, NUMBERS["clone3"]),
        (BPF_JEQ_K, 0, "allow", NUMBERS["clone"]),
        (BPF_LD_W_ABS, 0, 0, OFFSET_ARG0_LOW),
        (BPF_JSET_K, "eperm", "allow", NAMESPACE_FLAGS),
    ]
    end = len(body)
    targets = {"allow": end, "eperm": end + 1, "enosys": end + 2, "family": end + 3}
    program = b""
    for index, (code, jt, jf, k) in enumerate(body):
        jt_offset = targets[jt] - index - 1 if isinstance(jt, str) else jt
        jf_offset = targets[jf] - index - 1 if isinstance(jf, str) else jf
        if not (0 <= jt_offset < 256 and 0 <= jf_offset < 256):
            raise SandboxUnavailable("seccomp", "the deny list is too long for 8-bit BPF jumps")
        program += _insn(code, jt_offset, jf_offset, int(k))
    program += _insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)
    program += _insn(BPF_RET_K, 0, 0, eperm)
    program += _insn(BPF_RET_K, 0, 0, enosys)
    refuse_family = eperm if notify else SECCOMP_RET_ERRNO | errno.EAFNOSUPPORT
    program += _insn(BPF_RET_K, 0, 0, refuse_family)
    return program
