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

The file is trusted only if it could not have been written by anyone but root (see
:mod:`sentinel.sandbox.root_cache`, which reads and writes it): it is opened
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

import hashlib
import json
import types
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import BaseModel

from sentinel.sandbox.capabilities.cache_key import CACHE_FILE, cache_key
from sentinel.sandbox.capabilities.model import HostCapabilities
from sentinel.sandbox.root_cache import read_root_file, write_root_file

__all__ = ["CACHE_FILE", "cache_key", "cached_detect", "construct", "load_cached", "store_cached"]

M = TypeVar("M", bound=BaseModel)
MAX_CACHE_BYTES: Final = 1 << 20
"""Far more than a report takes (about 10 KiB); a larger file is refused unread."""


def _digest(key: dict[str, Any], capabilities: dict[str, Any]) -> str:
    document = json.dumps({"key": key, "capabilities": capabilities}, sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()


def load_cached(key: dict[str, Any], path: Path = CACHE_FILE) -> HostCapabilities | None:
    """The cached answer for ``key``, or None when missing, stale, untrusted or tampered."""
    raw = read_root_file(path, MAX_CACHE_BYTES)
    if raw is None:
        return None
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
    answer = capabilities.model_dump(mode="json")
    data = json.dumps({"key": key, "capabilities": answer, "digest": _digest(key, answer)})
    return write_root_file(path, data.encode())


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
