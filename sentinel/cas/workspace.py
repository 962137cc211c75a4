"""Mounting content-addressed workspaces, and recording their snapshots in the audit trail.

A :class:`CasStore` is one run's object store (a root-only directory); every agent's
:class:`CasWorkspace` mounts on it, so a file two agents write is stored once. A
workspace mounts ``allow_other,default_permissions,nosuid,nodev,noexec``: the agent's
uid reaches it and the kernel checks modes and owners as on ext4; nothing on it runs.

Each snapshot is a Merkle root (:mod:`sentinel.cas.reference` defines it) and is recorded
as a ``workspace.snapshot`` event on stream :data:`WORKSPACE_STREAM` when an audit store
is given; :meth:`CasWorkspace.restore` brings any recorded snapshot back.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from sentinel import _native
from sentinel.errors import InvalidInputError, SandboxError
from sentinel.sandbox import leftovers

if TYPE_CHECKING:
    from types import TracebackType

    from sentinel.audit.store import AuditStore

WORKSPACE_STREAM: Final = "workspace"
"""The audit stream ``workspace.snapshot`` events go to (replay of the world ignores it)."""

SnapshotReason = Literal["commit", "tick", "manual", "end"]
"""Why a snapshot was taken: an agent's commit, a tick boundary, by hand, the run's end."""

_ROOT_ID = re.compile(r"[0-9a-f]{64}")

_mounted: weakref.WeakSet[CasWorkspace] = weakref.WeakSet()


@atexit.register
def _unmount_at_exit() -> None:  # a FUSE mount outliving its daemon answers ENOTCONN
    for workspace in list(_mounted):
        with contextlib.suppress(SandboxError):
            workspace.close()


@dataclass(frozen=True)
class DedupStats:
    """What the object store saved, over every workspace mounted on it."""

    logical_bytes: int
    """Bytes of file contents committed (each commit of each workspace counted)."""
    stored_bytes: int
    """Bytes of file contents the store wrote (each distinct content once)."""
    dedup_hits: int
    """Commits whose contents the store already held."""
    objects_written: int
    """Objects written: file contents, links and directory trees."""

    @property
    def ratio(self) -> float:
        """``logical_bytes / stored_bytes`` (1.0 before anything is stored)."""
        return self.logical_bytes / self.stored_bytes if self.stored_bytes else 1.0


class CasStore:
    """One run's object store, shared by the workspaces mounted on it.

    Args:
        path: A directory only root reaches (created mode 0700 with ``objects/`` and
            ``tmp/``); objects are files named by their SHA-256 id only.

    Raises:
        OSError: The directory cannot be created or opened.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.native = _native.CasStore(path)

    def stats(self) -> DedupStats:
        """The store's counters since it was opened in this process."""
        return DedupStats(*self.native.stats())

    def get(self, ident: str) -> bytes:
        """The payload of object ``ident`` (hex).

        Raises:
            InvalidInputError: ``ident`` is not 64 hex digits.
            OSError: The store does not hold it.
        """
        _check_root(ident)
        return self.native.get(ident)


def _check_root(root: str) -> None:
    if not _ROOT_ID.fullmatch(root):
        raise InvalidInputError(f"snapshot root {root!r} is not 64 lower-case hex digits")


