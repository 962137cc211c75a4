"""Can the kernel probes load on this host, and if not, why: the facts, then a real load.

The verdict is never inferred from the facts alone: :func:`probe_status` opens a
:class:`~sentinel.probes.session.ProbeSession` (the same code a run uses), which loads and
attaches the programs and is closed at once. The facts (BTF, root, the native module) are
there to read the reason against.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from typing import Any

from sentinel.errors import ProbeUnavailable
from sentinel.probes import session as probe_session

STATUS_CAPACITY = 1
"""Records the status check's session may queue: it drains none, it only loads and closes."""


@dataclass(frozen=True)
class ProbeStatus:
    """Whether the kernel probes can load here.

    Attributes:
        available: The programs loaded and attached (and were detached again).
        kernel: The running kernel's release.
        btf: The kernel's BTF (``/sys/kernel/btf/vmlinux``) is present.
        root: This process runs as root (loading needs CAP_BPF and CAP_PERFMON).
        native: ``sentinel._native`` was built with the agent probe.
        programs: The programs that attached (empty when unavailable).
        reason: Why the probes are unavailable ("" when available).
        fix: What would make them available, if known.
    """

    available: bool
    kernel: str
    btf: bool
    root: bool
    native: bool
    programs: list[str] = field(default_factory=list)
    reason: str = ""
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The status as a JSON-ready dict."""
        return asdict(self)


def probe_status() -> ProbeStatus:
    """Try to load the kernel probes here, detach them at once, and say what happened.

    Returns:
        The facts and the verdict; never raises for a host that cannot load the probes.
    """
    from sentinel import _native  # noqa: PLC0415 - as the session imports it

    facts: dict[str, Any] = {
        "kernel": platform.release(),
        "btf": probe_session.BTF_PATH.exists(),
        "root": os.geteuid() == 0,
        "native": hasattr(_native, "AgentProbe"),
    }
    try:
        session = probe_session.ProbeSession(STATUS_CAPACITY, follow_sandboxes=False)
    except ProbeUnavailable as exc:
        return ProbeStatus(available=False, reason=exc.reason, fix=exc.fix, **facts)
    try:
        programs = session.programs
    finally:
        session.close()
    return ProbeStatus(available=True, programs=programs, **facts)
