"""A recorded run of two agents' CAS workspaces, written in Python, for the dashboard tests.

AGENT-01's workspace is snapshotted twice (``notes.txt`` changes in between); its tree
holds what a hostile agent would plant: markup in names and contents, a name that is not
UTF-8, a binary file, a file larger than the page shows, a link out of the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentinel.audit.store import AuditStore
from sentinel.cas.browse import MAX_SHOWN_BYTES
from tests.cas.object_store import Tree, record, write_tree

HOSTILE_NAME = '<img src=x onerror="window.sentinelPwned=1">.md'
HOSTILE_TEXT = "<script>window.sentinelPwned = 2</script>\n"
BINARY = bytes(range(256)) * 20  # over MAX_HEX_BYTES: the hex is cut
LARGE = "é" * MAX_SHOWN_BYTES  # 2 bytes each: the shown prefix ends on a character boundary


@dataclass(frozen=True)
class WorkspaceRun:
    store: Path
    objects: Path
    first: str
    second: str
    other: str
    positions: list[int]
    """Of the three snapshots: AGENT-01 first, AGENT-02, AGENT-01 second."""


def tree(notes: bytes) -> Tree:
    """AGENT-01's workspace with ``notes.txt`` holding ``notes``."""
    return {
        b"notes.txt": notes,
        b"src": {
            HOSTILE_NAME.encode(): HOSTILE_TEXT.encode(),
            b"blob.bin": BINARY,
            b"large.txt": LARGE.encode(),
            b"caf\xe9.txt": b"latin-1 name\n",
            b"out": ("link", b"../../../etc/passwd"),
        },
    }


def workspace_run(directory: Path) -> WorkspaceRun:
    """Write the objects and the audit store into ``directory``."""
    store = directory / "run.db"
    objects = directory / "run.db.cas"
    first = write_tree(objects, tree(b"version one\n"))
    second = write_tree(objects, tree(b"version two\n"))
    other = write_tree(objects, {b"README": b"agent two\n"})
    with AuditStore(store) as audit:
        audit.append("runtime", "runtime.note", {})
        positions = [
            record(audit, "AGENT-01", first, tick=1),
            record(audit, "AGENT-02", other, tick=2, reason="end"),
        ]
        audit.append("runtime", "runtime.note", {})
        positions.append(record(audit, "AGENT-01", second, tick=3))
        audit.append("runtime", "runtime.note", {})
    return WorkspaceRun(store, objects, first, second, other, positions)
