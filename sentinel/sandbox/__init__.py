"""Per-agent sandboxes and the detection of what this host can enforce.

``detect()`` answers the first question a user asks: which layers (bubblewrap, Landlock,
seccomp, cgroups, network namespaces with nftables, Wasmtime) work here, and for each one
that does not, why and what would fix it.
"""

from sentinel.sandbox.capabilities import HostCapabilities, HostView, LayerReport, Verdict, detect

__all__ = ["HostCapabilities", "HostView", "LayerReport", "Verdict", "detect"]
