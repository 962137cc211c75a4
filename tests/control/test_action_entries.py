"""The native action entries and hold groups against their Python references.

``action_entries`` (a rule's action entries of a record, with their JSON text) against
``reference_action_entries``, over any text (escapes, lone surrogates), any params and
details (integers past 64 bits, subclasses, what JSON cannot hold); ``group_holds`` (a
rule's fired targets by hold code) against ``reference_group_holds``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel import _native
from sentinel.control.action_entries import action_entries, reference_action_entries
from sentinel.control.actuator import Outcome
from sentinel.control.verification_store import group_holds, reference_group_holds


class _Text(str):
    """A str subclass (left to the standard library by the native encoder)."""


_text = st.one_of(st.text(max_size=6), st.sampled_from(["AGENT-0001", '"\\', "\ud800", "é\n"]))
_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), _text,
    _text.map(_Text),
)  # fmt: skip
_FIXED = (str, int, float, bool, type(None))
"""The exact types whose values nobody can change once written (what the text is made of)."""
_detail = st.one_of(_scalar, st.just(object()), st.lists(_scalar, max_size=2))


@settings(max_examples=400, deadline=None)
@given(
    rule=_text, action=_text,
    params=st.dictionaries(st.text(max_size=4), _scalar, max_size=3),
    rows=st.lists(st.tuples(_text, _text, st.sampled_from(["applied", "error"]), _detail),
                  max_size=5),
)  # fmt: skip
def test_action_entries_are_the_reference(
    rule: str, action: str, params: dict[str, Any], rows: list[tuple[str, str, str, Any]]
) -> None:
    targets = [row[0] for row in rows]
    keys = [row[1] for row in rows]
    outcomes = [Outcome(row[1], row[2], row[3]) for row in rows]  # type: ignore[arg-type]
    entries, text = action_entries(rule, action, params, targets, keys, outcomes)
    expected_entries, expected_text = reference_action_entries(
        rule, action, params, targets, keys, outcomes
    )
    assert entries == expected_entries
    assert [list(entry) for entry in entries] == [list(entry) for entry in expected_entries]
    assert all(entry["params"] is params for entry in entries)
    assert text is None or text == expected_text
    plain = _native.stdlib_sorted_json([rule, action, params, expected_entries]) is not None
    values = [*params.values(), *targets, *keys, *(o.status for o in outcomes)]
    fixed = all(type(v) in _FIXED for v in [*values, *(o.detail for o in outcomes)])
    if expected_text is not None and plain and fixed:
        assert text == expected_text  # written whenever the native encoder can write it
    if not fixed:  # a container could change before the step's end reads the dicts
        assert text is None


def test_action_entries_refuse_batches_of_different_lengths() -> None:
    outcome = Outcome("k", "applied", "")
    for entries in (action_entries, reference_action_entries):
        with pytest.raises(ValueError, match="1 targets, 2 keys, 1 outcomes"):
            entries("r", "a", {}, ["T"], ["k", "k2"], [outcome])


@settings(max_examples=300, deadline=None)
@given(codes=st.lists(st.integers(0, 3), max_size=12))
def test_group_holds_is_the_reference(codes: list[int]) -> None:
    array = np.array(codes, dtype=np.int8)
    fired = [f"T{n}" for n in range(len(codes))]
    rows, free, held = group_holds(array, fired)
    expected_rows, expected_free, expected_held = reference_group_holds(array, fired)
    assert rows.dtype == expected_rows.dtype and rows.tolist() == expected_rows.tolist()
    assert free == expected_free
    assert held == expected_held


def test_group_holds_refuses_codes_for_other_targets() -> None:
    for grouped in (group_holds, reference_group_holds):
        with pytest.raises(ValueError, match="2 codes for 1 targets"):
            grouped(np.zeros(2, dtype=np.int8), ["T"])
