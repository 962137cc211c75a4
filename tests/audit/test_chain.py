"""Sealing and chaining, native vs reference."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.audit.chain import (
    GENESIS,
    chain_extend,
    link_hash,
    mismatched_links,
    reference_chain_extend,
    reference_mismatched_links,
    reference_seal_events,
    seal_events,
)
from sentinel.errors import InvalidEventError

records = st.lists(st.binary(max_size=300), max_size=50)
digests = st.binary(min_size=32, max_size=32)
events = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.text(max_size=10),
            "position": st.integers(0, 2**40),
            "payload": st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1)),
        }
    ),
    max_size=20,
)


@given(digests, records)
def test_chain_extend_matches_hashlib_loop(prev: bytes, items: list[bytes]) -> None:
    assert chain_extend(prev, items) == reference_chain_extend(prev, items)


@given(digests, events)
def test_seal_matches_reference(prev: bytes, docs: list[dict[str, object]]) -> None:
    sealed = seal_events(prev, docs)
    assert sealed == reference_seal_events(prev, docs)
    assert len(sealed) == len(docs)
    for (canonical, digest), before in zip(sealed, [prev] + [d for _, d in sealed], strict=False):
        assert digest == link_hash(before, canonical)
        assert f'"prev_hash":"{before.hex()}"'.encode() in canonical


@given(st.lists(st.tuples(digests, st.binary(max_size=40), digests), max_size=30))
def test_mismatched_links_match_reference(rows: list[tuple[bytes, bytes, bytes]]) -> None:
    prevs, recs, hashes = ([row[i] for row in rows] for i in range(3))
    # make roughly half of the rows consistent
    hashes = [
        link_hash(p, r) if i % 2 else h
        for i, (p, r, h) in enumerate(zip(prevs, recs, hashes, strict=True))
    ]
    assert mismatched_links(prevs, recs, hashes) == reference_mismatched_links(prevs, recs, hashes)


def test_callers_cannot_set_prev_hash() -> None:
    for seal in (seal_events, reference_seal_events):
        with pytest.raises(InvalidEventError, match=r'^events\[0\]: "prev_hash" is set by the log'):
            seal(GENESIS, [{"prev_hash": "00"}])


def test_events_must_be_dicts() -> None:
    for seal in (seal_events, reference_seal_events):
        with pytest.raises(InvalidEventError, match=r"^events\[1\]: an event must be a dict$"):
            seal(GENESIS, [{}, ["not", "a", "dict"]])  # type: ignore[list-item]
