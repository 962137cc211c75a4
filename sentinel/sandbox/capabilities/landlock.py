"""Detect the Landlock ABI through the ``landlock_create_ruleset`` version query."""

from __future__ import annotations

import errno
from typing import Final

from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.model import LandlockFacts, LayerJudge, LayerReport

FEATURES_BY_ABI: Final = (
    (1, "fs"),  # Linux 5.13: file-system access rights
    (2, "fs_refer"),  # 5.19: renames and links across directories
    (3, "fs_truncate"),  # 6.2
    (4, "net_tcp"),  # 6.7: TCP bind and connect rules
    (5, "fs_ioctl_dev"),  # 6.10
    (6, "scope_signal_abstract_unix"),  # 6.12: IPC scoping
    (7, "audit_log_flags"),  # 6.15: logging of denials
)
"""Each Landlock ABI and what it adds (kernel Documentation/userspace-api/landlock.rst)."""
FULL_ABI: Final = 6
"""From this ABI on, Landlock covers files, TCP and IPC scoping: everything Sentinel uses."""
NET_ABI: Final = 4
BOOT_FIX: Final = (
    "add landlock to the lsm= kernel command line (e.g. lsm=landlock,lockdown,yama,integrity,"
    "apparmor,bpf) and reboot"
)

LANDLOCK = LayerJudge("landlock", "layer")


def detect_landlock(host: HostView) -> LandlockFacts:
    """Ask the kernel which Landlock ABI it implements."""
    abi, err = host.landlock_abi()
    return LandlockFacts(
        abi=abi, errno=err, features=[feature for level, feature in FEATURES_BY_ABI if abi >= level]
    )


def assess_landlock(facts: LandlockFacts) -> LayerReport:
    """Judge Landlock by ABI level."""
    if facts.abi <= 0:
        if facts.errno == errno.EOPNOTSUPP:
            return LANDLOCK.unavailable(
                summary="disabled at boot",
                reason="the kernel has Landlock but it is not in the active LSM list (EOPNOTSUPP)",
                fix=BOOT_FIX,
            )
        return LANDLOCK.unavailable(
            summary="not in this kernel",
            reason=f"landlock_create_ruleset failed with {errno.errorcode.get(facts.errno)} "
            "(kernel older than 5.13 or built without CONFIG_SECURITY_LANDLOCK)",
            fix="run a kernel >= 6.12 built with CONFIG_SECURITY_LANDLOCK=y",
        )
    summary = f"ABI {facts.abi}"
    if facts.abi < NET_ABI:
        return LANDLOCK.degraded(
            summary=summary,
            reason="no TCP bind/connect rules before ABI 4: egress is enforced by netns and "
            "nftables alone; no IPC scoping before ABI 6",
            fix="run a kernel >= 6.12",
        )
    if facts.abi < FULL_ABI:
        return LANDLOCK.degraded(
            summary=summary,
            reason="no signal or abstract-unix-socket scoping before ABI 6: those rely on the "
            "PID and network namespaces alone",
            fix="run a kernel >= 6.12",
        )
    return LANDLOCK.available(summary=summary)
