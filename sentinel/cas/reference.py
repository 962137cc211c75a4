"""The Merkle root of a workspace, computed in Python: the reference of the native one.

Every object's id is SHA-256 over a kind tag, a NUL and the payload: ``blob`` (a file's
contents), ``link`` (a symbolic link's target) or ``tree`` (a directory's listing). A
listing is one line per entry, sorted by name bytes::

    kind SP mode SP uid SP gid SP name NUL hex(id) LF

with kind ``file``, ``dir`` or ``link``, mode the permission bits as four octal digits,
uid and gid in decimal. A snapshot's Merkle root is the root directory's tree id
(``native/sentinel-cas/src/ids.rs`` is the same definition in Rust).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Final, Literal

from sentinel.errors import InvalidInputError

Kind = Literal["file", "dir", "link"]
Entry = tuple[Kind, int, int, int, bytes, str]
"""``(kind, mode, uid, gid, name, id hex)``: one line of a listing."""

MAX_DEPTH: Final = 256
"""Deepest directory nesting below the root (the native ``MAX_DEPTH``)."""
MAX_NAME_BYTES: Final = 255
"""Longest entry name (Linux's NAME_MAX; the native ``MAX_NAME_BYTES``)."""

_TAGS: Final[dict[Kind, bytes]] = {"file": b"blob\0", "dir": b"tree\0", "link": b"link\0"}


def object_id(kind: Kind, payload: bytes) -> str:
    """The hex id of an object of ``kind`` (``file``, ``dir``, ``link``) with ``payload``."""
    return hashlib.sha256(_TAGS[kind] + payload).hexdigest()


def valid_name(name: bytes) -> bool:
    """Whether ``name`` can be an entry: 1..255 bytes, no NUL or ``/``, not ``.`` or ``..``."""
    return (
        0 < len(name) <= MAX_NAME_BYTES
        and name not in (b".", b"..")
        and b"\0" not in name
        and b"/" not in name
    )


def encode_tree(entries: Iterable[Entry]) -> bytes:
    """The listing of ``entries`` (sorted here by name bytes).

    Raises:
        InvalidInputError: A name is not a valid entry name.
    """
    lines = []
    for kind, mode, uid, gid, name, ident in sorted(entries, key=lambda entry: entry[4]):
        if not valid_name(name):
            raise InvalidInputError(f"invalid entry name {name!r}")
        head = f"{kind} {mode & 0o7777:04o} {uid} {gid} ".encode()
        lines.append(head + name + b"\0" + ident.encode() + b"\n")
    return b"".join(lines)


def _entry(directory: int, name: str, info: os.stat_result) -> tuple[Kind, bytes] | None:
    """Kind and payload of one entry (None for a directory: its id comes later)."""
    if stat.S_ISDIR(info.st_mode):
        return None
    if stat.S_ISLNK(info.st_mode):
        return "link", os.fsencode(os.readlink(name, dir_fd=directory))
    if stat.S_ISREG(info.st_mode):
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
        with os.fdopen(fd, "rb") as handle:
            return "file", handle.read()
    raise InvalidInputError(f"{name!r} is neither a file, a directory nor a link")


def directory_tree_id(path: Path) -> str:
    """The Merkle root of the tree at ``path``, as the native snapshot would record it.

    The walk is iterative, never follows a link, and goes through directory descriptors.

    Raises:
        InvalidInputError: The tree holds a device, fifo or socket, or is deeper than
            :data:`MAX_DEPTH`.
    """
    root = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    # Directories discovered in breadth-first order; done in reverse, children first.
    order: list[tuple[int, int, str]] = [(root, 0, "")]  # (fd, depth, relative path)
    children: dict[int, list[tuple[str, int, os.stat_result]]] = {}
    try:
        at = 0
        while at < len(order):
            fd, depth, where = order[at]
            at += 1
            listing = []
            for name in sorted(entry.name for entry in os.scandir(fd)):
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                child = -1
                if stat.S_ISDIR(info.st_mode):
                    if depth + 1 > MAX_DEPTH:
                        raise InvalidInputError(f"{path}/{where}: deeper than {MAX_DEPTH}")
                    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
                    child = os.open(name, flags, dir_fd=fd)
                    order.append((child, depth + 1, f"{where}/{name}"))
                listing.append((name, child, info))
            children[fd] = listing
        tree_ids: dict[int, str] = {}
        for fd, _depth, _where in reversed(order):
            entries: list[Entry] = []
            for name, child, info in children[fd]:
                found = _entry(fd, name, info)
                kind: Kind = "dir" if found is None else found[0]
                ident = tree_ids[child] if found is None else object_id(found[0], found[1])
                mode = stat.S_IMODE(info.st_mode)
                entries.append((kind, mode, info.st_uid, info.st_gid, os.fsencode(name), ident))
            tree_ids[fd] = object_id("dir", encode_tree(entries))
        return tree_ids[root]
    finally:
        for fd, _depth, _where in order:
            os.close(fd)
