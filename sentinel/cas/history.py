"""The ``workspace.snapshot`` events of a run's audit store, read-only."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sentinel.audit.readonly import open_read_only
from sentinel.audit.store_reads import StoreReader
from sentinel.cas.workspace import WORKSPACE_STREAM


@dataclass(frozen=True)
class SnapshotRecord:
    """One recorded snapshot: where in the chain, whose, why, and its Merkle root."""

    position: int
    agent_id: str
    reason: str
    tick: int | None
    root: str
    inodes: int
    logical_bytes: int
    stored_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return asdict(self)


def list_snapshots(
    path: Path, *, agent_id: str | None = None, upto: int | None = None
) -> list[SnapshotRecord]:
    """Every ``workspace.snapshot`` of the store at ``path``, in order.

    Args:
        path: The audit store.
        agent_id: Only this agent's snapshots.
        upto: Only snapshots at this audit position or before (time travel).

    Raises:
        StoreCorruptError: No file at ``path``, or not a Sentinel audit store.
    """
    conn, _ = open_read_only(path)
    reader = StoreReader(path, conn)
    found = []
    try:
        end = None if upto is None else upto + 1
        for event in reader.read(stream=WORKSPACE_STREAM, end=end):
            payload = event.payload
            if event.type != "workspace.snapshot":
                continue
            if agent_id is not None and payload["agent_id"] != agent_id:
                continue
            found.append(
                SnapshotRecord(
                    position=event.position,
                    agent_id=str(payload["agent_id"]),
                    reason=str(payload["reason"]),
                    tick=payload.get("tick"),
                    root=str(payload["root"]),
                    inodes=int(payload["inodes"]),
                    logical_bytes=int(payload["logical_bytes"]),
                    stored_bytes=int(payload["stored_bytes"]),
                )
            )
    finally:
        reader.close()
    return found
