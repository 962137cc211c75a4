"""A store's checkpoint signing keys: where they live, loading, registering, rotating."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from sentinel.audit.checkpoints import CheckpointSigner, VerifierKey
from sentinel.audit.location import key_dir, private_dir
from sentinel.audit.store_file import write_lock_transaction
from sentinel.audit.witness import log_id_of
from sentinel.errors import CheckpointError

log = logging.getLogger(__name__)


def choose_key_path(store: Path, origin: str, given: Path | str | None) -> Path:
    """The signing key's file: ``given``, a legacy key beside the store, or the key dir's.

    A key beside the store is used with a warning: whoever can copy the store gets it too.
    """
    beside = store.with_name(store.name + ".signing-key")
    if given:
        key_path = Path(given)
    elif beside.exists():
        key_path = beside
    else:
        return private_dir(key_dir()) / f"{log_id_of(origin)}.signing-key"
    if key_path.parent.resolve() == store.parent.resolve():
        log.warning(
            "%s: the signing key sits beside the store; whoever can copy the store gets "
            "the key too (keep keys in %s)",
            key_path,
            key_dir(),
        )
    return key_path


def register_key(conn: sqlite3.Connection, signer: CheckpointSigner, *, first_size: int) -> None:
    """Record a verifier key in the store's ``keys`` table (its own transaction)."""
    with write_lock_transaction(conn):
        insert_key(conn, signer.verifier, first_size=first_size, replace=False)


def insert_key(
    conn: sqlite3.Connection, verifier: VerifierKey, *, first_size: int, replace: bool = True
) -> None:
    """Insert a verifier key inside the caller's transaction."""
    verb = "INSERT" if replace else "INSERT OR IGNORE"
    conn.execute(
        f"{verb} INTO keys (key_id, vkey, created_ns, first_size) VALUES (?, ?, ?, ?)",
        (f"{verifier.key_id:08x}", str(verifier), time.time_ns(), first_size),
    )


def load_signer(
    conn: sqlite3.Connection, writer: sqlite3.Connection, store: Path, origin: str, key_path: Path
) -> CheckpointSigner:
    """The store's current signer; a new store gets a new key (mode 0600).

    Raises:
        CheckpointError: The store has keys but this file is missing or not one of them.
    """
    keys = conn.execute("SELECT key_id FROM keys").fetchall()
    if not keys:
        if key_path.exists():
            signer = CheckpointSigner.load(origin, key_path)
        else:
            signer = CheckpointSigner.generate(origin)
            try:
                signer.save(key_path)
            except FileExistsError:  # another process opening this new store saved first
                signer = CheckpointSigner.load(origin, key_path)
        register_key(writer, signer, first_size=0)
        return signer
    if not key_path.exists():
        raise CheckpointError(
            f"{key_path}: the signing key of {store} is missing; restore it, "
            f"or start a new key with `sentinel-run audit rotate-key --store {store}`"
        )
    signer = CheckpointSigner.load(origin, key_path)
    known = {row[0] for row in keys}
    if f"{signer.verifier.key_id:08x}" not in known:
        raise CheckpointError(f"{key_path}: this key is not registered in {store}")
    return signer


def retire_and_replace(key_path: Path, old: CheckpointSigner, origin: str) -> CheckpointSigner:
    """Move the old key file aside (``<key>.retired-<id>``) and save a new key in its place."""
    new = CheckpointSigner.generate(origin)
    retired = key_path.with_name(f"{key_path.name}.retired-{old.verifier.key_id:08x}")
    key_path.rename(retired)
    new.save(key_path)
    return new
