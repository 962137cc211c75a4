"""The ``.events`` body: what is framed is read back, a damaged body is refused, the cut is exact."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.durable.event_batch import (
    FramedEvent,
    cut_batches,
    decode_batch,
    encode_batch,
    record_size,
)
from sentinel.errors import DurableError

events = st.lists(
    st.builds(
        FramedEvent,
        st.binary(max_size=40),
        st.binary(max_size=40),
        st.binary(max_size=300),
    ),
    max_size=20,
)


@given(events)
def test_decode_reads_back_what_was_encoded(batch: list[FramedEvent]) -> None:
    body = encode_batch(batch)
    assert list(decode_batch(body, "m")) == batch
    assert len(body) == sum(record_size(event) for event in batch)


@given(events.filter(bool), st.data())
def test_a_body_cut_inside_a_record_is_refused(
    batch: list[FramedEvent], data: st.DataObject
) -> None:
    body = encode_batch(batch)
    cut = data.draw(st.integers(0, len(body) - 1))
    boundaries = [0]
    for event in batch:
        boundaries.append(boundaries[-1] + record_size(event))
    if cut in boundaries:  # between records: the records before the cut, nothing invented
        assert list(decode_batch(body[:cut], "m")) == batch[: boundaries.index(cut)]
        return
    with pytest.raises(DurableError, match="stream 7, message 3"):
        list(decode_batch(body[:cut], "stream 7, message 3"))


def test_a_record_running_past_the_body_is_refused() -> None:
    body = encode_batch([FramedEvent(b"p" * 32, b"h" * 32, b"{}")])
    with pytest.raises(DurableError, match="runs past the body"):
        list(decode_batch(body + body[:10], "m"))


@given(
    st.lists(st.binary(max_size=120), max_size=60),
    st.integers(0, 10),
    st.integers(1, 9),
    st.integers(1, 400),
)
def test_the_cut_covers_every_event_once_within_the_limits(
    canonicals: list[bytes], start: int, per_message: int, target: int
) -> None:
    rows = [(start + i, b"p" * 32, b"h" * 32, c) for i, c in enumerate(canonicals)]
    batches = list(cut_batches(rows, per_message, target, 10_000))
    assert batches == list(cut_batches(rows, per_message, target, 10_000))  # same store, same ids
    read: list[tuple[int, bytes, bytes, bytes]] = []
    for first, last, body in batches:
        events = list(decode_batch(body, "m"))
        assert len(events) == last - first + 1 <= per_message
        assert len(body) <= target or len(events) == 1  # only a lone event may exceed it
        read += [(first + i, *event) for i, event in enumerate(events)]
    assert read == rows


def test_an_event_over_the_server_limit_is_refused_by_position() -> None:
    rows = [(0, b"p" * 32, b"h" * 32, b"{}"), (1, b"p" * 32, b"h" * 32, b"x" * 200)]
    with pytest.raises(DurableError, match=r"event at position 1: 270 bytes .* limit of 269"):
        list(cut_batches(rows, 10, 100, 269))
