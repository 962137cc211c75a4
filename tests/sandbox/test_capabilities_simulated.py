"""Every verdict of every layer, decided by the real detection code over a simulated host."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from sentinel.sandbox import Verdict, detect
from sentinel.sandbox.capabilities.host import CommandResult
from sentinel.sandbox.capabilities.model import HostCapabilities, Probe
from tests.sandbox.simulated_host import (
    BWRAP_HELP,
    V2_SCOPE,
    Outcomes,
    SimulatedHost,
    build_healthy_tree,
    default_commands,
    write,
)


def run(
    tmp_path: Path, outcomes: Outcomes | None = None, *, layout: str = "hybrid"
) -> HostCapabilities:
    return detect(SimulatedHost(build_healthy_tree(tmp_path, layout=layout), outcomes))


def test_healthy_hybrid_host_has_every_layer_available(tmp_path: Path) -> None:
    caps = run(tmp_path)
    assert {r.name: r.verdict for r in caps.layers} == dict.fromkeys(
        [
            "bwrap",
            "landlock",
            "seccomp",
            "cgroups",
            "netns",
            "wasmtime",
            "userns",
            "bpf",
            "fuse",
            "workspace-fs",
        ],
        Verdict.AVAILABLE,
    )
    assert caps.host.os == "Debian GNU/Linux 12 (bookworm)"
    assert caps.host.kernel == "6.18.0-sim"
    assert caps.unavailable_layers() == []


def test_hybrid_layout_places_controllers_on_v1(tmp_path: Path) -> None:
    caps = run(tmp_path)
    assert caps.cgroups.layout == "hybrid"
    controllers = caps.cgroups.controllers
    assert {name: c.hierarchy for name, c in controllers.items()} == {
        "memory": "v1",
        "pids": "v1",
        "cpu": "v1",
        "freezer": "v2",
    }
    # The process's own v1 path is honoured (memory:/jobs/42), and combined mounts found.
    assert controllers["memory"].path == "/sys/fs/cgroup/memory/jobs/42"
    assert controllers["cpu"].path == "/sys/fs/cgroup/cpu,cpuacct"


def test_v2_delegated_host_uses_v2(tmp_path: Path) -> None:
    caps = run(tmp_path, layout="v2")
    assert caps.cgroups.layout == "v2"
    assert caps.cgroups.controllers  # all() over no controllers would pass
    assert all(c.hierarchy == "v2" and c.usable for c in caps.cgroups.controllers.values())
    assert caps.layer("cgroups").verdict is Verdict.AVAILABLE


def test_v2_without_delegation_is_unavailable_with_subtree_fix(tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path, layout="v2")
    write(root, f"{V2_SCOPE}/cgroup.controllers", "cpuset io\n")
    report = detect(SimulatedHost(root)).layer("cgroups")
    assert report.verdict is Verdict.UNAVAILABLE
    assert "not delegated" in report.reason
    assert "+memory +pids +cpu" in report.fix
    assert "cgroup.subtree_control" in report.fix


def test_v2_partial_delegation_is_degraded(tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path, layout="v2")
    write(root, f"{V2_SCOPE}/cgroup.controllers", "memory pids\n")
    report = detect(SimulatedHost(root)).layer("cgroups")
    assert report.verdict is Verdict.DEGRADED
    assert report.reason.startswith("cpu:")


def test_read_only_cgroupfs_is_unavailable_and_says_so(tmp_path: Path) -> None:
    outcomes = Outcomes(
        mkdir={
            "/sys/fs/cgroup/memory/jobs/42": errno.EROFS,
            "/sys/fs/cgroup/pids": errno.EROFS,
            "/sys/fs/cgroup/cpu,cpuacct": errno.EROFS,
        }
    )
    report = run(tmp_path, outcomes).layer("cgroups")
    assert report.verdict is Verdict.UNAVAILABLE
    assert "EROFS" in report.reason
    assert "root" in report.fix


def test_v1_controller_not_attached_is_detected(tmp_path: Path) -> None:
    report = run(tmp_path, Outcomes(missing_cgroup_files={"pids.max"})).layer("cgroups")
    assert report.verdict is Verdict.DEGRADED
    assert "pids.max" in report.reason


def test_no_cgroup_mounts_is_unavailable(tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path)
    write(root, "proc/self/mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n")
    caps = detect(SimulatedHost(root))
    assert caps.cgroups.layout == "none"
    report = caps.layer("cgroups")
    assert report.verdict is Verdict.UNAVAILABLE
    assert "no cgroup hierarchy is mounted" in report.reason
    assert report.fix.startswith("mount -t cgroup2")


def test_missing_bwrap_is_unavailable_with_install_fix(tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path)
    (root / "usr/bin/bwrap").unlink()
    caps = detect(SimulatedHost(root))
    report = caps.layer("bwrap")
    assert report.verdict is Verdict.UNAVAILABLE
    assert report.fix == "apt-get install bubblewrap"
    assert [r.name for r in caps.unavailable_layers()] == ["bwrap"]


def test_bwrap_that_cannot_start_a_sandbox_is_unavailable(tmp_path: Path) -> None:
    def failing(argv: list[str], stdin: str | None) -> CommandResult:
        if argv[1:] in (["--version"], ["--help"]):
            return default_commands(argv, stdin)
        return CommandResult(1, "", "bwrap: No permissions to creating new namespace")

    report = run(tmp_path, Outcomes(commands=failing)).layer("bwrap")
    assert report.verdict is Verdict.UNAVAILABLE
    assert "No permissions to creating new namespace" in report.reason


def test_old_bwrap_without_json_status_is_unavailable(tmp_path: Path) -> None:
    def old(argv: list[str], stdin: str | None) -> CommandResult:
        if argv[1:] == ["--version"]:
            return CommandResult(0, "bubblewrap 0.4.0\n", "")
        if argv[1:] == ["--help"]:
            return CommandResult(0, BWRAP_HELP.replace("--json-status-fd", ""), "")
        return CommandResult(0, "", "")

    report = run(tmp_path, Outcomes(commands=old)).layer("bwrap")
    assert report.verdict is Verdict.UNAVAILABLE
    assert "--json-status-fd" in report.reason


def test_bwrap_without_hardening_options_is_degraded(tmp_path: Path) -> None:
    def bwrap_07(argv: list[str], stdin: str | None) -> CommandResult:
        if argv[1:] == ["--help"]:
            return CommandResult(0, BWRAP_HELP.replace("--disable-userns", ""), "")
        return default_commands(argv, stdin)

    report = run(tmp_path, Outcomes(commands=bwrap_07)).layer("bwrap")
    assert report.verdict is Verdict.DEGRADED
    assert "--disable-userns" in report.reason


@pytest.mark.parametrize(
    ("abi", "err", "verdict", "words"),
    [
        (7, 0, Verdict.AVAILABLE, ""),
        (6, 0, Verdict.AVAILABLE, ""),
        (5, 0, Verdict.DEGRADED, "scoping"),
        (3, 0, Verdict.DEGRADED, "TCP"),
        (0, errno.EOPNOTSUPP, Verdict.UNAVAILABLE, "not in the active LSM list"),
        (0, errno.ENOSYS, Verdict.UNAVAILABLE, "ENOSYS"),
    ],
)
def test_landlock_verdict_by_abi(
    tmp_path: Path, abi: int, err: int, verdict: Verdict, words: str
) -> None:
    caps = run(tmp_path, Outcomes(landlock=(abi, err)))
    report = caps.layer("landlock")
    assert report.verdict is verdict
    assert words in report.reason
    assert len(caps.landlock.features) == abi
    if err == errno.EOPNOTSUPP:
        assert "lsm=" in report.fix


def test_seccomp_refused_is_unavailable(tmp_path: Path) -> None:
    report = run(tmp_path, Outcomes(seccomp=errno.EINVAL)).layer("seccomp")
    assert report.verdict is Verdict.UNAVAILABLE
    assert os.strerror(errno.EINVAL) in report.reason


def test_seccomp_without_reporting_actions_is_degraded(tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path)
    write(
        root,
        "proc/sys/kernel/seccomp/actions_avail",
        "kill_process kill_thread trap errno trace allow\n",
    )
    report = detect(SimulatedHost(root)).layer("seccomp")
    assert report.verdict is Verdict.DEGRADED
    assert "cannot be reported" in report.reason


def test_kernel_without_seccomp(tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path)
    write(root, "proc/self/status", "Name:\tpython\n")
    report = detect(SimulatedHost(root, Outcomes(seccomp=errno.EINVAL))).layer("seccomp")
    assert report.verdict is Verdict.UNAVAILABLE
    assert "CONFIG_SECCOMP" in report.reason


def test_userns_only_for_root_is_degraded_with_sysctl_fix(tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path)
    write(root, "proc/sys/kernel/unprivileged_userns_clone", "0\n")
    caps = detect(SimulatedHost(root, Outcomes(userns_unprivileged=errno.EPERM)))
    report = caps.layer("userns")
    assert report.verdict is Verdict.DEGRADED
    assert report.fix == "sysctl -w kernel.unprivileged_userns_clone=1"
    assert caps.user_namespaces.unprivileged_uid == 65534


def test_userns_disabled_everywhere_is_unavailable(tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path)
    write(root, "proc/sys/user/max_user_namespaces", "0\n")
    outcomes = Outcomes(userns_root=errno.ENOSPC, userns_unprivileged=errno.ENOSPC)
    report = detect(SimulatedHost(root, outcomes)).layer("userns")
    assert report.verdict is Verdict.UNAVAILABLE
    assert report.fix == "sysctl -w user.max_user_namespaces=15000"


def test_no_netns_is_unavailable(tmp_path: Path) -> None:
    outcomes = Outcomes(netns_root=errno.EPERM, netns_unprivileged=errno.EPERM)
    caps = run(tmp_path, outcomes)
    assert caps.layer("netns").verdict is Verdict.UNAVAILABLE
    assert caps.network.nft_output_hook is None  # nothing is tried without a namespace


def test_missing_nft_degrades_netns_to_loopback_only(tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path)
    (root / "usr/sbin/nft").unlink()
    report = detect(SimulatedHost(root)).layer("netns")
    assert report.verdict is Verdict.DEGRADED
    assert report.fix == "apt-get install nftables"
    assert "network='none'" in report.reason


def test_nft_rule_load_failure_is_degraded(tmp_path: Path) -> None:
    def no_nf_tables(argv: list[str], stdin: str | None) -> CommandResult:
        if argv[1:] == ["-f", "-"]:
            return CommandResult(1, "", "Error: Could not process rule: Operation not supported")
        return default_commands(argv, stdin)

    report = run(tmp_path, Outcomes(commands=no_nf_tables)).layer("netns")
    assert report.verdict is Verdict.DEGRADED
    assert "Operation not supported" in report.reason
    assert "nf_tables" in report.fix


def test_missing_veth_is_degraded(tmp_path: Path) -> None:
    def no_veth(argv: list[str], stdin: str | None) -> CommandResult:
        if argv[1:3] == ["link", "add"]:
            return CommandResult(2, "", "Error: Unknown device type.")
        return default_commands(argv, stdin)

    report = run(tmp_path, Outcomes(commands=no_veth)).layer("netns")
    assert report.verdict is Verdict.DEGRADED
    assert "Unknown device type" in report.reason


def test_non_root_gets_loopback_only_network_and_no_root_probes(tmp_path: Path) -> None:
    caps = run(tmp_path, Outcomes(euid=1000))
    assert caps.network.netns_as_root is None
    assert caps.user_namespaces.as_root is None
    assert caps.layer("netns").verdict is Verdict.DEGRADED
    assert caps.layer("userns").verdict is Verdict.AVAILABLE


def test_wasmtime_missing_and_broken(tmp_path: Path) -> None:
    assert (
        run(tmp_path / "a", Outcomes(wasmtime=(None, None))).layer("wasmtime").fix
        == "pip install wasmtime"
    )
    broken = Outcomes(wasmtime=("1.0", Probe(ok=False, detail="Trap: all fuel consumed")))
    report = run(tmp_path / "b", broken).layer("wasmtime")
    assert report.verdict is Verdict.UNAVAILABLE
    assert "all fuel consumed" in report.reason


def test_bpf_verdicts(tmp_path: Path) -> None:
    refused = run(tmp_path / "a", Outcomes(bpf=(errno.EPERM, errno.EPERM))).layer("bpf")
    assert refused.verdict is Verdict.UNAVAILABLE
    assert "unprivileged_bpf_disabled" in refused.fix
    no_attach = run(tmp_path / "b", Outcomes(bpf=(0, errno.ENOENT))).layer("bpf")
    assert no_attach.verdict is Verdict.UNAVAILABLE
    assert "sys_enter" in no_attach.reason
    root = build_healthy_tree(tmp_path / "c")
    (root / "sys/kernel/btf/vmlinux").unlink()
    no_btf = detect(SimulatedHost(root)).layer("bpf")
    assert no_btf.verdict is Verdict.DEGRADED
    assert "CONFIG_DEBUG_INFO_BTF" in no_btf.fix


def test_fuse_verdicts(tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path / "a")
    (root / "dev/fuse").unlink()
    assert detect(SimulatedHost(root)).layer("fuse").verdict is Verdict.UNAVAILABLE
    denied = run(tmp_path / "b", Outcomes(fuse_open=errno.EACCES)).layer("fuse")
    assert denied.verdict is Verdict.UNAVAILABLE
    assert "opening /dev/fuse failed" in denied.reason
    root = build_healthy_tree(tmp_path / "c")
    (root / "usr/bin/fusermount3").unlink()
    as_user = detect(SimulatedHost(root, Outcomes(euid=1000))).layer("fuse")
    assert as_user.verdict is Verdict.DEGRADED
    assert as_user.fix == "apt-get install fuse3"


def test_layer_lookup_names_known_layers(tmp_path: Path) -> None:
    caps = run(tmp_path)
    with pytest.raises(KeyError, match="known layers: bwrap, landlock"):
        caps.layer("apparmor")


def test_observability_gaps_do_not_count_as_unavailable_sandbox_layers(tmp_path: Path) -> None:
    caps = run(tmp_path, Outcomes(bpf=(errno.EPERM, errno.EPERM), fuse_open=errno.EACCES))
    assert caps.layer("bpf").verdict is Verdict.UNAVAILABLE
    assert caps.unavailable_layers() == []


def test_the_workspace_file_system_needs_root_and_its_tools(tmp_path: Path) -> None:
    root = build_healthy_tree(tmp_path / "a")
    (root / "usr/sbin/mkfs.ext4").unlink()
    missing = detect(SimulatedHost(root)).layer("workspace-fs")
    assert missing.verdict is Verdict.UNAVAILABLE
    assert "mkfs.ext4" in missing.reason and "e2fsprogs" in missing.fix
    as_user = detect(SimulatedHost(build_healthy_tree(tmp_path / "b"), Outcomes(euid=1000)))
    report = as_user.layer("workspace-fs")
    assert report.verdict is Verdict.UNAVAILABLE and "root" in report.reason
    assert report.kind == "prerequisite"  # not a switchable layer: --strict does not count it
