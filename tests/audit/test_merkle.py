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