class CasWorkspace:
    """A content-addressed workspace mounted on ``mountpoint`` (an empty directory).

    Use as a context manager, or call :meth:`close`; a workspace still mounted when the
    process exits is unmounted then.

    Args:
        store: The run's object store.
        mountpoint: An existing empty directory.
        uid: Owner of the root directory (the agent's uid).
        gid: Its group.
        mode: The root directory's permission bits.
        agent_id: Who the workspace belongs to (recorded with each snapshot).
        audit: Where snapshots are recorded (none: not recorded).
        linger_us: How long the request thread spins after each reply for the next
            request before it blocks (none: the native default, 50 us; 0: never spins).
            Each spin costs at most this much CPU and saves the wake of a halted vCPU
            when the caller's next request comes within it (:meth:`linger_stats`).

    Raises:
        SandboxError: The file system cannot be mounted (no /dev/fuse, not root, the
            mount point is missing or busy).
    """

    def __init__(
        self,
        store: CasStore,
        mountpoint: Path,
        *,
        uid: int = 0,
        gid: int = 0,
        mode: int = 0o755,
        agent_id: str = "",
        audit: AuditStore | None = None,
        linger_us: int | None = None,
    ) -> None:
        self.store = store
        self.mountpoint = mountpoint
        self.agent_id = agent_id
        self.audit = audit
        self.last_root: str | None = None
        """The root of the latest snapshot or restore."""
        leftovers.take("mount", mountpoint)
        try:
            extra = {} if linger_us is None else {"linger_us": linger_us}
            self._native: _native.CasMount | None = _native.CasMount(
                store.native, mountpoint, uid, gid, mode, **extra
            )
        except (OSError, ValueError) as exc:
            leftovers.give_back("mount", mountpoint)
            raise SandboxError(f"cannot mount a CAS workspace on {mountpoint}: {exc}") from None
        _mounted.add(self)

    def _mount(self) -> _native.CasMount:
        if self._native is None:
            raise SandboxError(f"the CAS workspace on {self.mountpoint} is unmounted")
        return self._native

    def snapshot(
        self,
        reason: SnapshotReason = "manual",
        *,
        tick: int | None = None,
        only_if_changed: bool = False,
    ) -> str:
        """Commit every file and store the tree; returns the Merkle root (hex).

        With an audit store, appends a ``workspace.snapshot`` event first-class in the
        chain (stream :data:`WORKSPACE_STREAM`); with ``only_if_changed``, only when the
        root differs from this workspace's previous snapshot or restore.

        Raises:
            SandboxError: The workspace is unmounted or the store cannot be written.
        """
        try:
            root = self._mount().snapshot()
        except OSError as exc:
            raise SandboxError(f"snapshot of {self.mountpoint} failed: {exc}") from None
        unchanged = root == self.last_root
        self.last_root = root
        if self.audit is not None and not (only_if_changed and unchanged):
            stats = self.store.stats()
            payload = {
                "agent_id": self.agent_id,
                "root": root,
                "reason": reason,
                "tick": tick,
                "inodes": self._mount().inodes(),
                "logical_bytes": stats.logical_bytes,
                "stored_bytes": stats.stored_bytes,
            }
            self.audit.append(WORKSPACE_STREAM, "workspace.snapshot", payload, tick=tick)
        return root

    def restore(self, root: str) -> None:
        """Make the workspace the tree of snapshot ``root`` (files open now stay readable).

        Raises:
            InvalidInputError: ``root`` is not a snapshot id, or the store lacks part of it.
            SandboxError: The workspace is unmounted.
        """
        _check_root(root)
        try:
            self._mount().restore(root)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        self.last_root = root

    def linger_stats(self) -> tuple[int, int, int, int]:
        """The request thread's spins after replies so far.

        Returns ``(spins, hits, spun_ns, cpu_ns)``: ``hits`` the spins the next request
        ended, ``spun_ns`` their wall time (with the time other tasks ran while the spin
        yielded), ``cpu_ns`` the CPU they used.
        """
        return self._mount().linger_stats()

    def inodes(self) -> int:
        """Files, directories and links in the workspace now (the root included)."""
        return self._mount().inodes()

    def close(self) -> None:
        """Unmount (idempotent).

        Raises:
            SandboxError: The kernel refused the unmount (the workspace is busy).
        """
        mount, self._native = self._native, None
        if mount is None:
            return
        _mounted.discard(self)
        try:
            mount.unmount()
        except OSError as exc:
            if os.path.ismount(self.mountpoint):
                raise SandboxError(f"cannot unmount {self.mountpoint}: {exc}") from None
        leftovers.give_back("mount", self.mountpoint)

    def __enter__(self) -> CasWorkspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
