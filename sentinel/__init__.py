"""Sentinel: runtime governance for LLM agents.

Every agent runs in its own kernel-enforced sandbox, every action it takes lands in a
tamper-evident audit trail, and a governed gateway sits between agents and models.

Start with :func:`sentinel.sandbox.detect` to see what this host can enforce.
"""

from typing import TYPE_CHECKING

from sentinel import _native

if TYPE_CHECKING:
    from sentinel.runs import Run

DISTRIBUTION = "sentinel-governance"
"""The name this package is installed under (`pip show sentinel-governance`)."""

__version__: str = _native.__version__
"""The distribution's version: its ``version`` is dynamic, taken from the native crate's
(``pyproject.toml``), so the extension's is the same string without reading the installed
metadata (importlib.metadata costs a CLI start tens of milliseconds)."""


def __getattr__(name: str) -> object:
    """``sentinel.Run``, imported on first use (pandas stays out of the CLI's start)."""
    if name == "Run":
        from sentinel.runs import Run  # noqa: PLC0415 - lazy on purpose

        return Run
    raise AttributeError(f"module 'sentinel' has no attribute {name!r}")


__all__ = ["DISTRIBUTION", "Run", "__version__"]
