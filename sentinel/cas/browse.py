"""Looking into a recorded snapshot without writing it anywhere: its tree and one file.

The dashboard's time travel shows an agent's workspace as a snapshot recorded it. Every
object read is checked against its id (:func:`sentinel.cas.checkout.read_object`), so what
is shown is what the Merkle root in the audit chain commits to. Nothing here writes to the
host, follows a link or builds a host path from a name in a tree: names are matched as
bytes against the tree's entries.
"""

from __future__ import annotations

import codecs
import re
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from sentinel.cas.checkout import decode_tree, object_path, read_object
from sentinel.cas.reference import MAX_DEPTH, Entry, Kind, valid_name
from sentinel.errors import InvalidInputError

MAX_TREE_ENTRIES: Final = 5000
"""Entries listed per snapshot: a few hundred in an office agent's workspace."""
MAX_SHOWN_BYTES: Final = 64 * 1024
"""Bytes of a file's contents shown as text: a screenful of source, a small JSON reply."""
MAX_HEX_BYTES: Final = 4096
"""Bytes of a binary file shown as hex (its size and id say the rest)."""
MAX_PATH_BYTES: Final = 4096
"""Longest path asked for (Linux's PATH_MAX)."""

_ROOT_ID: Final = re.compile(r"[0-9a-f]{64}")


class NotInSnapshotError(InvalidInputError, LookupError):
    """The path names nothing in the snapshot, or a directory where a file was asked for."""


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a snapshot's tree, as listed."""

    path: str
    """Slash-separated; names that are not UTF-8 show their bytes as ``\\xNN``."""
    exact: bool
    """The path is the names' exact UTF-8 (false: it cannot be asked for by path)."""
    kind: Kind
    mode: str
    """Permission bits, four octal digits."""
    uid: int
    gid: int
    id: str
    size: int | None
    """Bytes of a file's or link's object; None for a directory."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class FileView:
    """One file or link of a snapshot, its contents limited and made safe to show."""

    path: str
    kind: Kind
    mode: str
    id: str
    size: int
    binary: bool
    """Not shown as text: it holds a NUL or is not UTF-8."""
    text: str | None
    """The contents (at most :data:`MAX_SHOWN_BYTES`) when not binary."""
    hex: str | None
    """The first :data:`MAX_HEX_BYTES` bytes as hex when binary."""
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def check_root(root: str) -> str:
    """``root`` if it is a tree id (64 lower-case hex digits).

    Raises:
        InvalidInputError: It is not.
    """
    if not _ROOT_ID.fullmatch(root):
        raise InvalidInputError(f"snapshot root {root[:80]!r} is not 64 lower-case hex digits")
    return root


def parse_path(path: str) -> list[bytes]:
    """The names of a slash-separated path inside a snapshot.

    Raises:
        InvalidInputError: The path is empty, absolute, too long, or has an empty, ``.``
            or ``..`` component, a NUL, or a name longer than 255 bytes.
    """
    raw = path.encode("utf-8", "surrogateescape")
    if not raw or len(raw) > MAX_PATH_BYTES:
        raise InvalidInputError(f"path must be 1..{MAX_PATH_BYTES} bytes")
    if raw.startswith(b"/"):
        raise InvalidInputError("path must be relative to the workspace (no leading /)")
    names = raw.split(b"/")
    for at, name in enumerate(names):
        if not valid_name(name):
            raise InvalidInputError(
                f"path component {at + 1} ({name[:40]!r}) is not a name: empty, '.', '..', "
                "a NUL or over 255 bytes"
            )
    if len(names) > MAX_DEPTH + 1:
        raise InvalidInputError(f"path is deeper than {MAX_DEPTH} directories")
    return names


def _label(name: bytes) -> tuple[str, bool]:
    try:
        return name.decode("utf-8"), True
    except UnicodeDecodeError:
        return name.decode("utf-8", "backslashreplace"), False


def snapshot_tree(
    objects: Path, root: str, *, limit: int = MAX_TREE_ENTRIES
) -> tuple[list[TreeEntry], bool]:
    """The entries of snapshot ``root``, and whether ``limit`` cut the list.

    The order is pre-order: a directory, then what it holds; names in byte order.

    Raises:
        InvalidInputError: ``root`` is not a tree id.
        StoreCorruptError: A tree object is missing or does not match its id.
    """
    check_root(root)
    listed: list[TreeEntry] = []
    # One iterator per open directory (an explicit stack: trees nest up to MAX_DEPTH).
    stack: list[tuple[Iterator[Entry], str, bool, int]] = [
        (iter(_entries(objects, root)), "", True, 0)
    ]
    while stack:
        entries, prefix, exact, depth = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        if len(listed) >= limit:
            return listed, True
        kind, mode, uid, gid, name, ident = entry
        label, exact_name = _label(name)
        path = f"{prefix}{label}"
        size = None if kind == "dir" else _object_size(objects, ident)
        listed.append(
            TreeEntry(path, exact and exact_name, kind, f"{mode:04o}", uid, gid, ident, size)
        )
        if kind == "dir" and depth + 1 <= MAX_DEPTH:
            stack.append(
                (iter(_entries(objects, ident)), f"{path}/", exact and exact_name, depth + 1)
            )
    return listed, False


def _entries(objects: Path, tree: str) -> list[Entry]:
    return decode_tree(read_object(objects, "dir", tree), tree)


def _object_size(objects: Path, ident: str) -> int | None:
    try:
        info = object_path(objects, ident).lstat()
    except OSError:
        return None  # missing: reading it says so
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def read_file(objects: Path, root: str, path: str) -> FileView:
    """The file or link at ``path`` in snapshot ``root``, checked against its id.

    Raises:
        InvalidInputError: ``root`` is not a tree id, or ``path`` is not a valid path.
        NotInSnapshotError: Nothing is at ``path``, or it is a directory.
        StoreCorruptError: An object on the way is missing or does not match its id.
    """
    check_root(root)
    names = parse_path(path)
    tree = root
    for at, name in enumerate(names):
        entries = _entries(objects, tree)
        found = next((entry for entry in entries if entry[4] == name), None)
        where = "/".join(n.decode("utf-8", "backslashreplace") for n in names[: at + 1])
        if found is None:
            raise NotInSnapshotError(f"{where}: not in snapshot {root[:16]}")
        kind, mode, _uid, _gid, _name, ident = found
        last = at == len(names) - 1
        if kind == "dir" and last:
            raise NotInSnapshotError(f"{where}: a directory in snapshot {root[:16]}")
        if kind != "dir" and not last:
            raise NotInSnapshotError(f"{where}: not a directory in snapshot {root[:16]}")
        tree = ident
    data = read_object(objects, kind, ident)
    return _view(path, kind, f"{mode:04o}", ident, data)


def _view(path: str, kind: Kind, mode: str, ident: str, data: bytes) -> FileView:
    shown = data[:MAX_SHOWN_BYTES]
    truncated = len(data) > len(shown)
    text: str | None = None
    if b"\0" not in shown:
        # A cut may split a UTF-8 sequence: an incremental decoder keeps the partial tail.
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        try:
            text = decoder.decode(shown, final=not truncated)
        except UnicodeDecodeError:
            text = None
    if text is not None:
        return FileView(path, kind, mode, ident, len(data), False, text, None, truncated)
    return FileView(
        path, kind, mode, ident, len(data), True, None, data[:MAX_HEX_BYTES].hex(),
        len(data) > MAX_HEX_BYTES,
    )  # fmt: skip
