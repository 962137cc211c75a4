"""The audit trail: hash-chained, Merkle-checkpointed evidence of everything agents do."""

from sentinel.audit.merkle import leaf_hashes, merkle_root

__all__ = ["leaf_hashes", "merkle_root"]
