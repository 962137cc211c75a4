"""Detection against the real kernel of this machine.

These tests fail rather than skip when a sandbox layer is unavailable: a host that cannot
enforce a layer must not pass the suite silently. The failure message carries the reason
and the fix that ``sentinel-run doctor`` would print.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

import pytest

from sentinel.sandbox import HostCapabilities, Verdict, detect
from sentinel.sandbox.capabilities.cgroups import REQUIRED_CONTROLLERS

pytestmark = pytest.mark.host

# Documentation/userspace-api/landlock.rst: the mainline release that introduced each ABI.
LANDLOCK_ABI_BY_KERNEL = (
    (6, 15, 7),
    (6, 12, 6),
    (6, 10, 5),
    (6, 7, 4),
    (6, 2, 3),
    (5, 19, 2),
    (5, 13, 1),
)


@pytest.fixture(scope="module")
def caps() -> HostCapabilities:
    return detect()


def test_every_sandbox_layer_is_enforceable_here(caps: HostCapabilities) -> None:
    problems = [
        f"{r.name}: {r.reason} (fix: {r.fix})"
        for r in caps.layers
        if r.verdict is not Verdict.AVAILABLE
    ]
    assert not problems, "this host cannot enforce every layer:\n" + "\n".join(problems)


def test_landlock_abi_is_at_least_what_the_kernel_version_implies(caps: HostCapabilities) -> None:
    major, minor = (int(part) for part in re.findall(r"\d+", platform.release())[:2])
    implied = next(
        (abi for kmaj, kmin, abi in LANDLOCK_ABI_BY_KERNEL if (major, minor) >= (kmaj, kmin)), 0
    )
    # Distribution kernels may backport a newer ABI, never ship an older one than mainline.
    assert caps.landlock.abi >= implied
    assert caps.landlock.errno == 0


V1_CONTROLLERS = frozenset(
    {
        "blkio",
        "cpu",
        "cpuacct",
        "cpuset",
        "devices",
        "freezer",
        "hugetlb",
        "memory",
        "misc",
        "net_cls",
        "net_prio",
        "perf_event",
        "pids",
        "rdma",
    }
)


def test_cgroup_mounts_agree_with_proc_mounts(caps: HostCapabilities) -> None:
    # /proc/mounts is a second, independently formatted view of the same mount table.
    seen = {}
    for line in Path("/proc/mounts").read_text().splitlines():
        _source, target, fstype, options, *_ = line.split()
        if fstype in ("cgroup", "cgroup2"):
            names = sorted(V1_CONTROLLERS.intersection(options.split(",")))
            seen[target] = ("v2" if fstype == "cgroup2" else "v1", names)
    detected = {m.path: (m.version, sorted(m.controllers)) for m in caps.cgroups.mounts}
    assert detected == seen
    for name in REQUIRED_CONTROLLERS:
        controller = caps.cgroups.controllers[name]
        assert controller.usable, controller.reason
        assert controller.path is not None
        assert Path(controller.path).is_dir()


def test_bwrap_version_matches_the_binary(caps: HostCapabilities) -> None:
    assert caps.bwrap.path is not None
    out = subprocess.run([caps.bwrap.path, "--version"], capture_output=True, text=True, check=True)
    assert caps.bwrap.version is not None
    assert caps.bwrap.version in out.stdout


def test_user_namespace_probe_agrees_with_unshare_tool(caps: HostCapabilities) -> None:
    # util-linux unshare(1) makes the same system call from a separate program.
    done = subprocess.run(["unshare", "--user", "true"], capture_output=True, check=False)
    assert caps.user_namespaces.as_unprivileged.ok or caps.user_namespaces.as_root is not None
    if os.geteuid() == 0:
        assert caps.user_namespaces.as_root is not None
        assert caps.user_namespaces.as_root.ok == (done.returncode == 0)


def test_detection_leaves_no_trace_on_the_host() -> None:
    def nft_tables() -> str:
        return subprocess.run(
            ["nft", "list", "tables"], capture_output=True, text=True, check=False
        ).stdout

    def links() -> set[str]:
        return {path.name for path in Path("/sys/class/net").iterdir()}

    def probe_cgroups() -> list[Path]:
        return [
            Path(dirpath, name)
            for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup")
            for name in dirnames
            if name.startswith("sentinel-doctor-")
        ]

    tables, interfaces = nft_tables(), links()
    detect()
    assert nft_tables() == tables
    assert links() == interfaces
    assert probe_cgroups() == []
    assert "sentinel_doctor" not in nft_tables()


def test_detect_does_not_change_the_calling_process() -> None:
    status_before = Path("/proc/self/status").read_text()
    netns_before = Path("/proc/self/ns/net").readlink()
    userns_before = Path("/proc/self/ns/user").readlink()
    detect()
    status_after = Path("/proc/self/status").read_text()
    for field in ("Seccomp", "NoNewPrivs", "Uid", "CapEff"):
        pattern = rf"^{field}:\s*(.*)$"
        assert re.findall(pattern, status_after, re.M) == re.findall(
            pattern, status_before, re.M
        ), field
    assert Path("/proc/self/ns/net").readlink() == netns_before
    assert Path("/proc/self/ns/user").readlink() == userns_before
