"""Reading snapshots back without a mount: a store's objects, and a snapshot as a directory.

Replay and the dashboard's time travel need the workspace of some moment, not a live
mount: :func:`checkout` writes snapshot ``root`` of an object store into a new host
directory. Every object read is checked against its id; names come from trees whose
format is checked; the destination is written through directory descriptors, files are
created exclusively and never through a link.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sentinel.cas.reference import MAX_DEPTH, Kind, object_id, valid_name
from sentinel.errors import InvalidInputError, StoreCorruptError

_ENTRY: Final = re.compile(rb"(file|dir|link) ([0-7]{4}) (0|[1-9][0-9]*) (0|[1-9][0-9]*) ")


@dataclass(frozen=True)
class StoreSize:
    """What an object store holds on disk."""

    objects: int
    bytes: int


def is_object_store(store: Path) -> bool:
    """Whether ``store`` has an ``objects`` directory.

    False too when it cannot be looked at: the store is root-only (mode 0700).
    """
    try:
        return (store / "objects").is_dir()
    except OSError:
        return False


def object_path(store: Path, ident: str) -> Path:
    """Where object ``ident`` lives in the store at ``store``."""
    return store / "objects" / ident[:2] / ident[2:]


def read_object(store: Path, kind: Kind, ident: str) -> bytes:
    """The payload of object ``ident``, checked against its id.

    Raises:
        StoreCorruptError: The store lacks the object, or its bytes do not hash to its id.
    """
    try:
        payload = object_path(store, ident).read_bytes()
    except OSError as exc:
        raise StoreCorruptError(f"object store {store}: {kind} {ident}: {exc.strerror}") from None
    if object_id(kind, payload) != ident:
        raise StoreCorruptError(f"object store {store}: {kind} {ident} does not match its bytes")
    return payload


def decode_tree(payload: bytes, ident: str) -> list[tuple[Kind, int, int, int, bytes, str]]:
    """The entries of tree ``ident`` (the reference of the native ``decode_tree``).

    Raises:
        StoreCorruptError: An entry is malformed (the message gives its byte offset).
    """
    entries: list[tuple[Kind, int, int, int, bytes, str]] = []
    at = 0
    while at < len(payload):
        head = _ENTRY.match(payload, at)
        nul = payload.find(b"\0", head.end()) if head else -1
        end = nul + 1 + 64
        if head is None or nul < 0 or payload[end : end + 1] != b"\n":
            raise StoreCorruptError(f"tree {ident}: malformed entry at byte {at}")
        name = payload[head.end() : nul]
        digest = payload[nul + 1 : end].decode("ascii", "replace")
        if not valid_name(name) or not re.fullmatch("[0-9a-f]{64}", digest):
            raise StoreCorruptError(f"tree {ident}: malformed entry at byte {at}")
        if entries and entries[-1][4] >= name:
            raise StoreCorruptError(f"tree {ident}: names not sorted at byte {at}")
        kind: Kind = head.group(1).decode()  # type: ignore[assignment]
        mode, uid, gid = int(head.group(2), 8), int(head.group(3)), int(head.group(4))
        entries.append((kind, mode, uid, gid, name, digest))
        at = end + 1
    return entries


def checkout(store: Path, root: str, destination: Path, *, owners: bool = True) -> int:
    """Write snapshot ``root`` of the object store at ``store`` into ``destination``.

    Args:
        store: The run's object store directory.
        root: The snapshot's Merkle root (a tree id, from a ``workspace.snapshot`` event).
        destination: A directory to create (it must not exist).
        owners: Give entries their recorded uid and gid (needs root). Set-uid and set-gid
            bits are never restored.

    Returns:
        The number of entries written.

    Raises:
        InvalidInputError: ``root`` is not 64 hex digits, or ``destination`` exists.
        StoreCorruptError: The store lacks an object of the snapshot or one is corrupt.
    """
    if not re.fullmatch("[0-9a-f]{64}", root):
        raise InvalidInputError(f"snapshot root {root!r} is not 64 lower-case hex digits")
    try:
        destination.mkdir(mode=0o700)
    except FileExistsError:
        raise InvalidInputError(f"{destination} exists; checkout writes a new directory") from None
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    pending = [(root, os.open(destination, flags), 0)]
    written = 0
    try:
        while pending:
            tree, fd, depth = pending.pop()
            try:
                for entry in decode_tree(read_object(store, "dir", tree), tree):
                    child = _write_entry(store, fd, entry, owners=owners)
                    if child is not None:
                        if depth + 1 > MAX_DEPTH:
                            os.close(child)
                            raise StoreCorruptError(f"tree {root}: deeper than {MAX_DEPTH}")
                        pending.append((entry[5], child, depth + 1))
                    written += 1
            finally:
                os.close(fd)
    finally:
        for _, fd, _ in pending:
            os.close(fd)
    return written


def _write_entry(
    store: Path, fd: int, entry: tuple[Kind, int, int, int, bytes, str], *, owners: bool
) -> int | None:
    """Write one entry into directory ``fd``; a directory's descriptor comes back open."""
    kind, mode, uid, gid, raw, ident = entry
    name = os.fsdecode(raw)
    if kind == "dir":
        os.mkdir(name, 0o700, dir_fd=fd)
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        child = os.open(name, flags, dir_fd=fd)
        _finish(os.dup(child), mode, uid, gid, owners=owners)
        return child
    if kind == "link":
        os.symlink(read_object(store, "link", ident), name, dir_fd=fd)
        if owners:
            os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
        return None
    data = read_object(store, "file", ident)
    create = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    out = os.open(name, create, 0o600, dir_fd=fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(out, view) :]
    finally:
        _finish(out, mode, uid, gid, owners=owners)
    return None


def _finish(fd: int, mode: int, uid: int, gid: int, *, owners: bool) -> None:
    """Owner then mode, then close.

    Set-uid and set-gid bits are dropped: a checkout lands on the host's own file system,
    which is not ``nosuid`` like the workspace was.
    """
    try:
        if owners:
            os.fchown(fd, uid, gid)
        os.fchmod(fd, mode & ~(stat.S_ISUID | stat.S_ISGID))
    finally:
        os.close(fd)


def store_size(store: Path) -> StoreSize:
    """How many objects the store holds and their bytes on disk.

    Raises:
        InvalidInputError: ``store`` is not an object store (no ``objects`` directory).
    """
    objects = store / "objects"
    if not objects.is_dir():
        raise InvalidInputError(f"{store} is not a CAS object store (no objects/ directory)")
    count = total = 0
    for shard in objects.iterdir():
        for item in shard.iterdir():
            count += 1
            total += item.lstat().st_size
    return StoreSize(count, total)
