"""Detect whether user namespaces can be created, as root and as an unprivileged user."""

from __future__ import annotations

from sentinel.sandbox import kernel_api
from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.model import LayerJudge, LayerReport, UserNamespaceFacts

USERNS = LayerJudge("userns", "prerequisite")


def detect_user_namespaces(host: HostView) -> UserNamespaceFacts:
    """Read the sysctls that gate user namespaces and try to create one for real."""
    unprivileged = host.unprivileged_ids()
    as_root = host.unshare_probe(kernel_api.CLONE_NEWUSER) if host.euid() == 0 else None
    return UserNamespaceFacts(
        max_user_namespaces=host.read_int("/proc/sys/user/max_user_namespaces"),
        unprivileged_userns_clone=host.read_int("/proc/sys/kernel/unprivileged_userns_clone"),
        apparmor_restrict_unprivileged_userns=host.read_int(
            "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
        ),
        as_root=as_root,
        as_unprivileged=host.unshare_probe(kernel_api.CLONE_NEWUSER, as_uid=unprivileged),
        unprivileged_uid=unprivileged[0],
    )


def _unprivileged_fix(facts: UserNamespaceFacts) -> str:
    if facts.max_user_namespaces == 0:
        return "sysctl -w user.max_user_namespaces=15000"
    if facts.unprivileged_userns_clone == 0:
        return "sysctl -w kernel.unprivileged_userns_clone=1"
    if facts.apparmor_restrict_unprivileged_userns == 1:
        return (
            "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 "
            "(or an AppArmor profile for bwrap)"
        )
    return "check the LSM or container runtime that refuses unshare(CLONE_NEWUSER)"


def assess_user_namespaces(facts: UserNamespaceFacts) -> LayerReport:
    """Judge user namespaces: needed by bwrap whenever Sentinel is not root."""
    root_ok = facts.as_root.ok if facts.as_root is not None else None
    unpriv_ok = facts.as_unprivileged.ok
    who = f"uid {facts.unprivileged_uid}"
    parts = []
    if root_ok is not None:
        parts.append(f"root: {'yes' if root_ok else 'no'}")
    parts.append(f"{who}: {'yes' if unpriv_ok else 'no'}")
    summary = ", ".join(parts)
    if unpriv_ok and root_ok in (True, None):
        return USERNS.available(summary=summary)
    if root_ok:
        return USERNS.degraded(
            summary=summary,
            reason=f"{who} cannot create user namespaces ({facts.as_unprivileged.detail}); "
            "Sentinel works as root but not when started by a normal user",
            fix=_unprivileged_fix(facts),
        )
    failed = facts.as_root if facts.as_root is not None else facts.as_unprivileged
    return USERNS.unavailable(
        summary=summary,
        reason=f"unshare(CLONE_NEWUSER) refused: {failed.detail}",
        fix=_unprivileged_fix(facts),
    )
