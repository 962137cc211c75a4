"""Witnesses: every signed checkpoint is also recorded outside the store.

Someone with write access to a store can rewrite its history, re-hash the chain and delete
the checkpoints above the change; nothing inside the store can then tell. As transparency
logs do, Sentinel therefore hands each checkpoint to a witness: a directory outside the
store (by default one that, run as root, only root can write; see
:mod:`sentinel.audit.location`). ``verify_store`` compares the store with the latest
witnessed checkpoint by default, and ``audit consistency`` checks RFC 9162 consistency
proofs between the witnessed checkpoints.

Layout: ``<witness dir>/<log id>/<tree size, 20 digits>.note``, each a signed note exactly
as in docs/audit-format.md section 5; files are created once (mode 0600) and never rewritten.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from pathlib import Path
from typing import Final

from sentinel.audit.checkpoints import SignedCheckpoint
from sentinel.audit.location import private_dir
from sentinel.errors import CheckpointError

NOTE_FILE_MODE: Final = 0o600
_LOG_ID: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]{0,127}")
_NOTE_NAME: Final = re.compile(r"[0-9]{20}\.note")

log = logging.getLogger(__name__)


def log_id_of(origin: str) -> str:
    """The log id in an origin ``sentinel/<log id>``.

    Raises:
        CheckpointError: The origin does not have that form.
    """
    prefix, _, log_id = origin.partition("/")
    if prefix != "sentinel" or _LOG_ID.fullmatch(log_id) is None:
        raise CheckpointError(f"origin {origin!r} is not sentinel/<log id>")
    return log_id


class Witness:
    """The witnessed checkpoints of one log.

    Args:
        directory: The witness directory (holds one sub-directory per log).
        origin: The log's origin, ``sentinel/<log id>``.
    """

    def __init__(self, directory: Path, origin: str) -> None:
        self.origin = origin
        self.path = directory / log_id_of(origin)

    def record(self, signed: SignedCheckpoint) -> bool:
        """Record a checkpoint; False (with a logged warning) when the directory is not writable.

        A checkpoint of a size already witnessed is left as first recorded.
        """
        target = self.path / f"{signed.checkpoint.size:020d}.note"
        try:
            private_dir(self.path)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NOTE_FILE_MODE)
        except FileExistsError:
            return True
        except OSError as exc:
            size = signed.checkpoint.size
            log.warning("cannot witness checkpoint %d in %s: %s", size, target, exc)
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(signed.to_note())
            handle.flush()
            os.fsync(handle.fileno())
        return True

    def checkpoints(self) -> list[SignedCheckpoint]:
        """Every witnessed checkpoint, smallest tree first.

        Raises:
            CheckpointError: A witnessed note does not parse; the message names the file.
        """
        if not self.path.is_dir():
            return []
        names = sorted(p.name for p in self.path.iterdir() if _NOTE_NAME.fullmatch(p.name))
        return [
            SignedCheckpoint.parse((self.path / name).read_text(), source=str(self.path / name))
            for name in names
        ]

    def latest(self) -> SignedCheckpoint | None:
        """The witnessed checkpoint of the largest tree, or None."""
        if not self.path.is_dir():
            return None
        names = sorted(p.name for p in self.path.iterdir() if _NOTE_NAME.fullmatch(p.name))
        if not names:
            return None
        path = self.path / names[-1]
        with contextlib.suppress(FileNotFoundError):
            return SignedCheckpoint.parse(path.read_text(), source=str(path))
        return None
