"""RFC 6962 Merkle tree hashing, native and reference.

The public functions call the Rust core; the ``reference_*`` functions are the same rules
written as the RFC states them. They are the oracle of the property tests and the baseline
of the benchmarks, and an independent verifier can port them line by line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sentinel import _native
from sentinel.errors import InvalidInputError

LEAF_PREFIX = b"\x00"
"""RFC 6962 section 2.1: prefix of a leaf hash input."""
NODE_PREFIX = b"\x01"
"""RFC 6962 section 2.1: prefix of an interior node hash input."""
DIGEST_SIZE = 32
"""Size of a SHA-256 digest in bytes."""


def leaf_hashes(items: Sequence[bytes]) -> list[bytes]:
    """Hash each item as an RFC 6962 leaf, in one native call.

    Args:
        items: The leaf contents.

    Returns:
        ``SHA-256(0x00 || item)`` for each item, in order.
    """
    return _native.merkle_leaf_hashes(list(items))


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    """Compute the RFC 6962 Merkle tree hash over leaf hashes, in one native call.

    Args:
        hashes: Leaf hashes (each 32 bytes), in log order.

    Returns:
        The 32-byte root; ``SHA-256(b"")`` for an empty tree.

    Raises:
        InvalidInputError: An item is not 32 bytes; the message names its index.
    """
    return _native.merkle_root(list(hashes))


def reference_leaf_hash(item: bytes) -> bytes:
    """Return ``SHA-256(0x00 || item)``, RFC 6962's leaf hash."""
    return hashlib.sha256(LEAF_PREFIX + item).digest()


def reference_node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``, RFC 6962's interior node hash."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def reference_root(hashes: Sequence[bytes]) -> bytes:
    """Compute the Merkle tree hash by RFC 6962's recursive definition.

    ``MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`` where ``k`` is the largest
    power of two strictly smaller than ``n``.

    Raises:
        InvalidInputError: An item is not 32 bytes; the message names its index.
    """
    for index, item in enumerate(hashes):
        if len(item) != DIGEST_SIZE:
            raise InvalidInputError(
                f"item {index}: expected a 32-byte SHA-256 digest, found {len(item)} bytes"
            )
    return _reference_subtree(list(hashes))


def _reference_subtree(hashes: list[bytes]) -> bytes:
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)
    return reference_node_hash(
        _reference_subtree(hashes[:split]), _reference_subtree(hashes[split:])
    )
