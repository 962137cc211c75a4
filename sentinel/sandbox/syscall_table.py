"""The x86_64 system-call table, and the sandbox's verdict on every call in it.

The table is the 64-bit ABI of Linux 6.18 (``arch/x86/entry/syscalls/syscall_64.tbl``):
numbers 0-336 and 424-469; x32 calls (bit 30 set) and the 32-bit ABI are refused by the
filter before any number is looked at. Every call is in exactly one of :data:`DENIED`,
:data:`FILTERED` or a group of :data:`ALLOWED`, each with its reason; a number that is not
in the table (a call newer than this table) is answered ENOSYS by the filter, so a kernel
upgrade never widens the sandbox silently. ``tests/sandbox/test_seccomp_table.py`` checks
the table against the running kernel.

The deny list was reviewed against Docker's default profile (moby), systemd's
``@system-service`` groups (what it leaves out: @clock, @cpu-emulation, @debug, @module,
@mount, @obsolete, @privileged, @raw-io, @reboot, @swap) and the calls added since 6.0.
"""

from __future__ import annotations

from typing import Final

# arch/x86/entry/syscalls/syscall_64.tbl of Linux 6.18, the "common" and "64" ABIs (numbers
# up to 450 as in this machine's <asm/unistd_64.h>, the rest from the kernel's table).
X86_64_TABLE: Final[dict[int, str]] = {
    0: "read", 1: "write", 2: "open", 3: "close", 4: "stat", 5: "fstat", 6: "lstat", 7: "poll",
    8: "lseek", 9: "mmap", 10: "mprotect", 11: "munmap", 12: "brk", 13: "rt_sigaction",
    14: "rt_sigprocmask", 15: "rt_sigreturn", 16: "ioctl", 17: "pread64", 18: "pwrite64",
    19: "readv", 20: "writev", 21: "access", 22: "pipe", 23: "select", 24: "sched_yield",
    25: "mremap", 26: "msync", 27: "mincore", 28: "madvise", 29: "shmget", 30: "shmat",
    31: "shmctl", 32: "dup", 33: "dup2", 34: "pause", 35: "nanosleep", 36: "getitimer",
    37: "alarm", 38: "setitimer", 39: "getpid", 40: "sendfile", 41: "socket", 42: "connect",
    43: "accept", 44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 48: "shutdown",
    49: "bind", 50: "listen", 51: "getsockname", 52: "getpeername", 53: "socketpair",
    54: "setsockopt", 55: "getsockopt", 56: "clone", 57: "fork", 58: "vfork", 59: "execve",
    60: "exit", 61: "wait4", 62: "kill", 63: "uname", 64: "semget", 65: "semop", 66: "semctl",
    67: "shmdt", 68: "msgget", 69: "msgsnd", 70: "msgrcv", 71: "msgctl", 72: "fcntl", 73: "flock",
    74: "fsync", 75: "fdatasync", 76: "truncate", 77: "ftruncate", 78: "getdents", 79: "getcwd",
    80: "chdir", 81: "fchdir", 82: "rename", 83: "mkdir", 84: "rmdir", 85: "creat", 86: "link",
    87: "unlink", 88: "symlink", 89: "readlink", 90: "chmod", 91: "fchmod", 92: "chown",
    93: "fchown", 94: "lchown", 95: "umask", 96: "gettimeofday", 97: "getrlimit", 98: "getrusage",
    99: "sysinfo", 100: "times", 101: "ptrace", 102: "getuid", 103: "syslog", 104: "getgid",
    105: "setuid", 106: "setgid", 107: "geteuid", 108: "getegid", 109: "setpgid", 110: "getppid",
    111: "getpgrp", 112: "setsid", 113: "setreuid", 114: "setregid", 115: "getgroups",
    116: "setgroups", 117: "setresuid", 118: "getresuid", 119: "setresgid", 120: "getresgid",
    121: "getpgid", 122: "setfsuid", 123: "setfsgid", 124: "getsid", 125: "capget", 126: "capset",
    127: "rt_sigpending", 128: "rt_sigtimedwait", 129: "rt_sigqueueinfo", 130: "rt_sigsuspend",
    131: "sigaltstack", 132: "utime", 133: "mknod", 134: "uselib", 135: "personality",
    136: "ustat", 137: "statfs", 138: "fstatfs", 139: "sysfs", 140: "getpriority",
    141: "setpriority", 142: "sched_setparam", 143: "sched_getparam", 144: "sched_setscheduler",
    145: "sched_getscheduler", 146: "sched_get_priority_max", 147: "sched_get_priority_min",
    148: "sched_rr_get_interval", 149: "mlock", 150: "munlock", 151: "mlockall", 152: "munlockall",
    153: "vhangup", 154: "modify_ldt", 155: "pivot_root", 156: "_sysctl", 157: "prctl",
    158: "arch_prctl", 159: "adjtimex", 160: "setrlimit", 161: "chroot", 162: "sync", 163: "acct",
    164: "settimeofday", 165: "mount", 166: "umount2", 167: "swapon", 168: "swapoff",
    169: "reboot", 170: "sethostname", 171: "setdomainname", 172: "iopl", 173: "ioperm",
    174: "create_module", 175: "init_module", 176: "delete_module", 177: "get_kernel_syms",
    178: "query_module", 179: "quotactl", 180: "nfsservctl", 181: "getpmsg", 182: "putpmsg",
    183: "afs_syscall", 184: "tuxcall", 185: "security", 186: "gettid", 187: "readahead",
    188: "setxattr", 189: "lsetxattr", 190: "fsetxattr", 191: "getxattr", 192: "lgetxattr",
    193: "fgetxattr", 194: "listxattr", 195: "llistxattr", 196: "flistxattr", 197: "removexattr",
    198: "lremovexattr", 199: "fremovexattr", 200: "tkill", 201: "time", 202: "futex",
    203: "sched_setaffinity", 204: "sched_getaffinity", 205: "set_thread_area", 206: "io_setup",
    207: "io_destroy", 208: "io_getevents", 209: "io_submit", 210: "io_cancel",
    211: "get_thread_area", 212: "lookup_dcookie", 213: "epoll_create", 214: "epoll_ctl_old",
    215: "epoll_wait_old", 216: "remap_file_pages", 217: "getdents64", 218: "set_tid_address",
    219: "restart_syscall", 220: "semtimedop", 221: "fadvise64", 222: "timer_create",
    223: "timer_settime", 224: "timer_gettime", 225: "timer_getoverrun", 226: "timer_delete",
    227: "clock_settime", 228: "clock_gettime", 229: "clock_getres", 230: "clock_nanosleep",
    231: "exit_group", 232: "epoll_wait", 233: "epoll_ctl", 234: "tgkill", 235: "utimes",
    236: "vserver", 237: "mbind", 238: "set_mempolicy", 239: "get_mempolicy", 240: "mq_open",
    241: "mq_unlink", 242: "mq_timedsend", 243: "mq_timedreceive", 244: "mq_notify",
    245: "mq_getsetattr", 246: "kexec_load", 247: "waitid", 248: "add_key", 249: "request_key",
    250: "keyctl", 251: "ioprio_set", 252: "ioprio_get", 253: "inotify_init",
    254: "inotify_add_watch", 255: "inotify_rm_watch", 256: "migrate_pages", 257: "openat",
    258: "mkdirat", 259: "mknodat", 260: "fchownat", 261: "futimesat", 262: "newfstatat",
    263: "unlinkat", 264: "renameat", 265: "linkat", 266: "symlinkat", 267: "readlinkat",
    268: "fchmodat", 269: "faccessat", 270: "pselect6", 271: "ppoll", 272: "unshare",
    273: "set_robust_list", 274: "get_robust_list", 275: "splice", 276: "tee",
    277: "sync_file_range", 278: "vmsplice", 279: "move_pages", 280: "utimensat",
    281: "epoll_pwait", 282: "signalfd", 283: "timerfd_create", 284: "eventfd", 285: "fallocate",
    286: "timerfd_settime", 287: "timerfd_gettime", 288: "accept4", 289: "signalfd4",
    290: "eventfd2", 291: "epoll_create1", 292: "dup3", 293: "pipe2", 294: "inotify_init1",
    295: "preadv", 296: "pwritev", 297: "rt_tgsigqueueinfo", 298: "perf_event_open",
    299: "recvmmsg", 300: "fanotify_init", 301: "fanotify_mark", 302: "prlimit64",
    303: "name_to_handle_at", 304: "open_by_handle_at", 305: "clock_adjtime", 306: "syncfs",
    307: "sendmmsg", 308: "setns", 309: "getcpu", 310: "process_vm_readv",
    311: "process_vm_writev", 312: "kcmp", 313: "finit_module", 314: "sched_setattr",
    315: "sched_getattr", 316: "renameat2", 317: "seccomp", 318: "getrandom", 319: "memfd_create",
    320: "kexec_file_load", 321: "bpf", 322: "execveat", 323: "userfaultfd", 324: "membarrier",
    325: "mlock2", 326: "copy_file_range", 327: "preadv2", 328: "pwritev2", 329: "pkey_mprotect",
    330: "pkey_alloc", 331: "pkey_free", 332: "statx", 333: "io_pgetevents", 334: "rseq",
    335: "uretprobe", 336: "uprobe", 424: "pidfd_send_signal", 425: "io_uring_setup",
    426: "io_uring_enter", 427: "io_uring_register", 428: "open_tree", 429: "move_mount",
    430: "fsopen", 431: "fsconfig", 432: "fsmount", 433: "fspick", 434: "pidfd_open",
    435: "clone3", 436: "close_range", 437: "openat2", 438: "pidfd_getfd", 439: "faccessat2",
    440: "process_madvise", 441: "epoll_pwait2", 442: "mount_setattr", 443: "quotactl_fd",
    444: "landlock_create_ruleset", 445: "landlock_add_rule", 446: "landlock_restrict_self",
    447: "memfd_secret", 448: "process_mrelease", 449: "futex_waitv",
    450: "set_mempolicy_home_node", 451: "cachestat", 452: "fchmodat2", 453: "map_shadow_stack",
    454: "futex_wake", 455: "futex_wait", 456: "futex_requeue", 457: "statmount", 458: "listmount",
    459: "lsm_get_self_attr", 460: "lsm_set_self_attr", 461: "lsm_list_modules", 462: "mseal",
    463: "setxattrat", 464: "getxattrat", 465: "listxattrat", 466: "removexattrat",
    467: "open_tree_attr", 468: "file_getattr", 469: "file_setattr",
}  # fmt: skip
"""Number to name, for every call of the x86_64 ABI of this kernel generation."""

