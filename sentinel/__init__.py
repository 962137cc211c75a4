"""Sentinel: runtime governance for LLM agents.

Every agent runs in its own kernel-enforced sandbox, every action it takes lands in a
tamper-evident audit trail, and a governed gateway sits between agents and models.

Start with :func:`sentinel.sandbox.detect` to see what this host can enforce.
"""

from sentinel import _native

DISTRIBUTION = "sentinel-governance"
"""The name this package is installed under (`pip show sentinel-governance`)."""

__version__: str = _native.__version__
"""The distribution's version: its ``version`` is dynamic, taken from the native crate's
(``pyproject.toml``), so the extension's is the same string without reading the installed
metadata (importlib.metadata costs a CLI start tens of milliseconds)."""

__all__ = ["DISTRIBUTION", "__version__"]
