"""Detect the cgroup layout (v1, v2 or hybrid) and where each needed controller is usable.

Sentinel limits each agent with the memory, pids and cpu controllers. On a pure cgroup v2
host they must be listed in ``cgroup.controllers`` of the cgroup Sentinel runs in (i.e.
delegated by the parent). On hybrid hosts, such as systems where v1 hierarchies still carry
the controllers and the v2 mount is empty, Sentinel uses the v1 hierarchies instead.
"""

from __future__ import annotations

import errno
from typing import Final, Literal

from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.model import (
    CgroupController,
    CgroupFacts,
    CgroupMount,
    LayerJudge,
    LayerReport,
    Verdict,
)
from sentinel.sandbox.capabilities.mountinfo import MountEntry, parse_mountinfo

REQUIRED_CONTROLLERS: Final = ("memory", "pids", "cpu")
"""Controllers every agent sandbox is limited by."""
REPORTED_CONTROLLERS: Final = (*REQUIRED_CONTROLLERS, "freezer")
"""Also reported: freezer (v1) or cgroup.freeze (v2) is how the platform suspends an agent."""
V1_INTERFACE_FILES: Final = {
    "memory": "memory.limit_in_bytes",
    "pids": "pids.max",
    "cpu": "cpu.cfs_quota_us",
    "freezer": "freezer.state",
}
"""A file each v1 controller creates in every new cgroup: its presence proves attachment."""
V2_FREEZE_FILE: Final = "cgroup.freeze"
"""Present in every non-root v2 cgroup since Linux 5.2."""

CGROUPS = LayerJudge("cgroups", "layer")


_V1_MOUNT_FLAGS: Final = frozenset(
    {"rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode"}
)
"""Super-block options of a v1 cgroup mount that are flags, not controller names."""


def cgroup_mounts(entries: list[MountEntry]) -> list[CgroupMount]:
    """Select the cgroup hierarchies among the mounts, with the controllers of each v1 one."""
    mounts = []
    for entry in entries:
        if entry.fstype == "cgroup2":
            mounts.append(CgroupMount(version="v2", path=entry.mountpoint, controllers=[]))
        elif entry.fstype == "cgroup":
            controllers = [
                option
                for option in entry.super_options
                if option not in _V1_MOUNT_FLAGS and "=" not in option
            ]
            mounts.append(CgroupMount(version="v1", path=entry.mountpoint, controllers=controllers))
    return mounts


def parse_proc_cgroup(text: str) -> tuple[dict[str, str], str | None]:
    """Parse ``/proc/self/cgroup`` into ``({v1 controller: path}, v2 path)``."""
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy_id, controllers, path = parts
        if hierarchy_id == "0" and controllers == "":
            v2 = path
            continue
        for controller in controllers.split(","):
            if controller and not controller.startswith("name="):
                v1[controller] = path
    return v1, v2


def _layout(mounts: list[CgroupMount]) -> Literal["v1", "v2", "hybrid", "none"]:
    versions = {mount.version for mount in mounts}
    if versions == {"v1", "v2"}:
        return "hybrid"
    if versions == {"v2"}:
        return "v2"
    if versions == {"v1"}:
        return "v1"
    return "none"


def _join(mountpoint: str, cgroup_path: str) -> str:
    return (
        mountpoint.rstrip("/") + "/" + cgroup_path.strip("/")
        if cgroup_path.strip("/")
        else mountpoint
    )


def _v2_controller(host: HostView, name: str, v2_dir: str) -> CgroupController:
    # Freezing needs no controller on v2: every non-root cgroup has cgroup.freeze.
    is_freezer = name == "freezer"
    if not is_freezer and name not in (host.read(v2_dir + "/cgroup.controllers") or "").split():
        return CgroupController(
            name=name,
            usable=False,
            hierarchy="v2",
            path=v2_dir,
            reason=f"not delegated to {v2_dir} (missing from its cgroup.controllers)",
        )
    probe = host.mkdir_probe(v2_dir, expect_file=V2_FREEZE_FILE if is_freezer else None)
    return CgroupController(
        name=name,
        usable=probe.ok,
        hierarchy="v2",
        path=v2_dir,
        reason="" if probe.ok else f"cannot create a child cgroup in {v2_dir}: {probe.detail}",
    )


