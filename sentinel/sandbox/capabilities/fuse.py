"""Detect FUSE for the content-addressed agent workspace."""

from __future__ import annotations

from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.model import FuseFacts, LayerJudge, LayerReport

FUSE_DEVICE = "/dev/fuse"

FUSE = LayerJudge("fuse", "observability")


def detect_fuse(host: HostView) -> FuseFacts:
    """Open /dev/fuse and check that the kernel registered the fuse file system."""
    present = host.exists(FUSE_DEVICE)
    return FuseFacts(
        device_present=present,
        device_open=host.open_probe(FUSE_DEVICE) if present else None,
        filesystem_registered="fuse" in (host.read("/proc/filesystems") or "").split(),
        fusermount3_path=host.which("fusermount3"),
    )


def assess_fuse(facts: FuseFacts, *, is_root: bool) -> LayerReport:
    """Judge FUSE; root mounts directly, other users need the fusermount3 helper."""
    if not facts.device_present or not facts.filesystem_registered:
        return FUSE.unavailable(
            summary="no fuse",
            reason="/dev/fuse is missing"
            if not facts.device_present
            else "the fuse file system is not registered in /proc/filesystems",
            fix="modprobe fuse",
        )
    if facts.device_open is None or not facts.device_open.ok:
        detail = facts.device_open.detail if facts.device_open else "not tried"
        return FUSE.unavailable(
            summary="/dev/fuse not usable",
            reason=f"opening /dev/fuse failed: {detail}",
            fix="run as root, or give this user access to /dev/fuse",
        )
    summary = "/dev/fuse opens" + (f"; {facts.fusermount3_path}" if facts.fusermount3_path else "")
    if not is_root and facts.fusermount3_path is None:
        return FUSE.degraded(
            summary=summary,
            reason="not root and no fusermount3: unprivileged mounts are impossible",
            fix="apt-get install fuse3",
        )
    return FUSE.available(summary=summary)
