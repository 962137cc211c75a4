"""The loop against its per-key reference, and the native digest text against the stdlib.

``ControlPlane`` decides holds per rule in numpy, measures only the verifications past
their delay and writes the digest's JSON natively; ``tests/control/reference_loop.py`` is
the loop before that (one key at a time, every open verification each iteration, the
standard library's JSON). Driven side by side over random policies and observations
(targets coming and going or listed twice, unknown values, actuator errors, time going
back) they must produce the same records, digests, counters and actuator calls.
"""

from __future__ import annotations

import gc
import json
import math
import zlib
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sentinel import _native
from sentinel.control import Actuator, ActuatorError, Command, ControlPlane, Observation, Policy
from sentinel.control.clock import VirtualClock
from sentinel.control.record_json import (
    record_json,
    reference_record_json,
    reference_spliced_record_json,
    spliced_record_json,
)
from tests.control import reference_loop

METRICS = frozenset({"a", "b", "c"})
POOL = tuple(f"T{n}" for n in range(6))


class _Flaky(Actuator):
    """Fails some keys (by their CRC), the same way for both loops."""

    plane: ClassVar[str] = "agent"
    actions: ClassVar[frozenset[str]] = frozenset({"nudge"})

    def apply(self, command: Command) -> str:
        if zlib.crc32(command.key.encode()) % 5 == 0:
            raise ActuatorError("refused")
        return f"nudged {command.target}"

    def revert(self, command: Command) -> str:
        if zlib.crc32(command.key.encode()) % 7 == 0:
            raise ActuatorError("stuck")
        return f"restored {command.target}"


_comparison = st.builds(
    lambda m, op, v: f"{m} {op} {v}",
    st.sampled_from(sorted(METRICS)),
    st.sampled_from([">=", "<=", ">", "<", "==", "!="]),
    st.integers(0, 6),
)
_rule = st.fixed_dictionaries(
    {
        "when": st.lists(_comparison, min_size=1, max_size=2),
        "mode": st.sampled_from(["enforce", "enforce", "monitor", "off"]),
        "cooldown_ticks": st.sampled_from([0, 60, 180]),
        "ttl_ticks": st.sampled_from([60, 180, 420]),
        "condition": _comparison,
        "initial_delay_ticks": st.sampled_from([0, 60, 120]),
        "tolerance": st.sampled_from([0, 1]),
        "failure_limit": st.integers(0, 1),
        "error_limit": st.integers(0, 1),
        "inconclusive_limit": st.integers(0, 3),
    }
)


def _policy(rules: list[dict[str, Any]]) -> Policy:
    lines = ['revision = "equivalence"', "[planes.agent]", "interval_ticks = 60",
             "backoff_base_ticks = 60", "backoff_max_ticks = 240"]  # fmt: skip
    for n, rule in enumerate(rules):
        lines += [
            "[[rule]]", f'id = "r{n}"', 'plane = "agent"', f'mode = "{rule["mode"]}"',
            f"when = {json.dumps(rule['when'])}", 'action = "nudge"',
            f"cooldown_ticks = {rule['cooldown_ticks']}", f"ttl_ticks = {rule['ttl_ticks']}",
            f'verify = {{ condition = "{rule["condition"]}", '
            f"initial_delay_ticks = {rule['initial_delay_ticks']}, "
            f"tolerance = {rule['tolerance']}, failure_limit = {rule['failure_limit']}, "
            f"error_limit = {rule['error_limit']}, "
            f"inconclusive_limit = {rule['inconclusive_limit']} }}",
        ]  # fmt: skip
    return Policy.from_text("\n".join(lines).encode())


_value = st.one_of(st.integers(0, 6).map(float), st.just(math.nan))
_step = st.tuples(
    st.sampled_from([60, 60, 60, 120, 0, -120]),  # mostly forward; sometimes back
    st.one_of(
        st.lists(st.sampled_from(POOL), min_size=1, max_size=6, unique=True),
        st.lists(st.sampled_from(POOL), min_size=1, max_size=6),  # a target twice
    ),
    st.lists(st.tuples(_value, _value, _value), min_size=6, max_size=6),
)


@settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(_rule, min_size=1, max_size=4), steps=st.lists(_step, min_size=3, max_size=30)
)
def test_the_loop_decides_as_its_per_key_reference(
    rules: list[dict[str, Any]], steps: list[tuple[int, list[str], list[tuple[float, ...]]]]
) -> None:
    policy = _policy(rules)
    fast_actuator, slow_actuator = _Flaky(), _Flaky()
    fast = ControlPlane("agent", policy, _never, fast_actuator, METRICS, VirtualClock())
    slow = reference_loop.ControlPlane(
        "agent", policy, _never, slow_actuator, METRICS, VirtualClock()
    )
    tick = 0
    for delta, targets, values in steps:
        tick = max(0, tick + delta)
        columns = {
            name: np.array([values[n][k] for n in range(len(targets))], dtype=np.float64)
            for k, name in enumerate(sorted(METRICS))
        }
        observation = Observation("agent", tick, tuple(targets), columns)
        got, expected = fast.step(observation), slow.step(observation)
        assert got.decisions() == expected.decisions()
        assert got.digest() == expected.digest() and fast.previous == slow.previous
    got_end, expected_end = fast.finish(tick), slow.finish(tick)
    assert (got_end is None) == (expected_end is None)
    if got_end is not None and expected_end is not None:
        assert got_end.decisions() == expected_end.decisions()
    assert fast.counters == slow.counters
    assert fast_actuator.log == slow_actuator.log
    event(f"actions>0: {fast.counters['actions'] > 0}")
    event(f"rollbacks>0: {fast.counters['rollbacks'] > 0}")
    event(f"action errors>0: {fast.counters['action_errors'] > 0}")
    event(f"would act>0: {fast.counters['would_act'] > 0}")


