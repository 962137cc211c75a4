"""Inclusion proofs an auditor can check offline with nothing but a verifier key."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sentinel.audit.chain import link_hash
from sentinel.audit.checkpoints import SignedCheckpoint, VerifierKey
from sentinel.audit.merkle import reference_leaf_hash, verify_inclusion
from sentinel.audit.store import AuditStore
from sentinel.errors import AuditError, CheckpointError

PROOF_FORMAT = "sentinel-inclusion-proof/1"


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
            return cls(**data)
        except TypeError as exc:
            raise CheckpointError(f"{source}: {exc}") from None


@dataclass(frozen=True)
class ProofCheck:
    """The outcome of :func:`check_inclusion_proof`."""

    ok: bool
    reasons: list[str]


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
    if root != signed.checkpoint.root:
        raise AuditError(
            f"{store.path}: the log no longer matches its checkpoint at {size}; run audit verify"
        )
    return InclusionProof(
        format=PROOF_FORMAT,
        origin=signed.checkpoint.origin,
        position=event.position,
        tree_size=size,
        event_hash=event.hash.hex(),
        canonical=event.canonical.decode(),
        path=[step.hex() for step in path],
        checkpoint=signed.to_note(),
    )


def check_inclusion_proof(proof: InclusionProof, keys: Sequence[VerifierKey]) -> ProofCheck:
    """Check a proof offline: signature, event hash, Merkle path.

    Args:
        proof: The document.
        keys: Verifier keys the auditor trusts.
    """
    reasons = []
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
    """Verifier keys from strings, or from files holding one key per line."""
    keys = []
    for value in values:
        candidate = Path(value)
        lines = (
            candidate.read_text().split() if "+" not in value and candidate.is_file() else [value]
        )
        keys += [VerifierKey.parse(line) for line in lines if line.strip()]
    return keys
