"""Where detection finds the external programs the layers run (bwrap, nft, ip, ...).

Kept apart from :mod:`~sentinel.sandbox.capabilities.host` so that the detection cache can
key on the same lookup without importing the detectors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

SYSTEM_BIN_DIRS: Final = (
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
)
"""Searched after $PATH: root's tools (nft, ip) live in sbin, which a user's PATH may lack."""


def find_executable(name: str, root: Path = Path("/")) -> str | None:
    """Find an executable on $PATH, then in the system bin directories, below ``root``."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    for directory in (*dirs, *SYSTEM_BIN_DIRS):
        candidate = root / directory.lstrip("/") / name
        try:
            found = candidate.is_file() and os.access(candidate, os.X_OK)
        except OSError:  # a PATH entry this user may not search (e.g. under /root)
            continue
        if found:
            return str(Path(directory) / name)
    return None
