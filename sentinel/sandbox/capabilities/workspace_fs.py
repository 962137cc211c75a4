"""Detect what the workspace file system needs: loop devices, ext4, mkfs.ext4, mount, root."""

from __future__ import annotations

from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.model import LayerJudge, LayerReport, WorkspaceFsFacts

WORKSPACE_FS = LayerJudge("workspace-fs", "prerequisite")


def detect_workspace_fs(host: HostView) -> WorkspaceFsFacts:
    """Look for /dev/loop-control, ext4 in /proc/filesystems, and the two tools."""
    return WorkspaceFsFacts(
        loop_control=host.exists("/dev/loop-control"),
        ext4_registered="ext4" in (host.read("/proc/filesystems") or "").split(),
        mkfs_ext4_path=host.which("mkfs.ext4"),
        mount_path=host.which("mount"),
    )


def assess_workspace_fs(facts: WorkspaceFsFacts, *, is_root: bool) -> LayerReport:
    """Judge the workspace file system (disk quota, noexec); mounting it needs root."""
    missing = [
        name
        for name, ok in (
            ("/dev/loop-control", facts.loop_control),
            ("ext4 in /proc/filesystems", facts.ext4_registered),
            ("mkfs.ext4", facts.mkfs_ext4_path is not None),
            ("mount", facts.mount_path is not None),
        )
        if not ok
    ]
    if missing:
        return WORKSPACE_FS.unavailable(
            summary="cannot be made",
            reason="missing: " + ", ".join(missing),
            fix="apt-get install e2fsprogs mount; modprobe loop ext4",
        )
    if not is_root:
        return WORKSPACE_FS.unavailable(
            summary="needs root",
            reason="a loop mount needs root: workspaces run without quota and noexec",
            fix="run Sentinel as root",
        )
    return WORKSPACE_FS.available(summary="loop-mounted ext4: quota, noexec, nosuid")
