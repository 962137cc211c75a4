"""Object stores written in Python (the reference encoding), with recorded snapshots.

Tests of what reads a store (restorability, the dashboard's time travel) need trees a
FUSE mount would not make (names that are not UTF-8, markup in names) and no root: this
writes the objects exactly as the native store lays them out (``objects/<2>/<62>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from sentinel.audit.store import AuditStore
from sentinel.cas.checkout import object_path
from sentinel.cas.reference import Entry, Kind, encode_tree, object_id
from sentinel.cas.workspace import WORKSPACE_STREAM

Link = tuple[str, bytes]
Tree = dict[bytes, Union[bytes, "Tree", Link]]
"""A name maps to a file's bytes, a directory, or ``("link", target)``."""


def put(objects: Path, kind: Kind, payload: bytes) -> str:
    """Store one object; its id."""
    ident = object_id(kind, payload)
    path = object_path(objects, ident)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return ident


def write_tree(objects: Path, tree: Tree) -> str:
    """Store ``tree`` and everything in it; its Merkle root."""
    (objects / "objects").mkdir(parents=True, exist_ok=True)
    entries: list[Entry] = []
    for name, item in tree.items():
        if isinstance(item, dict):
            entries.append(("dir", 0o755, 1000, 1000, name, write_tree(objects, item)))
        elif isinstance(item, tuple):
            entries.append(("link", 0o777, 1000, 1000, name, put(objects, "link", item[1])))
        else:
            entries.append(("file", 0o644, 1000, 1000, name, put(objects, "file", item)))
    return put(objects, "dir", encode_tree(entries))


def record(
    audit: AuditStore, agent_id: str, root: str, *, tick: int, reason: str = "commit"
) -> int:
    """Append a ``workspace.snapshot`` event as a run does; its position."""
    payload: dict[str, Any] = {
        "agent_id": agent_id,
        "root": root,
        "reason": reason,
        "tick": tick,
        "inodes": 1,
        "logical_bytes": 0,
        "stored_bytes": 0,
    }
    return audit.append(WORKSPACE_STREAM, "workspace.snapshot", payload, tick=tick).position
