"""Whether the native core and Python's ``sqlite3`` module share one SQLite library.

SQLite keeps its POSIX advisory-lock bookkeeping per library instance. Two copies in one
process (one linked into ``sentinel._native``, another inside Python's ``_sqlite3``)
release each other's locks when either closes a file, which can corrupt a database under
concurrent use (SQLite's "How To Corrupt An SQLite Database File", section 2.2.1). The
native store paths are therefore used only when both sides resolve to the same loaded
library; otherwise Sentinel uses its Python reference paths, which are correct, slower.
"""

from __future__ import annotations

import ctypes
import functools
import sqlite3
from pathlib import Path

from sentinel import _native


def _python_sqlite_library() -> str | None:
    """Path of the shared SQLite library mapped into this process, if any."""
    sqlite3.connect(":memory:").close()  # make sure _sqlite3 and its library are loaded
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        path = line.split(maxsplit=5)[-1] if len(line.split(maxsplit=5)) == 6 else ""
        if "libsqlite3" in Path(path).name:
            return path
    return None


@functools.cache
def native_sqlite_is_shared() -> bool:
    """True when ``sentinel._native`` and ``sqlite3`` use the very same SQLite library."""
    library = _python_sqlite_library()
    if library is None:  # Python's sqlite3 has SQLite compiled in: a second copy
        return False
    try:
        handle = ctypes.CDLL(library)
        address = ctypes.cast(handle.sqlite3_libversion, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return False
    return address == _native.sqlite_library_address()
