"""The native Merkle functions pinned to their RFC 6962 references."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.audit.merkle import (
    leaf_hashes,
    merkle_root,
    reference_leaf_hash,
    reference_root,
)
from sentinel.errors import InvalidInputError

digests = st.binary(min_size=32, max_size=32)


@given(st.lists(st.binary(max_size=64), max_size=100))
def test_leaf_hashes_match_reference(items: list[bytes]) -> None:
    assert leaf_hashes(items) == [reference_leaf_hash(item) for item in items]


@given(st.lists(digests, max_size=300))
def test_root_matches_reference(hashes: list[bytes]) -> None:
    assert merkle_root(hashes) == reference_root(hashes)


def test_empty_tree_is_sha256_of_nothing() -> None:
    assert merkle_root([]) == reference_root([]) == hashlib.sha256(b"").digest()


def test_rfc6962_vector_for_eight_leaves() -> None:
    inputs = [
        bytes.fromhex(h)
        for h in (
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        )
    ]
    root = merkle_root(leaf_hashes(inputs))
    assert root.hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


@pytest.mark.parametrize("fn", [merkle_root, reference_root])
@given(st.lists(digests, max_size=10), st.binary(max_size=64).filter(lambda b: len(b) != 32))
def test_wrong_digest_length_names_the_index(fn: object, good: list[bytes], bad: bytes) -> None:
    assert callable(fn)
    with pytest.raises(
        InvalidInputError,
        match=rf"^item {len(good)}: expected a 32-byte SHA-256 digest, "
        rf"found {len(bad)} bytes$",
    ):
        fn([*good, bad])


from sentinel.audit.merkle import (  # noqa: E402 - grouped with the proof tests below
    MerkleLog,
    reference_consistency_proof,
    reference_inclusion_proof,
    reference_verify_consistency,
    reference_verify_inclusion,
    verify_consistency,
    verify_inclusion,
)

sizes_and_index = st.integers(min_value=1, max_value=300).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=0, max_value=n - 1))
)


def _log(n: int) -> tuple[MerkleLog, list[bytes]]:
    hashes = [reference_leaf_hash(i.to_bytes(4, "little")) for i in range(n)]
    log = MerkleLog()
    log.append(hashes)
    return log, hashes


@given(sizes_and_index)
def test_inclusion_proofs_match_reference_and_verify(case: tuple[int, int]) -> None:
    n, index = case
    log, hashes = _log(n)
    proof = log.inclusion_proof(index, n)
    assert proof == reference_inclusion_proof(hashes, index)
    root = log.root()
    assert root == reference_root(hashes)
    assert verify_inclusion(hashes[index], index, n, proof, root)
    assert reference_verify_inclusion(hashes[index], index, n, proof, root)
    wrong = reference_leaf_hash(b"forged")
    assert not verify_inclusion(wrong, index, n, proof, root)
    assert not reference_verify_inclusion(wrong, index, n, proof, root)
    if proof:
        bent = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
        assert not verify_inclusion(hashes[index], index, n, bent, root)


@given(sizes_and_index)
def test_consistency_proofs_match_reference_and_verify(case: tuple[int, int]) -> None:
    n, old_minus_one = case
    old = old_minus_one + 1
    log, hashes = _log(n)
    proof = log.consistency_proof(old, n)
    assert proof == reference_consistency_proof(hashes, old)
    old_root, new_root = log.root(old), log.root(n)
    assert old_root == reference_root(hashes[:old])
    assert verify_consistency(old, n, old_root, new_root, proof)
    assert reference_verify_consistency(old, n, old_root, new_root, proof)
    if old < n:
        forged = reference_leaf_hash(b"rewritten history")
        assert not verify_consistency(old, n, forged, new_root, proof)
        assert not reference_verify_consistency(old, n, forged, new_root, proof)


def test_tree_range_errors_are_invalid_input() -> None:
    log, _ = _log(4)
    with pytest.raises(InvalidInputError, match="tree size 5 is larger than the log"):
        log.root(5)
    with pytest.raises(InvalidInputError, match="leaf index 4 is outside a tree of 4 leaves"):
        log.inclusion_proof(4, 4)
    with pytest.raises(InvalidInputError, match="0 < old size <= new size"):
        log.consistency_proof(0, 4)
