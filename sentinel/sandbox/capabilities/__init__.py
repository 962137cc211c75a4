"""What this host can enforce: detection of every kernel feature the sandbox layers use.

The report types load at once; the detectors (``detect``, ``HostView``) on first use, so a
launch that reads a cached detection (:mod:`~sentinel.sandbox.capabilities.cache`) does not
import them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentinel.sandbox.capabilities.model import HostCapabilities, LayerReport, Verdict

if TYPE_CHECKING:
    from sentinel.sandbox.capabilities.detection import detect
    from sentinel.sandbox.capabilities.host import HostView

__all__ = ["HostCapabilities", "HostView", "LayerReport", "Verdict", "detect"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - a function or a class
    """Import ``detect`` or ``HostView`` on first use."""
    if name == "detect":
        from sentinel.sandbox.capabilities.detection import detect  # noqa: PLC0415

        return detect
    if name == "HostView":
        from sentinel.sandbox.capabilities.host import HostView  # noqa: PLC0415

        return HostView
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
