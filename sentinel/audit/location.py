"""Where audit stores, their signing keys and their witnesses live by default.

Every command that opens a store (``run``, ``replay``, ``audit ...``, ``gateway serve``)
asks :func:`default_store` when the user names none, so one environment variable
(``SENTINEL_STORE``) moves them all. Signing keys are kept in a key directory apart from
the store (someone who can copy the store should not get the key with it), and witnessed
checkpoints in a third directory that, run as root, only root can write.

Root uses the system directories (``/var/lib/sentinel``, ``/etc/sentinel/keys``); other
users the XDG base directories (``~/.local/share/sentinel``, ``~/.config/sentinel/keys``,
``~/.local/state/sentinel/witness``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

STORE_ENV: Final = "SENTINEL_STORE"
"""The one environment variable naming the audit store for every command."""
DATA_DIR_ENV: Final = "SENTINEL_DATA_DIR"
"""Overrides the data directory that holds the default store."""
KEY_DIR_ENV: Final = "SENTINEL_KEY_DIR"
"""Overrides the directory of checkpoint signing keys."""
WITNESS_DIR_ENV: Final = "SENTINEL_WITNESS_DIR"
"""Overrides the witness directory (``none`` turns witnessing off)."""
STORE_FILE_NAME: Final = "audit.db"
PRIVATE_DIR_MODE: Final = 0o700
"""Key and witness directories: readable and writable by their owner only."""

_ROOT_DATA_DIR: Final = Path("/var/lib/sentinel")
"""FHS: variable state of a system service."""
_ROOT_KEY_DIR: Final = Path("/etc/sentinel/keys")
_ROOT_WITNESS_DIR: Final = _ROOT_DATA_DIR / "witness"


def _is_root() -> bool:
    return os.geteuid() == 0


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / fallback
    return base / "sentinel"


def data_dir() -> Path:
    """The directory of the default store (not created here)."""
    if value := os.environ.get(DATA_DIR_ENV):
        return Path(value)
    return _ROOT_DATA_DIR if _is_root() else _xdg("XDG_DATA_HOME", ".local/share")


def default_store() -> Path:
    """The audit store a command uses when none is named: ``$SENTINEL_STORE`` or the data dir's.

    The parent directory is created (mode 0700) so that a writer can create the store.
    """
    if value := os.environ.get(STORE_ENV):
        return Path(value)
    path = data_dir() / STORE_FILE_NAME
    path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    return path


def key_dir() -> Path:
    """The directory of checkpoint signing keys (not created here)."""
    if value := os.environ.get(KEY_DIR_ENV):
        return Path(value)
    return _ROOT_KEY_DIR if _is_root() else _xdg("XDG_CONFIG_HOME", ".config") / "keys"


def witness_dir() -> Path | None:
    """The witness directory, or None when ``SENTINEL_WITNESS_DIR=none`` turns witnessing off."""
    value = os.environ.get(WITNESS_DIR_ENV)
    if value is not None:
        return None if value.lower() == "none" else Path(value)
    return _ROOT_WITNESS_DIR if _is_root() else _xdg("XDG_STATE_HOME", ".local/state") / "witness"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed; a new directory gets mode 0700."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    return path


def remove_store(path: Path) -> None:
    """Delete a store file with SQLite's companions (``-wal``, ``-shm``): ``--overwrite``."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        candidate.unlink(missing_ok=True)
