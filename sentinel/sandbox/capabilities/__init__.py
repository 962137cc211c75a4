"""What this host can enforce: detection of every kernel feature the sandbox layers use."""

from sentinel.sandbox.capabilities.detect import detect
from sentinel.sandbox.capabilities.host import HostView
from sentinel.sandbox.capabilities.model import HostCapabilities, LayerReport, Verdict

__all__ = ["HostCapabilities", "HostView", "LayerReport", "Verdict", "detect"]
