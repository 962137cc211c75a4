"""Whether every recorded snapshot of a run can be rebuilt from the run's object store.

A ``workspace.snapshot`` event records a Merkle root; the evidence is only as good as the
objects behind it. :func:`check_restorable` walks every recorded root through the object
store and recomputes it bottom-up: each file and link object must be present and hash to
its id, each tree must decode, and its id is recomputed from the ids recomputed for its
entries (:mod:`sentinel.cas.reference`), up to the root, which must equal the recorded
one. Objects shared between snapshots (the usual case: dedup) are read once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sentinel.cas.checkout import decode_tree, is_object_store, object_path
from sentinel.cas.history import SnapshotRecord, list_snapshots
from sentinel.cas.reference import MAX_DEPTH, Entry, Kind, encode_tree, object_id
from sentinel.errors import StoreCorruptError

MAX_PROBLEMS_PER_SNAPSHOT: Final = 3
"""Problems named per snapshot; the rest are counted (one altered blob shared by every
snapshot would otherwise repeat the same lines hundreds of times)."""

_ROOT_ID: Final = re.compile(r"[0-9a-f]{64}")

Problem = tuple[str, str]
"""``(path inside the snapshot, what is wrong)``."""


@dataclass(frozen=True)
class RestorableReport:
    """The outcome of :func:`check_restorable`."""

    objects_dir: str
    snapshots: int
    """Recorded snapshots checked."""
    roots: int
    """Distinct Merkle roots among them."""
    objects: int
    """Distinct objects read and hashed."""
    differences: list[str] = field(default_factory=list)
    """One line per snapshot that cannot be rebuilt, naming where and what."""

    @property
    def ok(self) -> bool:
        """Every recorded snapshot rebuilds to its recorded root."""
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**self.__dict__, "ok": self.ok}


class _Rebuilder:
    """Recomputes roots from one object store, remembering what it has read."""

    def __init__(self, objects: Path) -> None:
        self.objects = objects
        self.read = 0
        self._blobs: dict[tuple[Kind, str], tuple[str | None, list[Problem]]] = {}
        self._trees: dict[str, tuple[str | None, list[Problem]]] = {}

    def _load(self, kind: Kind, ident: str) -> tuple[bytes | None, list[Problem]]:
        try:
            payload = object_path(self.objects, ident).read_bytes()
        except FileNotFoundError:
            return None, [("", f"{kind} object {ident} is missing from the object store")]
        except OSError as exc:
            return None, [("", f"{kind} object {ident} cannot be read: {exc.strerror}")]
        self.read += 1
        return payload, []

    def blob(self, kind: Kind, ident: str) -> tuple[str | None, list[Problem]]:
        """The id recomputed from a file's or link's bytes (None if unreadable), problems."""
        known = self._blobs.get((kind, ident))
        if known is None:
            payload, problems = self._load(kind, ident)
            rebuilt = None if payload is None else object_id(kind, payload)
            if rebuilt is not None and rebuilt != ident:
                problems = [("", f"{kind} object {ident} was altered: its bytes hash to {rebuilt}")]
            known = self._blobs[kind, ident] = (rebuilt, problems)
        return known

    def tree(self, ident: str, depth: int) -> tuple[str | None, list[Problem]]:
        """The tree id recomputed from its entries' recomputed ids, and the problems."""
        known = self._trees.get(ident)
        if known is not None:
            return known
        payload, problems = self._load("dir", ident)
        rebuilt: str | None = None
        if payload is not None:
            try:
                entries = decode_tree(payload, ident)
            except StoreCorruptError as exc:
                problems = [("", str(exc))]
            else:
                rebuilt, problems = self._entries(ident, entries, depth)
        known = self._trees[ident] = (rebuilt, problems)
        return known

    def _entries(
        self, ident: str, entries: list[Entry], depth: int
    ) -> tuple[str | None, list[Problem]]:
        problems: list[Problem] = []
        rebuilt_entries: list[Entry] = []
        for kind, mode, uid, gid, name, child in entries:
            label = name.decode("utf-8", "backslashreplace")
            if kind == "dir" and depth + 1 > MAX_DEPTH:
                found: tuple[str | None, list[Problem]] = (
                    None,
                    [("", f"deeper than {MAX_DEPTH} directories")],
                )
            elif kind == "dir":
                found = self.tree(child, depth + 1)
            else:
                found = self.blob(kind, child)
            rebuilt_child, child_problems = found
            problems.extend(
                (f"{label}/{path}" if path else label, why) for path, why in child_problems
            )
            if rebuilt_child is not None:
                rebuilt_entries.append((kind, mode, uid, gid, name, rebuilt_child))
        if problems:
            return None, problems
        rebuilt = object_id("dir", encode_tree(rebuilt_entries))
        if rebuilt != ident:  # the listing's bytes were altered, or are not canonical
            return None, [("", f"dir object {ident} was altered: it rebuilds to {rebuilt}")]
        return rebuilt, []


def _describe(record: SnapshotRecord) -> str:
    tick = "" if record.tick is None else f", tick {record.tick}"
    return f"snapshot at #{record.position} ({record.agent_id}, {record.reason}{tick})"


def check_records(records: list[SnapshotRecord], objects: Path) -> RestorableReport:
    """Check ``records`` (from :func:`list_snapshots`) against the object store ``objects``.

    Returns:
        The report; ``differences`` names each snapshot that cannot be rebuilt, the path
        inside it and the object at fault.
    """
    if records and not is_object_store(objects):
        return RestorableReport(
            str(objects),
            len(records),
            len({r.root for r in records}),
            0,
            [
                f"no object store at {objects} (or not readable here): {len(records)} "
                "recorded snapshots cannot be rebuilt"
            ],
        )
    rebuilder = _Rebuilder(objects)
    differences = []
    for record in records:
        if not _ROOT_ID.fullmatch(record.root):
            differences.append(f"{_describe(record)}: root {record.root!r} is not a tree id")
            continue
        rebuilt, problems = rebuilder.tree(record.root, 0)
        if not problems and rebuilt != record.root:  # never expected: tree() compares ids
            problems = [("", f"rebuilds to {rebuilt}")]
        if problems:
            named = "; ".join(
                f"{path or '/'}: {why}" for path, why in problems[:MAX_PROBLEMS_PER_SNAPSHOT]
            )
            more = len(problems) - MAX_PROBLEMS_PER_SNAPSHOT
            suffix = f" (and {more} more)" if more > 0 else ""
            differences.append(
                f"{_describe(record)} root {record.root} not restorable: {named}{suffix}"
            )
    return RestorableReport(
        str(objects), len(records), len({r.root for r in records}), rebuilder.read, differences
    )


def check_restorable(store: Path, objects: Path) -> RestorableReport:
    """Check every ``workspace.snapshot`` recorded in the audit store ``store``.

    Args:
        store: The run's audit store.
        objects: The run's object store (``objects_beside(store)`` for a run).

    Returns:
        The report (``snapshots == 0`` when the run recorded none).

    Raises:
        StoreCorruptError: ``store`` is not a readable audit store.
    """
    return check_records(list_snapshots(store), objects)
