"""A simulated host: a /proc, /sys, /dev and /usr tree in a temporary directory, plus canned
outcomes for the probes that need a live kernel (system calls, forked children)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sentinel.sandbox import kernel_api
from sentinel.sandbox.capabilities.bwrap import OPTIONAL_OPTIONS, REQUIRED_OPTIONS
from sentinel.sandbox.capabilities.host import CommandResult, HostView
from sentinel.sandbox.capabilities.model import Probe

HYBRID_MOUNTINFO = """\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_PROC_CGROUP = """\
9:name=systemd:/
8:pids:/
6:freezer:/
4:memory:/jobs/42
1:cpu,cpuacct:/
0::/
"""
V2_MOUNTINFO = """\
22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:5 - proc proc rw
30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
"""
V2_PROC_CGROUP = "0::/user.slice/sentinel.scope\n"
V2_SCOPE = "sys/fs/cgroup/user.slice/sentinel.scope"

BWRAP_HELP = " ".join((*REQUIRED_OPTIONS, *OPTIONAL_OPTIONS))
"""What ``bwrap --help`` of bubblewrap 0.8 lists among the options Sentinel looks for."""

CommandHandler = Callable[[list[str], str | None], CommandResult]


def default_commands(argv: list[str], stdin: str | None) -> CommandResult:
    """Answer like bwrap 0.8, nft 1.0.6 and iproute2 on a healthy host."""
    del stdin
    tool, args = Path(argv[0]).name, argv[1:]
    if tool == "bwrap" and args == ["--version"]:
        return CommandResult(0, "bubblewrap 0.8.0\n", "")
    if tool == "bwrap" and args == ["--help"]:
        return CommandResult(
            0, "usage: bwrap [OPTIONS...] [--] COMMAND [ARGS...]\n" + BWRAP_HELP, ""
        )
    if tool == "nft" and args == ["--version"]:
        return CommandResult(0, "nftables v1.0.6 (Lester Gooch #5)\n", "")
    return CommandResult(0, "", "")


@dataclass
class Outcomes:
    """Canned results of live probes; 0 means success, else an errno."""

    euid: int = 0
    landlock: tuple[int, int] = (7, 0)
    userns_root: int = 0
    userns_unprivileged: int = 0
    netns_root: int = 0
    netns_unprivileged: int = 0
    seccomp: int = 0
    bpf: tuple[int, int] = (0, 0)
    fuse_open: int = 0
    mkdir: dict[str, int] = field(default_factory=dict)
    """Errno per cgroup directory (absolute host path); unlisted directories succeed."""
    missing_cgroup_files: set[str] = field(default_factory=set)
    """Interface files a new cgroup lacks (the controller is mounted but not attached)."""
    wasmtime: tuple[str | None, Probe | None] = ("50.0.1", Probe(ok=True))
    commands: CommandHandler = default_commands


class SimulatedHost(HostView):
    """A :class:`HostView` over a fake tree; every live probe answers from :class:`Outcomes`."""

    def __init__(self, root: Path, outcomes: Outcomes | None = None):
        super().__init__(root)
        self.outcomes = outcomes or Outcomes()

    def euid(self) -> int:
        return self.outcomes.euid

    def unprivileged_ids(self) -> tuple[int, int]:
        return (
            (65534, 65534) if self.outcomes.euid == 0 else (self.outcomes.euid, self.outcomes.euid)
        )

    def run(
        self, argv: list[str], *, stdin: str | None = None, in_new_netns: bool = False
    ) -> CommandResult:
        return self.outcomes.commands(argv, stdin)

    def landlock_abi(self) -> tuple[int, int]:
        return self.outcomes.landlock

    def unshare_probe(self, flags: int, *, as_uid: tuple[int, int] | None = None) -> Probe:
        unprivileged = as_uid is not None
        if flags & kernel_api.CLONE_NEWNET:
            err = self.outcomes.netns_unprivileged if unprivileged else self.outcomes.netns_root
        else:
            err = self.outcomes.userns_unprivileged if unprivileged else self.outcomes.userns_root
        return Probe.from_errno(err, os.strerror(err) if err else "")

    def seccomp_probe(self) -> Probe:
        return Probe.from_errno(self.outcomes.seccomp, os.strerror(self.outcomes.seccomp))

    def bpf_probe(self) -> tuple[Probe, Probe]:
        load, attach = self.outcomes.bpf
        return Probe.from_errno(load, os.strerror(load)), Probe.from_errno(
            attach, os.strerror(attach)
        )

    def open_probe(self, absolute: str) -> Probe:
        return Probe.from_errno(self.outcomes.fuse_open, os.strerror(self.outcomes.fuse_open))

    def mkdir_probe(self, absolute: str, expect_file: str | None = None) -> Probe:
        err = self.outcomes.mkdir.get(absolute, 0)
        if err:
            return Probe.from_errno(err, os.strerror(err))
        if expect_file in self.outcomes.missing_cgroup_files:
            return Probe.from_errno(2, f"a new cgroup has no {expect_file}")
        return Probe(ok=True)

    def wasmtime_probe(self) -> tuple[str | None, Probe | None]:
        return self.outcomes.wasmtime


def write(root: Path, relative: str, text: str = "", *, mode: int = 0o644) -> Path:
    """Create a file in the simulated tree."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def build_healthy_tree(root: Path, *, layout: str = "hybrid") -> Path:
    """Lay out a host like the CI machine: Debian 12, hybrid cgroups, every tool installed."""
    write(root, "etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    write(root, "proc/sys/kernel/osrelease", "6.18.0-sim\n")
    write(root, "proc/self/status", "Name:\tpython\nSeccomp:\t0\nSeccomp_filters:\t0\n")
    write(
        root,
        "proc/sys/kernel/seccomp/actions_avail",
        "kill_process kill_thread trap errno user_notif trace log allow\n",
    )
    write(root, "proc/sys/user/max_user_namespaces", "96365\n")
    write(root, "proc/sys/kernel/unprivileged_bpf_disabled", "2\n")
    write(
        root, "proc/filesystems", "nodev\tsysfs\nnodev\ttracefs\nnodev\tbpf\n\text4\nnodev\tfuse\n"
    )
    write(root, "sys/kernel/btf/vmlinux", "BTF")
    write(root, "dev/fuse")
    write(root, "dev/loop-control")
    for tool in ("usr/bin/bwrap", "usr/sbin/nft", "usr/sbin/ip", "usr/bin/fusermount3",
                 "usr/sbin/mkfs.ext4", "usr/bin/mount"):  # fmt: skip
        write(root, tool, "#!/bin/sh\n", mode=0o755)
    if layout == "hybrid":
        write(root, "proc/self/mountinfo", HYBRID_MOUNTINFO)
        write(root, "proc/self/cgroup", HYBRID_PROC_CGROUP)
        for hierarchy in ("cpu,cpuacct", "memory/jobs/42", "freezer", "pids", "unified"):
            (root / "sys/fs/cgroup" / hierarchy).mkdir(parents=True, exist_ok=True)
        write(root, "sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n")
    elif layout == "v2":
        write(root, "proc/self/mountinfo", V2_MOUNTINFO)
        write(root, "proc/self/cgroup", V2_PROC_CGROUP)
        write(root, f"{V2_SCOPE}/cgroup.controllers", "cpuset cpu io memory pids\n")
        write(root, f"{V2_SCOPE}/cgroup.freeze", "0\n")
    else:
        raise ValueError(f"unknown layout {layout!r}")
    return root