def _never(tick: int) -> Observation:
    raise AssertionError("the test steps the planes itself")


_json = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.integers(),
        st.floats(allow_nan=True, allow_infinity=True), st.text(),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4),
        st.lists(inner, max_size=3).map(tuple),
    ),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(value=_json)
def test_the_native_digest_text_is_the_standard_librarys(value: object) -> None:
    assert record_json(value) == reference_record_json(value)
    native = _native.stdlib_sorted_json(value)
    if native is not None:  # None only for what it hands back (here: integers past 64 bits)
        assert native == reference_record_json(value)


@settings(max_examples=400, deadline=None)
@given(value=st.dictionaries(st.text(), _json, max_size=6), data=st.data())
def test_spliced_text_is_written_as_it_is(value: dict[str, object], data: st.DataObject) -> None:
    """Top-level values already written (as ``bytes``) spliced in give the text of the whole."""
    spliced = {
        key: record_json(item) if data.draw(st.booleans()) else item for key, item in value.items()
    }
    expected = reference_record_json(value)
    assert reference_spliced_record_json(spliced) == expected
    assert spliced_record_json(spliced) == expected
    written = _native.stdlib_sorted_json(spliced, verbatim=True)
    assert written is None or written == expected
    if any(isinstance(item, bytes) for item in spliced.values()):
        assert _native.stdlib_sorted_json(spliced) is None  # only with verbatim


@pytest.mark.parametrize(
    "value",
    [{"actions": [b'"ok"']}, {"actions": [{"detail": b"{}"}]}, [b"1"], b"1", {"a": (b"[]",)}],
)
def test_bytes_anywhere_but_a_top_level_value_are_refused(value: object) -> None:
    """A ``bytes`` below the top-level dict's values (an actuator's detail, say) is no JSON
    text: refused as the standard library refuses it, never copied into the digest."""
    assert _native.stdlib_sorted_json(value, verbatim=True) is None
    with pytest.raises(TypeError):
        spliced_record_json(value)


_dyadic = st.builds(
    lambda odd, shift, scale: (2 * odd + 1) / 2**shift * 2**scale,
    st.integers(0, 2**52 - 1), st.integers(0, 60), st.sampled_from([0, 0, 10, 60]),
)  # fmt: skip
"""Exact binary fractions: where a tie between two shortest digit strings can happen
(Python's repr takes the even one; Rust's shortest formatting does not promise it)."""


@settings(max_examples=500)
@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), _dyadic))
def test_native_floats_are_python_repr(value: float) -> None:
    assert _native.stdlib_sorted_json([value]) == f"[{value!r}]".encode()


def test_what_the_native_encoder_hands_back() -> None:
    assert _native.stdlib_sorted_json({1: 2}) is None  # a key that is not a string
    assert _native.stdlib_sorted_json(2**64) is None  # beyond 64 bits
    assert _native.stdlib_sorted_json("\ud800") is None  # a lone surrogate
    assert _native.stdlib_sorted_json(True) == b"true"  # a bool, not the int 1
    assert record_json({1: 2}) == b'{"1":2}'  # the standard library wrote it


def test_an_int_past_63_bits_runs_no_finalizer_mid_walk() -> None:
    """The walk borrows its containers: converting an int of 2**63 or more once raised an
    OverflowError, and making that exception while another is handled can start a
    collection on Python 3.11, whose finalizers could free what the walk still reads."""
    target: dict[str, object] = {}

    class Finalizer:
        def __del__(self) -> None:
            target.clear()  # frees the list the walk is reading

    def arm() -> None:
        cycle = Finalizer()
        cycle.itself = cycle  # type: ignore[attr-defined]

    target["a"] = 2**63
    target["b"] = [f"{'y' * 40}{n}" for n in range(2000)]
    expected = reference_record_json(target)
    threshold = gc.get_threshold()
    try:
        raise KeyError("an exception being handled")  # noqa: TRY301 - the condition tested
    except KeyError:
        gc.collect()
        arm()
        gc.set_threshold(1)
        try:
            written = _native.stdlib_sorted_json(target)
        finally:
            gc.set_threshold(*threshold)
    assert written == expected  # before: None, the walk having read freed memory
    gc.collect()