UNKNOWN_FROM: Final = max(X86_64_TABLE) + 1
"""The first number past the table: the filter answers ENOSYS from here on."""
TABLE_GAP: Final = (337, 424)
"""Numbers in ``[337, 424)`` were never assigned on x86_64 (reserved for the x32 range)."""

DENIED: Final[dict[str, str]] = {
    # Namespaces, mounts and the root: the layout bwrap built is final.
    "mount": "mounts (bwrap built the file-system view; nothing may change it)",
    "umount2": "mounts",
    "pivot_root": "mounts",
    "chroot": "mounts (a chroot plus a saved directory fd is a classic escape)",
    "open_tree": "new mount API",
    "open_tree_attr": "new mount API (6.15)",
    "move_mount": "new mount API",
    "fsopen": "new mount API",
    "fsconfig": "new mount API",
    "fsmount": "new mount API",
    "fspick": "new mount API",
    "mount_setattr": "new mount API",
    "statmount": "mount introspection (6.8); /proc/self/mountinfo serves tools",
    "listmount": "mount introspection (6.8), incl. other mount namespaces by id",
    "unshare": "new namespaces: the route to fresh capabilities (user namespaces)",
    "setns": "joining other namespaces",
    # Other processes: tracing, reading their memory, stealing their descriptors.
    "ptrace": "tracing other processes",
    "process_vm_readv": "reading another process's memory",
    "process_vm_writev": "writing another process's memory",
    "pidfd_getfd": "stealing another process's open files",
    "process_madvise": "advising on another process's memory (5.10)",
    "process_mrelease": "reaping another process's memory (5.15)",
    "kcmp": "compares kernel objects of other processes (pointer ordering leaks)",
    "migrate_pages": "moves another process's pages between NUMA nodes",
    "move_pages": "moves another process's pages between NUMA nodes",
    # Kernel attack surface no agent needs.
    "bpf": "eBPF programs and maps (kernel attack surface)",
    "perf_event_open": "performance events (kernel attack surface, side channels)",
    "userfaultfd": "page-fault handling in user space (used to win kernel races)",
    "io_uring_setup": "io_uring (a frequent kernel exploit path; Docker denies it too)",
    "io_uring_enter": "io_uring",
    "io_uring_register": "io_uring",
    "keyctl": "kernel keyrings (not namespaced)",
    "add_key": "kernel keyrings",
    "request_key": "kernel keyrings",
    "modify_ldt": "16-bit segments in the LDT: old attack surface (CVE-2015-5157, "
    "CVE-2017-17053); no 64-bit program needs it",
    "fanotify_init": "file-system-wide event monitoring",
    "fanotify_mark": "file-system-wide event monitoring",
    "name_to_handle_at": "file handles (the 'shocker' escape pairs it with open_by_handle_at)",
    "open_by_handle_at": "opens files by handle, around every path check ('shocker')",
    "lsm_get_self_attr": "LSM attributes (6.8): no agent tool uses them",
    "lsm_set_self_attr": "LSM attributes (6.8): no agent tool uses them",
    "lsm_list_modules": "LSM attributes (6.8): no agent tool uses them",
    "cachestat": "page-cache state of any readable file (6.5): a side channel",
    "file_getattr": "inode attributes by path (6.17): no agent tool uses them yet",
    "file_setattr": "inode attributes by path (6.17): no agent tool uses them yet",
    "memfd_create": "anonymous memory files: Landlock cannot stop executing one",
    "memfd_secret": "memory hidden from the kernel (no agent needs it)",
    # The host's configuration: clock, name, logs, power, modules, swap, quotas.
    "syslog": "the kernel log",
    "settimeofday": "the system clock",
    "clock_settime": "the system clock",
    "adjtimex": "the system clock (also its read-only mode: nothing in the sandbox uses it)",
    "clock_adjtime": "the system clock",
    "sethostname": "the host name (the sandbox has its own UTS namespace; still no need)",
    "setdomainname": "the domain name",
    "reboot": "power",
    "kexec_load": "replacing the kernel",
    "kexec_file_load": "replacing the kernel",
    "init_module": "kernel modules",
    "finit_module": "kernel modules",
    "delete_module": "kernel modules",
    "swapon": "swap",
    "swapoff": "swap",
    "acct": "process accounting",
    "quotactl": "disk quotas",
    "quotactl_fd": "disk quotas",
    "iopl": "raw port I/O",
    "ioperm": "raw port I/O",
    "vhangup": "hangs up the terminal",
    # Obsolete or not implemented on x86_64: denied so a kernel that grows them back
    # gains no surface.
    "uselib": "obsolete (a.out libraries)",
    "ustat": "obsolete",
    "sysfs": "obsolete",
    "_sysctl": "obsolete",
    "create_module": "obsolete",
    "get_kernel_syms": "obsolete",
    "query_module": "obsolete",
    "nfsservctl": "obsolete",
    "getpmsg": "not implemented",
    "putpmsg": "not implemented",
    "afs_syscall": "not implemented",
    "tuxcall": "not implemented",
    "security": "not implemented",
    "vserver": "not implemented",
    "lookup_dcookie": "removed (6.10)",
    "epoll_ctl_old": "not implemented",
    "epoll_wait_old": "not implemented",
    "set_thread_area": "32-bit TLS (not implemented for 64-bit processes)",
    "get_thread_area": "32-bit TLS (not implemented for 64-bit processes)",
    "remap_file_pages": "deprecated (emulated since 3.16)",
}
"""Denied with EPERM (ENOSYS for ``clone3``), each with the reason."""

