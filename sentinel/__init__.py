"""Sentinel: runtime governance for LLM agents.

Every agent runs in its own kernel-enforced sandbox, every action it takes lands in a
tamper-evident audit trail, and a governed gateway sits between agents and models.

Start with :func:`sentinel.sandbox.detect` to see what this host can enforce.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version

from sentinel import _native

DISTRIBUTION = "sentinel-governance"
"""The name this package is installed under (`pip show sentinel-governance`)."""

try:
    __version__: str = _distribution_version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree with only the extension built
    __version__ = _native.__version__

__all__ = ["DISTRIBUTION", "__version__"]
