"""Every agent's content-addressed workspace of one run, on one object store.

``sentinel-run run --workspace-fs cas`` mounts each agent's workspace from this when its
first sandbox is built, snapshots it after each command that ran ``git commit`` and
succeeded, every mounted workspace at each tick boundary (recorded only when its root
changed) and when the agent goes off duty, and reports the store's
dedup ratio in the run's summary. The object store outlives the run, next to the audit
store (``<store>.cas``), so every recorded snapshot stays restorable.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinel.cas.workspace import CasStore, CasWorkspace, SnapshotReason
from sentinel.errors import SandboxError

if TYPE_CHECKING:
    from sentinel.audit.store import AuditStore


def objects_beside(store: Path) -> Path:
    """Where a run's object store lives: next to its audit store, ``<store>.cas``."""
    return store.with_name(f"{store.name}.cas")


def open_run_workspaces(fs: str, store: Path, audit: AuditStore) -> RunWorkspaces | None:
    """The run's CAS workspaces when ``fs`` is ``cas`` (objects beside ``store``), else None."""
    return RunWorkspaces(objects_beside(store), audit) if fs == "cas" else None


def workspaces_report(workspaces: RunWorkspaces | None) -> dict[str, Any]:
    """The summary's ``workspaces`` entry (``{"fs": "ext4"}`` without CAS workspaces)."""
    return {"fs": "ext4"} if workspaces is None else workspaces.report()


class RunWorkspaces:
    """The agents' CAS workspaces of one run.

    Args:
        objects: The run's object store directory.
        audit: Where ``workspace.snapshot`` events go.
    """

    def __init__(self, objects: Path, audit: AuditStore) -> None:
        self.store = CasStore(objects)
        self.audit = audit
        self._mounted: dict[str, CasWorkspace] = {}
        self._last: dict[str, str] = {}
        self.recorded = 0

    def ensure(self, agent_id: str, workspace: Path) -> None:
        """Mount the agent's workspace unless it is mounted (with its latest snapshot).

        Raises:
            SandboxError: The workspace cannot be mounted.
        """
        if agent_id in self._mounted:
            return
        workspace.mkdir(parents=True, exist_ok=True)
        mount = CasWorkspace(self.store, workspace, agent_id=agent_id, audit=self.audit)
        self._mounted[agent_id] = mount
        last = self._last.get(agent_id)
        if last is not None:  # back on duty: its workspace as it left it
            mount.restore(last)

    def _snapshot(self, agent_id: str, reason: SnapshotReason, tick: int | None) -> None:
        mount = self._mounted[agent_id]
        before = mount.last_root
        root = mount.snapshot(reason, tick=tick, only_if_changed=reason == "tick")
        self.recorded += int(reason != "tick" or root != before)
        self._last[agent_id] = root

    def commit(self, agent_id: str, tick: int | None) -> None:
        """Record the agent's workspace after a commit (reason ``commit``), if mounted."""
        if agent_id in self._mounted:
            self._snapshot(agent_id, "commit", tick)

    def at_tick(self, tick: int) -> None:
        """Snapshot every mounted workspace (recorded when its root changed)."""
        for agent_id in sorted(self._mounted):
            self._snapshot(agent_id, "tick", tick)

    def stop(self, agent_id: str, tick: int | None = None) -> None:
        """Record the agent's workspace (reason ``end``) and unmount it."""
        mount = self._mounted.get(agent_id)
        if mount is None:
            return
        try:
            self._snapshot(agent_id, "end", tick)
        finally:
            del self._mounted[agent_id]
            mount.close()

    def close(self) -> None:
        """Stop every workspace still mounted (unmounting all, even after an error)."""
        errors = []
        for agent_id in sorted(self._mounted):
            try:
                self.stop(agent_id)
            except SandboxError as exc:
                errors.append(str(exc))
        if errors:
            raise SandboxError("; ".join(errors))

    def report(self) -> dict[str, Any]:
        """The summary's ``workspaces`` entry: the store, snapshots recorded, dedup ratio."""
        stats = self.store.stats()
        return {
            "fs": "cas",
            "objects": str(self.store.path),
            "agents": len(self._last),
            "snapshots": self.recorded,
            "logical_bytes": stats.logical_bytes,
            "stored_bytes": stats.stored_bytes,
            "dedup_hits": stats.dedup_hits,
            "dedup_ratio": round(stats.ratio, 3),
        }
