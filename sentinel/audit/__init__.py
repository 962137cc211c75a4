"""The audit trail: append-only, hash-chained, Lamport-ordered, signed, provable.

Open a store, append events, verify::

    from sentinel.audit import AuditStore, verify_store

    with AuditStore("run.db") as store:
        event = store.append("agent/AGENT-07", "sandbox.violation",
                             {"agent_id": "AGENT-07", "layer": "seccomp", "attempt": "ptrace"})
    assert verify_store("run.db").ok
"""

from typing import TYPE_CHECKING, Any

from sentinel.audit.checkpoints import Checkpoint, CheckpointSigner, SignedCheckpoint, VerifierKey
from sentinel.audit.events import ANY_REVISION, NO_STREAM, Event, NewEvent
from sentinel.audit.lamport import LamportClock, concurrent, happened_before
from sentinel.audit.merkle import leaf_hashes, merkle_root
from sentinel.audit.projections import AGENT_ACTIVITY, AGENT_COSTS, Projection, ProjectionRunner
from sentinel.audit.proofs import InclusionProof, check_inclusion_proof, prove
from sentinel.audit.store import AuditStore
from sentinel.audit.verify import Problem, VerificationReport, verify_store

if TYPE_CHECKING:
    from sentinel.audit.analytics import export_parquet, query, to_arrow, to_pandas

_ANALYTICS = frozenset({"export_parquet", "query", "to_arrow", "to_pandas"})
"""Imported on first use: they bring duckdb and pyarrow (~0.5 s), which writing,
verifying and proving never need."""


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whichever analytics function is asked for
    if name in _ANALYTICS:
        from sentinel.audit import analytics  # noqa: PLC0415 - the point: lazily

        return getattr(analytics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AGENT_ACTIVITY",
    "AGENT_COSTS",
    "ANY_REVISION",
    "NO_STREAM",
    "AuditStore",
    "Checkpoint",
    "CheckpointSigner",
    "Event",
    "InclusionProof",
    "LamportClock",
    "NewEvent",
    "Problem",
    "Projection",
    "ProjectionRunner",
    "SignedCheckpoint",
    "VerificationReport",
    "VerifierKey",
    "check_inclusion_proof",
    "concurrent",
    "export_parquet",
    "happened_before",
    "leaf_hashes",
    "merkle_root",
    "prove",
    "query",
    "to_arrow",
    "to_pandas",
    "verify_store",
]
