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


def reference_subtree(hashes: Sequence[bytes], level: int, index: int) -> bytes:
    """MTH of the complete subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``.

    The reference of ``MerkleLog.subtree``.

    Raises:
        InvalidInputError: The leaves do not reach the end of that subtree.
    """
    start, end = index << level, (index + 1) << level
    if index < 0 or end > len(hashes):
        raise InvalidInputError(f"tree size {end} is larger than the log ({len(hashes)} events)")
    return reference_root(hashes[start:end])


MerkleLog = _native.MerkleLog
"""Native append-only Merkle tree: ``append(leaf_hashes)``, ``root(size)``,
``inclusion_proof(index, size)``, ``consistency_proof(old, new)``, ``subtree(level, index)``."""


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2, natively: is the leaf at ``index`` in the tree with ``root``?"""
    return _native.merkle_verify_inclusion(leaf_hash, index, size, list(proof), root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2, natively: is the old tree a prefix of the new one?"""
    return _native.merkle_verify_consistency(old_size, new_size, old_root, new_root, list(proof))


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def reference_inclusion_proof(hashes: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 9162 section 2.1.3.1 ``PATH(m, D[n])`` over all leaf hashes, as written."""
    n = len(hashes)
    if not 0 <= index < n:
        raise InvalidInputError(f"leaf index {index} is outside a tree of {n} leaves")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*reference_inclusion_proof(hashes[:k], index), _reference_subtree(list(hashes[k:]))]
    return [*reference_inclusion_proof(hashes[k:], index - k), _reference_subtree(list(hashes[:k]))]


def reference_consistency_proof(hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """RFC 9162 section 2.1.4.1 ``PROOF(m, D[n])``, as written."""
    if not 0 < old_size <= len(hashes):
        raise InvalidInputError(
            f"a consistency proof needs 0 < old size <= new size, got {old_size} and {len(hashes)}"
        )
    return _reference_subproof(old_size, list(hashes), complete=True)


def _reference_subproof(m: int, hashes: list[bytes], *, complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [_reference_subtree(hashes)]
    k = _split(n)
    if m <= k:
        return [
            *_reference_subproof(m, hashes[:k], complete=complete),
            _reference_subtree(hashes[k:]),
        ]
    return [*_reference_subproof(m - k, hashes[k:], complete=False), _reference_subtree(hashes[:k])]


def reference_verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2, step by step."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = reference_node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = reference_node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def reference_verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2, step by step."""
    if old_size <= 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = reference_node_hash(c, fr)
            sr = reference_node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = reference_node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
