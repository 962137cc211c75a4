"""Detect seccomp filter support and the return actions the kernel offers."""

from __future__ import annotations

import re
from typing import Final

from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.model import LayerJudge, LayerReport, SeccompFacts

REQUIRED_ACTIONS: Final = frozenset({"errno", "kill_process"})
"""Deny with an errno; kill the whole process on the worst syscalls."""
REPORTING_ACTIONS: Final = frozenset({"log", "user_notif"})
"""Either lets Sentinel report violations instead of failing silently."""

SECCOMP = LayerJudge("seccomp", "layer")


def detect_seccomp(host: HostView) -> SeccompFacts:
    """Read seccomp's state from procfs and install a filter in a child process."""
    status = host.read("/proc/self/status") or ""
    match = re.search(r"^Seccomp:\s*(\d+)", status, re.MULTILINE)
    actions = (host.read("/proc/sys/kernel/seccomp/actions_avail") or "").split()
    return SeccompFacts(
        mode_field_present=match is not None,
        current_mode=int(match.group(1)) if match else None,
        actions_available=actions,
        filter_load=host.seccomp_probe(),
    )


def assess_seccomp(facts: SeccompFacts) -> LayerReport:
    """Judge seccomp."""
    if not facts.filter_load.ok:
        reason = f"a filter could not be installed: {facts.filter_load.detail}"
        if not facts.mode_field_present:
            reason = "the kernel was built without CONFIG_SECCOMP"
        return SECCOMP.unavailable(
            summary="no filters",
            reason=reason,
            fix="run a kernel built with CONFIG_SECCOMP_FILTER=y",
        )
    summary = "filters load; actions: " + (" ".join(facts.actions_available) or "unknown")
    missing = sorted(REQUIRED_ACTIONS - set(facts.actions_available))
    if facts.actions_available and missing:
        return SECCOMP.degraded(
            summary=summary,
            reason=f"return actions missing: {', '.join(missing)}",
            fix="run a kernel >= 4.14",
        )
    if facts.actions_available and not REPORTING_ACTIONS & set(facts.actions_available):
        return SECCOMP.degraded(
            summary=summary,
            reason="neither SECCOMP_RET_LOG nor USER_NOTIF: blocked syscalls cannot be reported",
            fix="run a kernel >= 5.0",
        )
    return SECCOMP.available(summary=summary)
