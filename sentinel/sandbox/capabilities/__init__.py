"""What this host can enforce: detection of every kernel feature the sandbox layers use.

Every name loads on first use (PEP 562): the report types are pydantic models, and a launch
from root's launch cache (:mod:`sentinel.sandbox.launch_cache`) imports neither them nor
the detectors, only this package's pydantic-free modules (the cache key, the executables).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentinel.sandbox.capabilities.detection import detect
    from sentinel.sandbox.capabilities.host import HostView
    from sentinel.sandbox.capabilities.model import HostCapabilities, LayerReport, Verdict

__all__ = ["HostCapabilities", "HostView", "LayerReport", "Verdict", "detect"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - a function or a class
    """Import an exported name on first use."""
    if name == "detect":
        from sentinel.sandbox.capabilities.detection import detect  # noqa: PLC0415

        return detect
    if name == "HostView":
        from sentinel.sandbox.capabilities.host import HostView  # noqa: PLC0415

        return HostView
    if name in ("HostCapabilities", "LayerReport", "Verdict"):
        from sentinel.sandbox.capabilities import model  # noqa: PLC0415

        return getattr(model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
