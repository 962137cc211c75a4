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
    # os.path rather than Path objects: the launch cache's key looks up six tools on every
    # ``sandbox exec`` (0.7-2 ms of CPU with pathlib on the loaded machine). isfile is
    # False for any OSError, as for a PATH entry this user may not search (under /root).
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    base = str(root)
    for directory in (*dirs, *SYSTEM_BIN_DIRS):
        candidate = os.path.join(base, directory.lstrip("/"), name)  # noqa: PTH118 - see above
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):  # noqa: PTH113
            return str(Path(directory) / name)  # as it always said (one Path per lookup)
    return None
