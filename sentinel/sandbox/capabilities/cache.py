"""Detection once per boot: a root-owned cache of :func:`detect` keyed by what changes it.

Detection tries every kernel feature for real and takes about half a second; a one-shot
``sentinel-run sandbox exec`` would spend most of its time on it. Its answer only changes
when the host does, so root keeps it in :data:`CACHE_FILE` under a key of everything the
answer depends on and that can change without a reboot: the boot id and kernel release,
Sentinel's version and our euid, the sysctls and cgroup files the probes read, our own
cgroup, and each external tool the layers run (its path on ``PATH`` and its inode, size,
mode, owner and modification time, so an upgraded or replaced bwrap is a new key), the
wasmtime package, and where this Sentinel is installed. A changed key is a miss: detection
runs again and the file is replaced.

The file is trusted only if it could not have been written by anyone but root: it is opened
with ``O_NOFOLLOW`` below a root-owned directory that no one else may write (itself opened
with ``O_NOFOLLOW | O_DIRECTORY``), and must be a regular root-owned file of mode 0600 with
one link, whose SHA-256 digest of key and answer matches. Anything else is refused and
detection runs (the digest catches a torn or hand-edited file; the ownership checks keep a
non-root user from planting one). It is written atomically: a new file created with
``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600 in the same directory, fsynced, renamed
over the old one. A non-root launcher never reads or writes it and detects every time.
``sentinel-run doctor`` always detects afresh and rewrites the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import stat
import types
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import BaseModel

import sentinel
from sentinel.sandbox.capabilities.executables import find_executable
from sentinel.sandbox.capabilities.model import HostCapabilities

CACHE_DIR: Final = Path("/run/sentinel")
"""A tmpfs directory of root's (``/run`` is emptied at every boot; the key has the boot id)."""
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
M = TypeVar("M", bound=BaseModel)
MAX_CACHE_BYTES: Final = 1 << 20
"""Far more than a report takes (about 10 KiB); a larger file is refused unread."""


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
    }


def _digest(key: dict[str, Any], capabilities: dict[str, Any]) -> str:
    document = json.dumps({"key": key, "capabilities": capabilities}, sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()


def _open_directory(directory: Path, *, create: bool) -> int | None:
    """The cache directory as an fd, if it is root's alone (created 0700 when asked)."""
    if create:
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    info = os.fstat(fd)
    if info.st_uid != 0 or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        os.close(fd)
        return None
    return fd


def load_cached(key: dict[str, Any], path: Path = CACHE_FILE) -> HostCapabilities | None:
    """The cached answer for ``key``, or None when missing, stale, untrusted or tampered."""
    if os.geteuid() != 0:
        return None
    directory = _open_directory(path.parent, create=False)
    if directory is None:
        return None
    try:
        fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
    except OSError:
        return None
    finally:
        os.close(directory)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        trusted = (
            stat.S_ISREG(info.st_mode)
            and info.st_uid == 0
            and stat.S_IMODE(info.st_mode) == 0o600
            and info.st_nlink == 1
            and info.st_size <= MAX_CACHE_BYTES
        )
        if not trusted:
            return None
        raw = handle.read(MAX_CACHE_BYTES + 1)
    try:
        document = json.loads(raw)
        if document["key"] != key:
            return None
        if document["digest"] != _digest(document["key"], document["capabilities"]):
            return None
        return construct(HostCapabilities, document["capabilities"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def construct(model: type[M], data: dict[str, Any]) -> M:
    """``model.model_validate(data)`` without validation, for data that passed it once.

    The cache holds a validated report that root wrote and whose digest matches; building
    the validators of twenty models would cost a launch more than reading the file.
    A test pins this to ``model_validate`` on real and simulated reports.

    Raises:
        KeyError: A field is missing.
        TypeError, ValueError, AttributeError: The data does not have the model's shape.
    """
    fields = {
        name: _value(info.annotation, data[name])
        for name, info in model.model_fields.items()
        if name in data or info.is_required()
    }
    extra = set(data) - set(model.model_fields)
    if extra:
        raise KeyError(f"unknown fields {sorted(extra)}")
    return model.model_construct(**fields)


def _value(annotation: Any, value: Any) -> Any:  # noqa: ANN401 - any field's type and value
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(options) != 1:
            raise TypeError(f"cannot construct {annotation!r}")
        return _value(options[0], value)
    if origin is list:
        (item,) = typing.get_args(annotation)
        return [_value(item, element) for element in value]
    if origin is dict:
        _, item = typing.get_args(annotation)
        return {str(key): _value(item, element) for key, element in value.items()}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return construct(annotation, value)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation(value)
    return value


def store_cached(
    key: dict[str, Any], capabilities: HostCapabilities, path: Path = CACHE_FILE
) -> bool:
    """Write the cache atomically (root only); False when it could not be written safely."""
    if os.geteuid() != 0:
        return False
    directory = _open_directory(path.parent, create=True)
    if directory is None:
        return False
    answer = capabilities.model_dump(mode="json")
    data = json.dumps({"key": key, "capabilities": answer, "digest": _digest(key, answer)})
    temporary = f".{path.name}.{os.getpid()}.tmp"
    try:
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=directory,
        )
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask
            handle.write(data.encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temporary, path.name, src_dir_fd=directory, dst_dir_fd=directory)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=directory)
        return False
    finally:
        os.close(directory)
    return True


def cached_detect(
    detector: Callable[[], HostCapabilities] | None = None,
    *,
    path: Path = CACHE_FILE,
    refresh: bool = False,
) -> HostCapabilities:
    """``detector()``'s answer, from the cache when its key still matches this host.

    Args:
        detector: Runs the real detection (default :func:`sentinel.sandbox.detect`, imported
            only on a miss).
        path: The cache file (tests use their own).
        refresh: Detect even on a hit, and rewrite the cache (``doctor``).
    """
    key = cache_key()
    if not refresh:
        cached = load_cached(key, path)
        if cached is not None:
            return cached
    if detector is None:
        from sentinel.sandbox.capabilities.detection import detect  # noqa: PLC0415 - on a miss only

        detector = detect
    capabilities = detector()
    store_cached(key, capabilities, path)
    return capabilities


def detect_and_cache() -> HostCapabilities:
    """Detect afresh and rewrite the cache (as root): what ``sentinel-run doctor`` runs."""
    return cached_detect(refresh=True)
