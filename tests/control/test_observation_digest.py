"""The native observation digest against its Python reference (``reference_digest``).

Random planes, ticks (negative, past 64 bits), targets (any text, lone surrogates, none,
a list instead of a tuple), columns (NaN of other bit patterns, other dtypes, views that
are not contiguous, none):
``digest`` must give what the reference gives, or raise what it raises.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel import _native
from sentinel.control import Observation

_text = st.one_of(st.text(max_size=8), st.sampled_from(["AGENT-0001", "\ud800", "é", "\x1f"]))
_nans = st.sampled_from([0x7FF8_0000_0000_0000, 0xFFF8_0000_0000_0001, 0x7FF0_0000_0000_0001])


@st.composite
def _observations(draw: st.DrawFn) -> Observation:
    targets = draw(st.lists(_text, max_size=6))
    count = len(targets)
    names = draw(st.lists(st.text(max_size=5), max_size=4, unique=True))
    columns = {}
    for name in names:
        values = np.array(
            draw(st.lists(st.floats(allow_nan=True), min_size=count, max_size=count)),
            dtype=np.float64,
        )
        bits = values.view(np.uint64)
        for row in draw(st.lists(st.integers(0, max(count - 1, 0)), max_size=2)):
            if count:
                bits[row] = draw(_nans)
        dtype = draw(st.sampled_from(["f8", "f4", ">f8", "i8", "strided"]))
        if dtype == "strided":  # a view every other value: not contiguous
            columns[name] = np.repeat(values, 2)[::2]
        elif dtype == "i8":
            columns[name] = np.array(
                draw(st.lists(st.integers(-(2**60), 2**60), min_size=count, max_size=count)),
                dtype=np.int64,
            )
        else:
            with np.errstate(over="ignore", invalid="ignore"):  # float32: inf, NaN kept
                columns[name] = values.astype(dtype)
    tick = draw(st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers()))
    plane = draw(st.one_of(st.sampled_from(["agent", "api"]), _text))
    shape = draw(st.sampled_from([tuple, list]))
    return Observation(plane, tick, shape(targets), columns)


def _outcome(digest: object) -> tuple[str, object]:
    try:
        return "digest", digest()  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - what each raises is compared
        return "raised", type(exc)


@settings(max_examples=400, deadline=None)
@given(observation=_observations())
def test_the_native_digest_is_the_reference(observation: Observation) -> None:
    assert _outcome(observation.digest) == _outcome(observation.reference_digest)


def test_what_the_native_digest_hands_back() -> None:
    column = [np.zeros(1)]
    assert _native.observation_digest("agent", 2**64, ("A",), ["x"], column) is None
    assert _native.observation_digest("agent", True, ("A",), ["x"], column) is None
    assert _native.observation_digest("agent", 0, ["A"], ["x"], column) is None  # a list
    assert _native.observation_digest("agent", 0, ("\ud800",), ["x"], column) is None
    assert _native.observation_digest("agent", 0, ("A", "B"), ["x"], column) is None  # length
    assert _native.observation_digest("agent", 0, ("A",), ["x"], [np.zeros(1, "f4")]) is None
    with pytest.raises(UnicodeEncodeError):
        Observation("agent", 0, ("\ud800",), {}).digest()
