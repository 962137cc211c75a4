"""What the host detection depends on: the key of root's per-boot detection cache.

Kept apart from :mod:`~sentinel.sandbox.capabilities.cache` (which builds pydantic models)
so that the launch cache (:mod:`sentinel.sandbox.launch_cache`) can key on it cheaply.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any, Final

import sentinel
from sentinel.sandbox.capabilities.executables import find_executable
from sentinel.sandbox.root_cache import CACHE_DIR

PACKAGE_DIR: Final = str(Path(sentinel.__file__).resolve().parent)
CACHE_FILE: Final = (
    CACHE_DIR / f"host-capabilities-{hashlib.sha256(PACKAGE_DIR.encode()).hexdigest()[:12]}.json"
)
"""One file per installation (two checkouts of Sentinel on one host do not share one)."""
FORMAT: Final = 1
"""Bumped when the file's layout changes."""
KEY_FILES: Final = (
    "/proc/sys/kernel/random/boot_id",
    "/proc/sys/kernel/osrelease",
    "/proc/sys/kernel/unprivileged_userns_clone",
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    "/proc/sys/user/max_user_namespaces",
    "/proc/sys/kernel/unprivileged_bpf_disabled",
    "/proc/sys/kernel/seccomp/actions_avail",
    "/proc/self/cgroup",
    "/sys/fs/cgroup/cgroup.controllers",
    "/sys/fs/cgroup/cgroup.subtree_control",
    "/sys/kernel/security/lsm",
)
"""Files whose content the probes' answers depend on (see the detectors)."""
KEY_TOOLS: Final = ("bwrap", "nft", "ip", "fusermount3", "mkfs.ext4", "mount")
"""External programs the detectors look up on ``PATH`` and run."""


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:  # noqa: PTH123 - small kernel files, read whole
            return handle.read(65536).decode(errors="replace")
    except OSError:
        return None


def _file_identity(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        info = Path(path).stat()
    except OSError:
        return None
    return (
        f"{path}:{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:"
        f"{info.st_mode:o}:{info.st_uid}"
    )


def cache_key() -> dict[str, Any]:
    """Everything the detection's answer depends on that can change without a reboot."""
    spec = importlib.util.find_spec("wasmtime")
    wasmtime_dir = str(Path(spec.origin).parent) if spec is not None and spec.origin else None
    return {
        "format": FORMAT,
        "sentinel": sentinel.__version__,
        "package": PACKAGE_DIR,
        "euid": os.geteuid(),
        "files": {path: _read(path) for path in KEY_FILES},
        "tools": {name: _file_identity(find_executable(name)) for name in KEY_TOOLS},
        "wasmtime": _file_identity(wasmtime_dir),
        # Another mount namespace sees other mounts (``ip netns exec`` remounts /sys and
        # hides the cgroup hierarchy): its answer must not be served to this one.
        "mount_namespace": _mount_namespace(),
    }


def _mount_namespace() -> str | None:
    try:
        return str(Path("/proc/self/ns/mnt").readlink())
    except OSError:
        return None
