"""Detect bubblewrap and judge whether it can build Sentinel's namespaces."""

from __future__ import annotations

import re
from typing import Final

from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.model import BwrapFacts, LayerJudge, LayerReport, Probe

REQUIRED_OPTIONS: Final = (
    "--unshare-all",
    "--die-with-parent",
    "--seccomp",
    "--info-fd",
    "--json-status-fd",
    "--clearenv",
    "--new-session",
)
"""Options the sandbox layer cannot work without (``--json-status-fd`` came in bwrap 0.5)."""
OPTIONAL_OPTIONS: Final = ("--disable-userns", "--as-pid-1", "--cap-drop")
"""Options that harden the sandbox when present (``--disable-userns`` came in 0.8)."""
INSTALL_FIX: Final = "apt-get install bubblewrap"

_SMOKE_ARGS: Final = (
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
    "--ro-bind",
    "/usr",
    "/usr",
    "--symlink",
    "usr/bin",
    "/bin",
    "--symlink",
    "usr/lib",
    "/lib",
    "--symlink",
    "usr/lib64",
    "/lib64",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",  # noqa: S108 - the sandbox's own private tmpfs, not the host's /tmp
    "/usr/bin/true",
)
"""A sandbox like the ones Sentinel builds: every namespace, /usr read-only, private /tmp."""

BWRAP = LayerJudge("bwrap", "layer")


def detect_bwrap(host: HostView) -> BwrapFacts:
    """Find bwrap, read its version and options, and run it once for real."""
    path = host.which("bwrap")
    if path is None:
        return BwrapFacts(path=None, version=None, setuid=False, options=[], smoke=None)
    version_out = host.run([path, "--version"])
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", version_out.stdout)
    help_out = host.run([path, "--help"])
    listed = set(re.findall(r"--[a-z0-9-]+", help_out.stdout + help_out.stderr))
    options = [opt for opt in (*REQUIRED_OPTIONS, *OPTIONAL_OPTIONS) if opt in listed]
    smoke_out = host.run([path, *_SMOKE_ARGS])
    smoke = Probe(ok=smoke_out.returncode == 0, errno=0, detail=smoke_out.stderr.strip()[:500])
    return BwrapFacts(
        path=path,
        version=match.group(1) if match else None,
        setuid=host.is_setuid(path),
        options=options,
        smoke=smoke,
    )


def assess_bwrap(facts: BwrapFacts) -> LayerReport:
    """Judge the bubblewrap layer."""
    if facts.path is None or facts.smoke is None:
        return BWRAP.unavailable(
            summary="not installed",
            reason="no bwrap executable on PATH or in the system bin directories",
            fix=INSTALL_FIX,
        )
    summary = f"{facts.version or 'unknown version'} at {facts.path}"
    if facts.setuid:
        summary += " (setuid)"
    if not facts.smoke.ok:
        return BWRAP.unavailable(
            summary=summary,
            reason=f"a test sandbox failed to start: {facts.smoke.detail or 'no error output'}",
            fix="see the user-namespace line: bwrap needs user namespaces when not run as root",
        )
    missing = [opt for opt in REQUIRED_OPTIONS if opt not in facts.options]
    if missing:
        return BWRAP.unavailable(
            summary=summary,
            reason=f"this bwrap lacks {', '.join(missing)} (Sentinel needs bubblewrap >= 0.5)",
            fix=f"{INSTALL_FIX} (a newer release)",
        )
    absent = [opt for opt in OPTIONAL_OPTIONS if opt not in facts.options]
    if absent:
        return BWRAP.degraded(
            summary=summary,
            reason=f"hardening options missing: {', '.join(absent)} (bubblewrap >= 0.8 has them)",
            fix=f"{INSTALL_FIX} (0.8 or newer)",
        )
    return BWRAP.available(summary=summary)
