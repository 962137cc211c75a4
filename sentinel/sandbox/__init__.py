"""Per-agent sandboxes and the detection of what this host can enforce.

``detect()`` answers the first question a user asks: which layers (bubblewrap, Landlock,
seccomp, cgroups, network namespaces with nftables, Wasmtime) work here, and for each one
that does not, why and what would fix it.

The names below are imported on first use (PEP 562): launching a sandbox from a cached
detection does not load the detectors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentinel.sandbox.capabilities import (
        HostCapabilities,
        HostView,
        LayerReport,
        Verdict,
        detect,
    )

__all__ = ["HostCapabilities", "HostView", "LayerReport", "Verdict", "detect"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whatever the exported name is
    """Import an exported name from :mod:`sentinel.sandbox.capabilities` on first use."""
    if name in __all__:
        from sentinel.sandbox import capabilities  # noqa: PLC0415 - the point: lazily

        return getattr(capabilities, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
