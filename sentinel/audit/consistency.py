"""RFC 9162 consistency between witnessed checkpoints and a store.

Each witnessed checkpoint must be a prefix of the next witnessed one, and the latest a
prefix of the store's current log: the proofs are built from the store's event hashes and
checked against the roots the witnesses hold (RFC 9162 section 2.1.4.2). A rewritten
history cannot produce them.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sentinel.audit.checkpoints import SignedCheckpoint, VerifierKey
from sentinel.audit.location import witness_dir
from sentinel.audit.merkle import MerkleLog, leaf_hashes, verify_consistency
from sentinel.audit.readonly import open_read_only
from sentinel.audit.verify import trusted_after_handovers
from sentinel.audit.witness import Witness
from sentinel.errors import CheckpointError, StoreCorruptError

_READ_BATCH = 100_000


@dataclass(frozen=True)
class ConsistencyReport:
    """The outcome of :func:`check_witnessed_consistency`."""

    path: str
    origin: str
    log_size: int
    sizes: list[int]
    """The witnessed tree sizes, smallest first."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when checkpoints were witnessed and every proof holds."""
        return bool(self.sizes) and not self.problems

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {**asdict(self), "ok": self.ok}


def _read_store(path: Path) -> tuple[str, MerkleLog, list[SignedCheckpoint], list[VerifierKey]]:
    conn, origin = open_read_only(path)
    try:
        try:
            tree = MerkleLog()
            cursor = conn.execute("SELECT hash FROM events ORDER BY position")
            while rows := cursor.fetchmany(_READ_BATCH):
                tree.append(leaf_hashes([r[0] for r in rows]))
            notes = [
                SignedCheckpoint.parse(note, source=f"{path} checkpoint {size}")
                for size, note in conn.execute("SELECT size, note FROM checkpoints ORDER BY size")
            ]
            keys = [VerifierKey.parse(r[0]) for r in conn.execute("SELECT vkey FROM keys")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreCorruptError(f"{path}: not a readable audit store: {exc}") from None
    return origin, tree, notes, keys


def _proof_holds(tree: MerkleLog, old: SignedCheckpoint, new_size: int, new_root: bytes) -> bool:
    old_size = old.checkpoint.size
    if old_size == new_size:
        return old.checkpoint.root == new_root
    if old_size == 0:
        return True
    try:
        proof = tree.consistency_proof(old_size, new_size)
    except ValueError:
        return False
    return verify_consistency(old_size, new_size, old.checkpoint.root, new_root, proof)


def check_witnessed_consistency(
    path: Path | str,
    *,
    witness: Path | bool = True,
    trusted_keys: Sequence[VerifierKey] | None = None,
) -> ConsistencyReport:
    """Check that the witnessed checkpoints form one growing history the store still holds.

    Args:
        path: The store (opened read-only).
        witness: The witness directory (``True``: the default one).
        trusted_keys: Keys to check the witnessed signatures with (trust follows key
            rotations recorded in the store); default: the keys registered in the store.

    Raises:
        StoreCorruptError: The file is not a readable audit store.
        CheckpointError: A witnessed or stored note does not parse.
    """
    path = Path(path)
    conn, origin = open_read_only(path)
    conn.close()
    directory = witness_dir() if witness is True else (witness or None)
    if directory is None:
        raise CheckpointError("no witness directory: witnessing is turned off")
    # The witness first: it records a checkpoint only after the store committed it.
    witnessed = Witness(Path(directory), origin).checkpoints()
    _, tree, notes, registered = _read_store(path)
    keys = (
        registered
        if trusted_keys is None
        else trusted_after_handovers(
            [(n.checkpoint.size, n) for n in notes], trusted_keys, registered
        )
    )
    problems = []
    if not witnessed:
        problems.append(f"no checkpoint of {origin} was witnessed in {directory}")
    for signed in witnessed:
        if signed.checkpoint.origin != origin:
            problems.append(f"witnessed checkpoint {signed.checkpoint.size} is for another log")
        elif not any(key.verifies(signed) for key in keys):
            problems.append(
                f"witnessed checkpoint {signed.checkpoint.size} is not signed by a trusted key"
            )
    for old, new in itertools.pairwise(witnessed):
        if not _proof_holds(tree, old, new.checkpoint.size, new.checkpoint.root):
            problems.append(
                f"no consistency proof from the store leads from witnessed checkpoint "
                f"{old.checkpoint.size} to witnessed checkpoint {new.checkpoint.size}: "
                "the history between them was rewritten"
            )
    if witnessed:
        latest = witnessed[-1]
        if latest.checkpoint.size > len(tree):
            problems.append(
                f"the store has {len(tree)} events, fewer than the {latest.checkpoint.size} "
                "witnessed: events were removed"
            )
        elif len(tree) and not _proof_holds(tree, latest, len(tree), tree.root(len(tree))):
            problems.append(
                f"the store's log is not an extension of witnessed checkpoint "
                f"{latest.checkpoint.size}: its history was rewritten"
            )
    return ConsistencyReport(
        path=str(path),
        origin=origin,
        log_size=len(tree),
        sizes=[signed.checkpoint.size for signed in witnessed],
        problems=problems,
    )
