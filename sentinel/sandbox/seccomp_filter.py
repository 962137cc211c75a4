"""The seccomp deny filter, compiled to classic BPF for ``bwrap --seccomp FD``.

bwrap installs the filter just before it executes the sandboxed command, after its own
namespace and mount setup (installing it earlier would break bwrap itself). The filter:

1. kills the process if the system call comes from another architecture's ABI (a 32-bit
   ``int 0x80`` call on x86_64 uses different numbers and would slip past the list);
2. refuses x32 system calls (numbers with bit 30 set);
3. returns ``EPERM`` for every system call in the deny list: the ones that reach kernel
   attack surface or namespaces (mount, ptrace, bpf, keyctl, perf_event_open,
   userfaultfd, io_uring, kexec, modules, unshare, setns, ...), and ``memfd_create``:
   Landlock cannot restrict executing an anonymous memory file, so a memfd would void the
   "no execution of anything the agent wrote" rule (the breakout suite's fs-exec-memfd);
4. returns ``EAFNOSUPPORT`` for ``socket`` outside AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK;
5. returns ``EPERM`` for ``clone`` with any ``CLONE_NEW*`` flag (new namespaces), and
   ``ENOSYS`` for ``clone3``, whose flags live in memory a filter cannot read (glibc then
   falls back to ``clone``, which the previous rule inspects);
6. allows everything else.
"""

from __future__ import annotations

import errno
import platform
import struct
from typing import Final

from sentinel.errors import SandboxUnavailable
from sentinel.sandbox.kernel_api import BPF_RET_K, SECCOMP_RET_ALLOW

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

# arch/x86/entry/syscalls/syscall_64.tbl
X86_64_SYSCALLS: Final = {
    "ptrace": 101, "syslog": 103, "personality": 135, "vhangup": 153, "pivot_root": 155,
    "adjtimex": 159, "chroot": 161, "acct": 163, "settimeofday": 164, "mount": 165,
    "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "sethostname": 170,
    "setdomainname": 171, "iopl": 172, "ioperm": 173, "init_module": 175,
    "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212, "clock_settime": 227,
    "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272,
    "perf_event_open": 298, "fanotify_init": 300, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310,
    "process_vm_writev": 311, "kcmp": 312, "finit_module": 313, "kexec_file_load": 320,
    "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_getfd": 438,
    "mount_setattr": 442, "memfd_create": 319, "quotactl_fd": 443, "memfd_secret": 447,
    "open_tree_attr": 467, "clone": 56, "clone3": 435,
}  # fmt: skip

SYSCALL_SOCKET: Final = 41
SOCKET_FAMILIES: Final = (1, 2, 10, 16)
"""AF_UNIX, AF_INET, AF_INET6, AF_NETLINK: the socket families a sandbox may create."""

SYSCALL_NAMES: Final = {number: name for name, number in X86_64_SYSCALLS.items()} | {41: "socket"}
"""System call names by number, for reports."""

DEFAULT_DENY: Final = tuple(
    name for name in X86_64_SYSCALLS if name not in ("clone", "clone3", "personality")
)
"""Denied outright. ``personality`` stays allowed (some tools query it); clone is filtered
by flags, clone3 answered with ENOSYS."""


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
    if platform.machine() != "x86_64":
        raise SandboxUnavailable(
            "seccomp", f"no system-call table for {platform.machine()} yet", "run on x86_64"
        )
    unknown = [name for name in extra_deny if name not in X86_64_SYSCALLS]
    if unknown:
        raise SandboxUnavailable(
            "seccomp", f"unknown system calls in the policy: {', '.join(unknown)}"
        )
    denied = [X86_64_SYSCALLS[name] for name in dict.fromkeys((*DEFAULT_DENY, *extra_deny))]
    eperm = SECCOMP_RET_USER_NOTIF if notify else SECCOMP_RET_ERRNO | errno.EPERM
    enosys = SECCOMP_RET_ERRNO | errno.ENOSYS
    # Layout: a fixed prologue, one JEQ per denied call jumping to the shared EPERM return,
    # the clone and clone3 checks, then ALLOW / EPERM / ENOSYS / KILL returns at the end.
    # A jump is an offset, or the name of one of the returns at the end of the program.
    body: list[tuple[int, int | str, int | str, int]] = [
        (BPF_LD_W_ABS, 0, 0, OFFSET_ARCH),
        (BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        (BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        (BPF_LD_W_ABS, 0, 0, OFFSET_NR),
        (BPF_JGE_K, "eperm", 0, X32_SYSCALL_BIT),
    ]
    body += [(BPF_JEQ_K, "eperm", 0, number) for number in denied]
    # socket(): only the families agents need; AF_VSOCK (a path to the hypervisor host that
    # no network namespace filters), AF_PACKET, AF_ALG (kernel crypto) and the rest refused.
    families = list(SOCKET_FAMILIES)
    body += [
        (BPF_JEQ_K, 0, len(families) + 1, SYSCALL_SOCKET),
        (BPF_LD_W_ABS, 0, 0, OFFSET_ARG0_LOW),
    ]
    body += [(BPF_JEQ_K, "allow", 0, family) for family in families[:-1]]
    body += [(BPF_JEQ_K, "allow", "family", families[-1])]
    body += [
        (BPF_JEQ_K, "enosys", 0, X86_64_SYSCALLS["clone3"]),
        (BPF_JEQ_K, 0, "allow", X86_64_SYSCALLS["clone"]),
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
