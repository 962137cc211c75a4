"""Inclusion proofs an auditor can check offline with nothing but a verifier key."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sentinel.audit.chain import link_hash
from sentinel.audit.checkpoints import SignedCheckpoint, VerifierKey
from sentinel.audit.merkle import MerkleLog, leaf_hashes, reference_leaf_hash, verify_inclusion
from sentinel.audit.readonly import open_read_only
from sentinel.audit.subtrees import DIGEST_SIZE, StoredTree, has_subtrees
from sentinel.errors import AuditError, CheckpointError, StoreCorruptError

if TYPE_CHECKING:
    from sentinel.audit.store import AuditStore

PROOF_FORMAT: Final = "sentinel-inclusion-proof/1"
"""The ``format`` member of a proof document (docs/audit-format.md section 8)."""


@dataclass(frozen=True)
class InclusionProof:
    """An event, the signed checkpoint that covers it, and the Merkle path between them."""

    format: str
    origin: str
    position: int
    tree_size: int
    event_hash: str
    canonical: str
    path: list[str]
    checkpoint: str
    handover: list[dict[str, str]] = field(default_factory=list)
    """Key rotations up to the checkpoint: ``{"key": new verifier key, "checkpoint": the
    note signed by the old and the new key}``, oldest first."""

    def to_json(self) -> str:
        """The proof as a JSON document."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str, *, source: str = "proof") -> InclusionProof:
        """Parse a proof document.

        Raises:
            CheckpointError: The document is not a Sentinel inclusion proof; the message
                names the field.
        """
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CheckpointError(f"{source}: not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != PROOF_FORMAT:
            raise CheckpointError(f"{source}: not a {PROOF_FORMAT} document")
        try:
            proof = cls(**data)
        except TypeError as exc:
            raise CheckpointError(f"{source}: {exc}") from None
        for name, kind in _FIELD_TYPES.items():
            if not isinstance(getattr(proof, name), kind):
                raise CheckpointError(f"{source}: member {name} is not a {kind.__name__}")
        for index, step in enumerate(proof.handover):
            if not (
                isinstance(step, dict)
                and isinstance(step.get("key"), str)
                and isinstance(step.get("checkpoint"), str)
            ):
                raise CheckpointError(f"{source}: handover[{index}] needs key and checkpoint")
        return proof


@dataclass(frozen=True)
class ProofCheck:
    """The outcome of :func:`check_inclusion_proof`."""

    ok: bool
    reasons: list[str]


_FIELD_TYPES: Final = {
    "origin": str,
    "position": int,
    "tree_size": int,
    "event_hash": str,
    "canonical": str,
    "path": list,
    "checkpoint": str,
    "handover": list,
}


def _handovers(conn: sqlite3.Connection, size: int) -> list[dict[str, str]]:
    """The double-signed checkpoints up to ``size``, each with the key it hands over to."""
    keys = [VerifierKey.parse(row[0]) for row in conn.execute("SELECT vkey FROM keys")]
    steps = []
    for (note,) in conn.execute(
        "SELECT note FROM checkpoints WHERE size <= ? ORDER BY size", (size,)
    ):
        signed = SignedCheckpoint.parse(note)
        if len(signed.signatures) < 2:
            continue
        newest = signed.signatures[-1]
        steps += [
            {"key": str(key), "checkpoint": note}
            for key in keys
            if (key.name, key.key_id) == (newest.name, newest.key_id)
        ]
    return steps


def _open_read_only(path: Path) -> sqlite3.Connection:
    return open_read_only(path)[0]


def prove_in_file(path: Path | str, event_id: str) -> InclusionProof:
    """Build an inclusion proof from a store file, opened read-only.

    Needs neither write access nor the signing key when a checkpoint already covers the
    event; otherwise opens the store as a writer to sign one (as :func:`prove` does).

    Raises:
        AuditError: No event has this id, or the log no longer matches its checkpoint.
        StoreCorruptError: The file is not a readable audit store.
    """
    path = Path(path)
    conn = _open_read_only(path)
    try:
        row = conn.execute(
            "SELECT position, canonical, hash FROM events WHERE event_id = ?", (event_id,)
        ).fetchone()
        if row is None:
            raise AuditError(f"{path}: no event with id {event_id!r}")
        position, canonical, digest = row
        note = conn.execute(
            "SELECT note FROM checkpoints WHERE size > ? ORDER BY size DESC LIMIT 1", (position,)
        ).fetchone()
        if note is not None:
            signed = SignedCheckpoint.parse(note[0], source=f"{path} checkpoint")
            size = signed.checkpoint.size
            fast = _path_from_subtrees(conn, position, digest, signed)
            if fast is not None:
                return _proof(
                    path, position, canonical, digest, signed, signed.checkpoint.root, fast,
                    _handovers(conn, size),
                )  # fmt: skip
            tree = MerkleLog()
            cursor = conn.execute(
                "SELECT hash FROM events WHERE position < ? ORDER BY position", (size,)
            )
            while rows := cursor.fetchmany(100_000):
                tree.append(leaf_hashes([r[0] for r in rows]))
            if len(tree) < size:
                raise AuditError(f"{path}: events are missing below {size}; run audit verify")
            return _proof(
                path, position, canonical, digest, signed, tree.root(size),
                tree.inclusion_proof(position, size), _handovers(conn, size),
            )  # fmt: skip
    except sqlite3.DatabaseError as exc:
        raise StoreCorruptError(f"{path}: reading failed: {exc}") from None
    finally:
        conn.close()
    from sentinel.audit.store import AuditStore  # noqa: PLC0415 - only to sign a checkpoint

    with AuditStore(path, create=False) as store:
        return prove(store, event_id)


def _path_from_subtrees(
    conn: sqlite3.Connection, position: int, digest: object, signed: SignedCheckpoint
) -> list[bytes] | None:
    """The audit path assembled from stored subtrees, if it leads to the signed root.

    None when the store keeps no subtrees or the path does not check out (a stored row is
    wrong, events are missing): the caller then rebuilds the tree from every event.
    """
    size = signed.checkpoint.size
    if not (isinstance(digest, bytes) and len(digest) == DIGEST_SIZE and has_subtrees(conn)):
        return None
    try:
        steps = StoredTree(conn, size).inclusion_proof(position)
    except AuditError:
        return None
    holds = verify_inclusion(
        reference_leaf_hash(digest), position, size, steps, signed.checkpoint.root
    )
    return steps if holds else None


def _proof(
    where: Path,
    position: int,
    canonical: bytes,
    digest: bytes,
    signed: SignedCheckpoint,
    root: bytes,
    path: Sequence[bytes],
    handover: list[dict[str, str]],
) -> InclusionProof:
    size = signed.checkpoint.size
    if root != signed.checkpoint.root:
        raise AuditError(
            f"{where}: the log no longer matches its checkpoint at {size}; run audit verify"
        )
    return InclusionProof(
        format=PROOF_FORMAT,
        origin=signed.checkpoint.origin,
        position=position,
        tree_size=size,
        event_hash=digest.hex(),
        canonical=canonical.decode(),
        path=[step.hex() for step in path],
        checkpoint=signed.to_note(),
        handover=handover,
    )


def prove(store: AuditStore, event_id: str) -> InclusionProof:
    """Build an inclusion proof for an event, against the newest checkpoint covering it.

    Signs a checkpoint first when none covers the event yet.

    Raises:
        AuditError: No event has this id.
    """
    event = store.get(event_id)
    if event is None:
        raise AuditError(f"{store.path}: no event with id {event_id!r}")
    signed = store.latest_checkpoint()
    if signed is None or signed.checkpoint.size <= event.position:
        signed = store.checkpoint()
    size = signed.checkpoint.size
    root, path = store.inclusion_proof(event.position, size)
    conn = _open_read_only(store.path)
    try:
        handover = _handovers(conn, size)
    finally:
        conn.close()
    return _proof(
        store.path, event.position, event.canonical, event.hash, signed, root, path, handover
    )


def _follow_handovers(
    handover: Sequence[dict[str, str]], keys: Sequence[VerifierKey]
) -> list[VerifierKey]:
    trusted = list(keys)
    for step in handover:
        try:
            signed = SignedCheckpoint.parse(step["checkpoint"], source="proof handover")
            new = VerifierKey.parse(step["key"])
        except CheckpointError:
            continue
        if any(key.verifies(signed) for key in trusted) and new.verifies(signed):
            trusted.append(new)
    return trusted


def check_inclusion_proof(proof: InclusionProof, keys: Sequence[VerifierKey]) -> ProofCheck:
    """Check a proof offline: signature, event hash, Merkle path.

    Args:
        proof: The document.
        keys: Verifier keys the auditor trusts. Trust follows the proof's key handovers:
            a checkpoint signed by a trusted key and a new key makes the new key trusted.
    """
    reasons = []
    keys = _follow_handovers(proof.handover, keys)
    try:
        signed = SignedCheckpoint.parse(proof.checkpoint, source="proof checkpoint")
    except CheckpointError as exc:
        return ProofCheck(ok=False, reasons=[str(exc)])
    if not any(key.verifies(signed) for key in keys):
        reasons.append("the checkpoint is not signed by a trusted key")
    if signed.checkpoint.origin != proof.origin or signed.checkpoint.size != proof.tree_size:
        reasons.append("the proof's origin or tree size differs from its checkpoint")
    canonical = proof.canonical.encode()
    try:
        document = json.loads(canonical)
        prev = bytes.fromhex(document["prev_hash"])
        recorded_position = document["position"]
    except (ValueError, KeyError, TypeError):
        return ProofCheck(
            ok=False, reasons=[*reasons, "the event is not a canonical Sentinel event"]
        )
    event_hash = link_hash(prev, canonical)
    if event_hash.hex() != proof.event_hash:
        reasons.append("the event's bytes do not hash to the event hash")
    if recorded_position != proof.position:
        reasons.append(
            f"the event records position {recorded_position}, the proof claims {proof.position}"
        )
    try:
        path = [bytes.fromhex(step) for step in proof.path]
        included = verify_inclusion(
            reference_leaf_hash(event_hash),
            proof.position,
            proof.tree_size,
            path,
            signed.checkpoint.root,
        )
    except ValueError:
        included = False
    if not included:
        reasons.append("the Merkle path does not lead from the event to the signed root")
    return ProofCheck(ok=not reasons, reasons=reasons)


def load_keys(values: Sequence[str]) -> list[VerifierKey]:
    """Verifier keys from strings, or from files, each holding keys separated by whitespace.

    A value with ``+`` is keys (a key always has two, and base64 may add more); any other
    value names a file. So the output of ``sentinel-run audit key`` works both ways.

    Raises:
        CheckpointError: A key is malformed, or a file cannot be read.
    """
    keys = []
    for value in values:
        if "+" in value:
            text = value
        else:
            try:
                text = Path(value).read_text()
            except OSError as exc:
                raise CheckpointError(f"{value}: cannot read keys: {exc.strerror}") from None
        keys += [VerifierKey.parse(word) for word in text.split()]
    return keys


def verifier_keys_in_file(path: Path | str) -> list[VerifierKey]:
    """The verifier keys registered in a store, oldest first, read-only (the last is current).

    Raises:
        StoreCorruptError: The file is not a readable audit store.
    """
    conn = _open_read_only(Path(path))
    try:
        rows = conn.execute("SELECT vkey FROM keys ORDER BY first_size, created_ns").fetchall()
    except sqlite3.DatabaseError as exc:
        raise StoreCorruptError(f"{path}: reading failed: {exc}") from None
    finally:
        conn.close()
    return [VerifierKey.parse(row[0]) for row in rows]
