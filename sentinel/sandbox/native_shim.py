"""The native Landlock shim, written once to disk from the extension.

Every cold sandbox executes it (about 1 ms, where the Python reference shim costs tens
of ms).

The executable is carried inside ``sentinel._native`` (compiled by the extension's build
script from ``native/sentinel-py/shim/sentinel_shim.rs``) and materialised under a
content-addressed name, so upgrades never run an old shim. The Python shim
(``shim/landlock_shim.py``) is its reference; tests pin both to the same decisions.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Final

from sentinel import _native

SHIM_IN_SANDBOX: Final = "/.sentinel-shim"
"""Where bwrap binds the executable inside the sandbox."""

_cached: Path | None = None


def _cache_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/sentinel/bin")
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sentinel" / "bin"


def shim_path() -> Path:
    """The shim executable on the host (written on first use, mode 0755)."""
    global _cached  # noqa: PLW0603 - materialised once per process
    if _cached is not None and _cached.exists():
        return _cached
    data = _native.shim_executable()
    directory = _cache_dir()
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    path = directory / f"sentinel-shim-{hashlib.sha256(data).hexdigest()[:16]}"
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".shim-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(temporary).chmod(0o755)
        Path(temporary).replace(path)  # atomic: concurrent writers produce the same bytes
    _cached = path
    return path


def shim_argv(
    executable: str, spec: dict[str, Any], argv: list[str], *, notify: tuple[int, int] | None = None
) -> list[str]:
    """The shim's command line for a Landlock spec (see ``SandboxLaunch.landlock_spec``).

    ``notify`` is ``(program fd, report fd)``: the shim then installs that seccomp program
    with a listener, answers refused calls with EPERM and reports them on the report fd.
    """
    rules: list[str] = []
    for kind, key in (("r", "read"), ("x", "exec"), ("w", "write")):
        for path in spec[key]:
            rules += [kind, path]
    for port in spec.get("connect_ports", ()):
        rules += ["p", str(port)]
    if notify is not None:
        rules += ["s", str(notify[0]), "o", str(notify[1])]
    return [executable, str(spec["abi"]), spec["cwd"], *rules, "--", *argv]
