"""The audit trail: append-only, hash-chained, Lamport-ordered, signed, provable.

Open a store, append events, verify::

    from sentinel.audit import AuditStore, verify_store

    with AuditStore("run.db") as store:
        event = store.append("agent/AGENT-07", "sandbox.violation",
                             {"agent_id": "AGENT-07", "layer": "seccomp", "attempt": "ptrace"})
    assert verify_store("run.db").ok
"""

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from sentinel.audit.analytics import export_parquet, query, to_arrow, to_pandas
    from sentinel.audit.checkpoints import (
        Checkpoint,
        CheckpointSigner,
        SignedCheckpoint,
        VerifierKey,
    )
    from sentinel.audit.events import ANY_REVISION, NO_STREAM, Event, NewEvent
    from sentinel.audit.lamport import LamportClock, concurrent, happened_before
    from sentinel.audit.merkle import leaf_hashes, merkle_root
    from sentinel.audit.projections import (
        AGENT_ACTIVITY,
        AGENT_COSTS,
        Projection,
        ProjectionRunner,
    )
    from sentinel.audit.proofs import InclusionProof, check_inclusion_proof, prove
    from sentinel.audit.store import AuditStore
    from sentinel.audit.verify import Problem, VerificationReport, verify_store

_HOMES: Final = {
    **dict.fromkeys(("export_parquet", "query", "to_arrow", "to_pandas"), "analytics"),
    **dict.fromkeys(
        ("Checkpoint", "CheckpointSigner", "SignedCheckpoint", "VerifierKey"), "checkpoints"
    ),
    **dict.fromkeys(("ANY_REVISION", "NO_STREAM", "Event", "NewEvent"), "events"),
    **dict.fromkeys(("LamportClock", "concurrent", "happened_before"), "lamport"),
    **dict.fromkeys(("leaf_hashes", "merkle_root"), "merkle"),
    **dict.fromkeys(
        ("AGENT_ACTIVITY", "AGENT_COSTS", "Projection", "ProjectionRunner"), "projections"
    ),
    **dict.fromkeys(("InclusionProof", "check_inclusion_proof", "prove"), "proofs"),
    "AuditStore": "store",
    **dict.fromkeys(("Problem", "VerificationReport", "verify_store"), "verify"),
}
"""Each public name and its module, imported on first use: ``audit prove`` and
``verify-proof`` start without the event models (pydantic) or the writer, and analytics
bring duckdb and pyarrow (~0.5 s) only when asked for."""


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whichever public name is asked for
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sentinel.audit.{home}"), name)
    globals()[name] = value
    return value


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