def _v1_controller(host: HostView, name: str, mount: CgroupMount, own: str) -> CgroupController:
    directory = _join(mount.path, own)
    probe = host.mkdir_probe(directory, expect_file=V1_INTERFACE_FILES.get(name))
    return CgroupController(
        name=name,
        usable=probe.ok,
        hierarchy="v1",
        path=directory,
        reason=""
        if probe.ok
        else f"cannot create a child cgroup in {directory}: "
        f"{errno.errorcode.get(probe.errno, probe.errno)} {probe.detail}".rstrip(),
    )


def detect_cgroups(host: HostView) -> CgroupFacts:
    """Find the cgroup mounts and test each controller Sentinel needs where it lives."""
    mounts = cgroup_mounts(parse_mountinfo(host.read("/proc/self/mountinfo") or ""))
    own_v1, own_v2 = parse_proc_cgroup(host.read("/proc/self/cgroup") or "")
    v2_mount = next((m for m in mounts if m.version == "v2"), None)
    v2_dir = _join(v2_mount.path, own_v2 or "/") if v2_mount is not None else None
    controllers: dict[str, CgroupController] = {}
    for name in REPORTED_CONTROLLERS:
        candidates: list[CgroupController] = []
        if v2_dir is not None:
            candidates.append(_v2_controller(host, name, v2_dir))
        v1_mount = next((m for m in mounts if m.version == "v1" and name in m.controllers), None)
        if v1_mount is not None and not (candidates and candidates[0].usable):
            candidates.append(_v1_controller(host, name, v1_mount, own_v1.get(name, "/")))
        usable = next((c for c in candidates if c.usable), None)
        if usable is not None:
            controllers[name] = usable
        elif candidates:
            reasons = "; ".join(c.reason for c in candidates)
            controllers[name] = candidates[-1].model_copy(update={"reason": reasons})
        else:
            controllers[name] = CgroupController(
                name=name,
                usable=False,
                hierarchy=None,
                path=None,
                reason="no cgroup hierarchy is mounted"
                if not mounts
                else "no mounted hierarchy carries this controller",
            )
    return CgroupFacts(layout=_layout(mounts), mounts=mounts, controllers=controllers)


def _fix(facts: CgroupFacts, missing: list[str]) -> str:
    first = facts.controllers[missing[0]]
    if facts.layout == "none":
        return "mount -t cgroup2 none /sys/fs/cgroup"
    if first.reason and (
        "EACCES" in first.reason or "EPERM" in first.reason or "EROFS" in first.reason
    ):
        return "run Sentinel as root, or give it a delegated, writable cgroup"
    if first.hierarchy == "v2" and facts.layout == "v2":
        parent = (first.path or "/sys/fs/cgroup").rsplit("/", 1)[0] or "/sys/fs/cgroup"
        wanted = " ".join(f"+{name}" for name in missing)
        return (
            f"echo '{wanted}' > {parent}/cgroup.subtree_control "
            "(or delegate a cgroup with these controllers)"
        )
    return " && ".join(
        f"mkdir -p /sys/fs/cgroup/{name} && mount -t cgroup -o {name} cgroup /sys/fs/cgroup/{name}"
        for name in missing
    )


def assess_cgroups(facts: CgroupFacts) -> LayerReport:
    """Judge the cgroup layer on the controllers every sandbox needs."""
    usable = [c for c in REQUIRED_CONTROLLERS if facts.controllers[c].usable]
    missing = [c for c in REQUIRED_CONTROLLERS if c not in usable]
    where = ", ".join(
        f"{c}@{facts.controllers[c].hierarchy}"
        for c in REPORTED_CONTROLLERS
        if facts.controllers[c].usable
    )
    summary = f"{facts.layout}; usable: {where or 'none'}"
    if not missing:
        return CGROUPS.available(summary=summary)
    reason = "; ".join(f"{c}: {facts.controllers[c].reason}" for c in missing)
    verdict = Verdict.DEGRADED if usable else Verdict.UNAVAILABLE
    return CGROUPS.report(
        verdict,
        summary=summary,
        reason=reason,
        fix=_fix(facts, missing),
    )
