"""Compiled launches: a validated policy and the host facts a launch reads, cached by root.

A one-shot ``sentinel-run sandbox exec`` used to spend most of its start importing pydantic
and building the policy's validators, to validate a file that had not changed since the
last call. Root keeps the answer instead: after a full pydantic validation of the policy
file's bytes, the :class:`~sentinel.sandbox.compiled_policy.CompiledPolicy` and the
:class:`~sentinel.sandbox.launch_facts.LaunchFacts` of the host detection are written to a
file in root's cache directory (see :mod:`sentinel.sandbox.root_cache` for how such a file
is written and when it is trusted). The next launch with the same policy reads them back
without importing pydantic, the policy models or the detectors.

An entry is used only when its key matches: the SHA-256 of the policy file's bytes read for
this launch (the very bytes then validated on a miss: no window between hash and parse),
this file format, and the detection cache's key (Sentinel's version and installation, the
boot id and kernel, the sysctls, the external tools' identities, our euid: see
:mod:`sentinel.sandbox.capabilities.cache_key`); and when the SHA-256 digest over key and
answer matches. Anything else is a miss: validate, detect (or read the detection cache),
rewrite. One file per policy path, so the directory holds one entry per policy used.

A validated policy resolves host paths through their symbolic links (``/var/run`` is
``/run``); an entry keeps that resolution until the policy file, the host's tools or the
boot change. A root who moves such a link runs ``sentinel-run doctor`` (which rewrites the
detection cache, and so changes every entry's key) or edits the policy.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Final

from sentinel.frozen_record import FrozenRecord
from sentinel.sandbox.capabilities.cache_key import PACKAGE_DIR, cache_key
from sentinel.sandbox.compiled_policy import CompiledPolicy, compile_policy, from_json, to_json
from sentinel.sandbox.launch_facts import LaunchFacts, facts_from_json, facts_to_json, launch_facts
from sentinel.sandbox.root_cache import CACHE_DIR, read_root_file, write_root_file

FORMAT: Final = 1
"""Bumped when an entry's layout changes."""
__all__ = [
    "CompiledLaunch",
    "cache_key",
    "compiled_launch",
    "entry_key",
    "entry_path",
    "load_entry",
    "store_entry",
]

MAX_ENTRY_BYTES: Final = 1 << 20
"""Far more than an entry takes (a few KiB); a larger file is refused unread."""


class CompiledLaunch(FrozenRecord):
    """What a launch needs that does not change between calls: the policy and host facts."""

    policy: CompiledPolicy
    facts: LaunchFacts


def entry_path(policy_file: Path, directory: Path = CACHE_DIR) -> Path:
    """Where the entry of ``policy_file`` (and of this installation) lives."""
    name = f"{PACKAGE_DIR}\0{os.path.realpath(policy_file)}"
    return directory / f"launch-{hashlib.sha256(name.encode()).hexdigest()[:24]}.json"


def entry_key(content: bytes) -> dict[str, Any]:
    """The key an entry for a policy file holding ``content`` must carry."""
    return {
        "format": FORMAT,
        "policy_sha256": hashlib.sha256(content).hexdigest(),
        "host": cache_key(),
    }


def _digest(key: dict[str, Any], answer: dict[str, Any]) -> str:
    document = json.dumps({"key": key, "answer": answer}, sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()


def load_entry(key: dict[str, Any], path: Path) -> CompiledLaunch | None:
    """The entry at ``path`` for ``key``; None when missing, stale, untrusted or tampered."""
    raw = read_root_file(path, MAX_ENTRY_BYTES)
    if raw is None:
        return None
    try:
        document = json.loads(raw)
        if document["key"] != key or document["digest"] != _digest(key, document["answer"]):
            return None
        answer = document["answer"]
        return CompiledLaunch(from_json(answer["policy"]), facts_from_json(answer["facts"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def store_entry(key: dict[str, Any], path: Path, *, launch: CompiledLaunch) -> bool:
    """Write the entry (root only); False when it could not be written safely."""
    answer = {"policy": to_json(launch.policy), "facts": facts_to_json(launch.facts)}
    document = {"key": key, "answer": answer, "digest": _digest(key, answer)}
    return write_root_file(path, json.dumps(document).encode())


def compiled_launch(policy_file: Path, directory: Path = CACHE_DIR) -> CompiledLaunch:
    """The policy in ``policy_file`` and this host's launch facts, from root's cache if fresh.

    On a miss (and always for a non-root caller) the file's bytes are validated by
    :class:`~sentinel.sandbox.policy.SandboxPolicy` and the host's detection is read (from
    its own cache or detected); root then writes the entry.

    Raises:
        PolicyError: The file is unreadable or invalid (names the file and field).
    """
    try:
        content: bytes | None = policy_file.read_bytes()
    except OSError:
        content = None  # the validator below names the file and the reason
    entry = None
    if content is not None and os.geteuid() == 0:
        entry = (entry_key(content), entry_path(policy_file, directory))
        cached = load_entry(*entry)
        if cached is not None:
            return cached
    # A miss: pydantic, the policy models and the detection load only here.
    from sentinel.sandbox.launch import host_capabilities  # noqa: PLC0415
    from sentinel.sandbox.policy import SandboxPolicy  # noqa: PLC0415

    policy = SandboxPolicy.from_toml(policy_file, content=content)
    launch = CompiledLaunch(compile_policy(policy), launch_facts(host_capabilities()))
    if entry is not None:
        store_entry(*entry, launch=launch)
    return launch
