"""The test vectors printed in docs/audit-format.md, computed from first principles."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sentinel.audit.chain import GENESIS, reference_seal_events
from sentinel.audit.checkpoints import Checkpoint, CheckpointSigner
from sentinel.audit.merkle import reference_leaf_hash, reference_root

ORIGIN = "sentinel/00000000-0000-4000-8000-000000000000"
SIGNING_SEED = bytes(range(32))
"""The Ed25519 private key of the vectors (RFC 8032 seed); never use it for anything else."""

EVENTS: list[dict[str, object]] = [
    {
        "v": 1, "event_id": "01934b6e-5a00-7000-8000-000000000001", "position": 0,
        "stream": "agent/AGENT-07", "stream_rev": 0, "type": "sandbox.violation",
        "payload": {"agent_id": "AGENT-07", "attempt": "ptrace(PTRACE_ATTACH, 1)", "detail": "",
                    "layer": "seccomp"},
        "lamport": 1, "node": "host-a", "wall_ns": 1732780800000000000, "tick": 120,
        "correlation_id": None, "causation_id": None, "idempotency_key": None,
    },
    {
        "v": 1, "event_id": "01934b6e-5a00-7001-8000-000000000002", "position": 1,
        "stream": "gateway", "stream_rev": 0, "type": "gateway.model_call",
        "payload": {"agent_id": "AGENT-07", "completion_tokens": 42, "cost_usd": 0.00125,
                    "model": "offline", "prompt_tokens": 512, "provider": "offline",
                    "request_id": "req-1", "synthesized": False},
        "lamport": 2, "node": "host-a", "wall_ns": 1732780800000500000, "tick": 121,
        "correlation_id": "req-1", "causation_id": None, "idempotency_key": "req-1/answer",
    },
    {
        "v": 1, "event_id": "01934b6e-5a00-7002-8000-000000000003", "position": 2,
        "stream": "agent/AGENT-07", "stream_rev": 1, "type": "note.free_form",
        "payload": {"text": "Grüße, \"quoted\"\n€ 1e21 = ", "value": 1e21, "small": 1e-7, "list": [1, 2.5, None, True]},
        "lamport": 3, "node": "host-a", "wall_ns": 1732780800001000000, "tick": None,
        "correlation_id": "req-1", "causation_id": "01934b6e-5a00-7001-8000-000000000002",
        "idempotency_key": None,
    },
]  # fmt: skip


def compute() -> dict[str, object]:
    """Canonical bytes, hashes, leaf hashes, root and signed checkpoint of the vectors."""
    sealed = reference_seal_events(GENESIS, EVENTS)
    hashes = [digest for _, digest in sealed]
    signer = CheckpointSigner(ORIGIN, Ed25519PrivateKey.from_private_bytes(SIGNING_SEED))
    root = reference_root([reference_leaf_hash(h) for h in hashes])
    note = signer.sign(Checkpoint(ORIGIN, len(hashes), root)).to_note()
    return {
        "canonical": [canonical.decode() for canonical, _ in sealed],
        "hashes": [h.hex() for h in hashes],
        "leaf_hashes": [reference_leaf_hash(h).hex() for h in hashes],
        "root": root.hex(),
        "root_base64": base64.b64encode(root).decode(),
        "verifier_key": str(signer.verifier),
        "note": note,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(compute(), indent=2, ensure_ascii=False))