FILTERED: Final[dict[str, str]] = {
    "clone": "EPERM when any CLONE_NEW* flag is set; threads and processes otherwise",
    "clone3": "ENOSYS (flags are in memory the filter cannot read; glibc falls back to clone)",
    "socket": "only AF_UNIX, AF_INET, AF_INET6, AF_NETLINK; EAFNOSUPPORT for other families",
    "personality": "only querying and the harmless personas (Linux, UNAME26, with or without "
    "the 32-bit address limit); ADDR_NO_RANDOMIZE and READ_IMPLIES_EXEC refused",
}
"""Allowed only with some arguments (see :func:`build_filter`)."""

ALLOWED: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "file-io": (
        "reading, writing and managing files: what Landlock, the read-only binds and the "
        "workspace file system decide (the kernel checks each path and descriptor)",
        ("read", "write", "open", "close", "stat", "fstat", "lstat", "lseek", "pread64",
         "pwrite64", "readv", "writev", "access", "dup", "dup2", "dup3", "sendfile", "fcntl",
         "flock", "fsync", "fdatasync", "truncate", "ftruncate", "getdents", "getdents64",
         "getcwd", "chdir", "fchdir", "rename", "renameat", "renameat2", "mkdir", "mkdirat",
         "rmdir", "creat", "link", "linkat", "unlink", "unlinkat", "symlink", "symlinkat",
         "readlink", "readlinkat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown",
         "fchown", "lchown", "fchownat", "umask", "utime", "utimes", "futimesat", "utimensat",
         "statfs", "fstatfs", "sync", "syncfs", "sync_file_range", "readahead", "fadvise64",
         "fallocate", "openat", "openat2", "newfstatat", "statx", "faccessat", "faccessat2",
         "copy_file_range", "preadv", "pwritev", "preadv2", "pwritev2", "close_range",
         "splice", "tee", "vmsplice", "execve", "execveat", "mknod", "mknodat"),
    ),
    "xattr": (
        "extended attributes: user.* only for the sandbox uid (trusted.* and security.* need "
        "capabilities it lacks), on files Landlock lets it reach",
        ("setxattr", "lsetxattr", "fsetxattr", "getxattr", "lgetxattr", "fgetxattr",
         "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr",
         "fremovexattr", "setxattrat", "getxattrat", "listxattrat", "removexattrat"),
    ),
    "memory": (
        "the process's own address space, bounded by the cgroup's memory limit",
        ("mmap", "mprotect", "munmap", "brk", "mremap", "msync", "mincore", "madvise",
         "mlock", "munlock", "mlockall", "munlockall", "mlock2", "pkey_mprotect",
         "pkey_alloc", "pkey_free", "mbind", "set_mempolicy", "get_mempolicy",
         "set_mempolicy_home_node", "membarrier", "mseal", "map_shadow_stack"),
    ),
    "process": (
        "processes and threads inside the sandbox's own pid namespace, bounded by the "
        "cgroup's pids limit",
        ("fork", "vfork", "exit", "exit_group", "wait4", "waitid", "getpid", "getppid",
         "gettid", "set_tid_address", "set_robust_list", "get_robust_list", "futex",
         "futex_waitv", "futex_wake", "futex_wait", "futex_requeue", "rseq", "arch_prctl",
         "prctl", "setpgid", "getpgid", "getpgrp", "setsid", "getsid", "getrlimit",
         "setrlimit", "prlimit64", "getrusage", "times", "getpriority", "setpriority",
         "sched_yield", "sched_setparam", "sched_getparam", "sched_setscheduler",
         "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min",
         "sched_rr_get_interval", "sched_setaffinity", "sched_getaffinity",
         "sched_setattr", "sched_getattr", "ioprio_set", "ioprio_get", "getcpu",
         "pidfd_open", "restart_syscall", "seccomp", "landlock_create_ruleset",
         "landlock_add_rule", "landlock_restrict_self"),
    ),
    "credentials": (
        "user and group ids: the sandbox holds no capability, so it can only give up ids",
        ("getuid", "getgid", "geteuid", "getegid", "setuid", "setgid", "setreuid",
         "setregid", "getgroups", "setgroups", "setresuid", "getresuid", "setresgid",
         "getresgid", "setfsuid", "setfsgid", "capget", "capset"),
    ),
    "signals": (
        "signals, delivered only within the sandbox's pid namespace",
        ("rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
         "rt_sigtimedwait", "rt_sigqueueinfo", "rt_sigsuspend", "rt_tgsigqueueinfo",
         "sigaltstack", "kill", "tkill", "tgkill", "pidfd_send_signal", "pause", "signalfd",
         "signalfd4"),
    ),
    "time": (
        "reading clocks and sleeping (setting clocks is denied)",
        ("nanosleep", "clock_nanosleep", "gettimeofday", "time", "clock_gettime",
         "clock_getres", "getitimer", "setitimer", "alarm", "timer_create", "timer_settime",
         "timer_gettime", "timer_getoverrun", "timer_delete", "timerfd_create",
         "timerfd_settime", "timerfd_gettime"),
    ),
    "events": (
        "waiting on descriptors the process holds (inotify counts against per-uid limits)",
        ("poll", "select", "pselect6", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl",
         "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "inotify_init",
         "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "pipe", "pipe2", "ioctl"),
    ),
    "network": (
        "sockets of the allowed families: the network namespace, the egress allow-list and "
        "Landlock's port rules decide where they reach",
        ("connect", "accept", "accept4", "sendto", "recvfrom", "sendmsg", "recvmsg",
         "sendmmsg", "recvmmsg", "shutdown", "bind", "listen", "getsockname", "getpeername",
         "socketpair", "setsockopt", "getsockopt"),
    ),
    "ipc": (
        "System V and POSIX IPC, private to the sandbox's own IPC namespace",
        ("shmget", "shmat", "shmctl", "shmdt", "semget", "semop", "semctl", "semtimedop",
         "msgget", "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend",
         "mq_timedreceive", "mq_notify", "mq_getsetattr"),
    ),
    "aio": (
        "asynchronous I/O on the process's own descriptors (the old AIO interface, not "
        "io_uring)",
        ("io_setup", "io_destroy", "io_getevents", "io_submit", "io_cancel", "io_pgetevents"),
    ),
    "system-info": (
        "read-only facts about the machine (the UTS namespace gives the sandbox its own name)",
        ("uname", "sysinfo", "getrandom"),
    ),
    "probes": (
        "the kernel's own uprobe trampolines: a direct call from a program is refused by "
        "the kernel (SIGILL); denying them breaks host-side tracing of sandboxed programs",
        ("uretprobe", "uprobe"),
    ),
}  # fmt: skip
"""Allowed, by group, with the reason the group stays allowed."""

NUMBERS: Final = {name: number for number, name in X86_64_TABLE.items()}
"""Name to number."""
ALLOWED_REASON: Final = {name: reason for reason, names in ALLOWED.values() for name in names}
"""Why each allowed call stays allowed (its group's reason)."""
