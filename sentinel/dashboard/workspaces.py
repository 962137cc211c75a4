"""The dashboard's read-only view of a run's CAS workspaces: snapshots, trees, files.

Only roots the audit store records as ``workspace.snapshot`` are served: the page shows
what the chain commits to, not whatever else an object store directory holds. Each answer
is ``(HTTP status, JSON body)``; the application only sends it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from sentinel.cas.browse import NotInSnapshotError, check_root, read_file, snapshot_tree
from sentinel.cas.checkout import is_object_store
from sentinel.cas.history import SnapshotRecord, list_snapshots
from sentinel.errors import InvalidInputError, StoreCorruptError

MAX_LISTED: Final = 500
"""Snapshots listed per answer (the latest ones; a 2-hour run recorded 138)."""

Answer = tuple[int, dict[str, Any]]


class WorkspaceViews:
    """Answers for ``/api/workspaces``, ``/api/workspace`` and ``/api/workspace/file``.

    Args:
        store: The run's audit store.
        objects: The run's object store.
    """

    def __init__(self, store: Path, objects: Path) -> None:
        self.store = store
        self.objects = objects

    def _records(self, upto: int | None = None) -> list[SnapshotRecord]:
        if not self.store.is_file():
            return []  # a run about to start
        return list_snapshots(self.store, upto=upto)

    def snapshots(self, at: int | None) -> Answer:
        """The snapshots recorded at position ``at`` or before, and each agent's latest."""
        try:
            found = self._records(at)
        except StoreCorruptError as exc:
            return 409, {"error": str(exc)}
        latest: dict[str, dict[str, Any]] = {}
        for record in found:
            latest[record.agent_id] = record.to_dict()
        return 200, {
            "at": at,
            "objects": str(self.objects),
            "available": is_object_store(self.objects),
            "total": len(found),
            "snapshots": [record.to_dict() for record in found[-MAX_LISTED:]],
            "latest": [latest[agent] for agent in sorted(latest)],
        }

    def _recorded(self, root: str) -> Answer | None:
        """None when ``root`` is a recorded snapshot, else the refusal."""
        try:
            check_root(root)
            recorded = {record.root for record in self._records()}
        except InvalidInputError as exc:
            return 400, {"error": str(exc)}
        except StoreCorruptError as exc:
            return 409, {"error": str(exc)}
        if root not in recorded:
            return 404, {"error": f"{root[:16]} is not a snapshot recorded in {self.store}"}
        return None

    def tree(self, root: str) -> Answer:
        """The tree of recorded snapshot ``root``."""
        refused = self._recorded(root)
        if refused is not None:
            return refused
        try:
            entries, truncated = snapshot_tree(self.objects, root)
        except StoreCorruptError as exc:
            return 409, {"error": str(exc)}
        return 200, {
            "root": root,
            "entries": [entry.to_dict() for entry in entries],
            "truncated": truncated,
        }

    def file(self, root: str, path: str) -> Answer:
        """One file or link of recorded snapshot ``root``."""
        refused = self._recorded(root)
        if refused is not None:
            return refused
        try:
            view = read_file(self.objects, root, path)
        except NotInSnapshotError as exc:
            return 404, {"error": str(exc)}
        except InvalidInputError as exc:
            return 400, {"error": str(exc)}
        except StoreCorruptError as exc:
            return 409, {"error": str(exc)}
        return 200, view.to_dict()
