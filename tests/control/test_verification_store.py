"""The native verification store against its reference on ``Analysis``.

Driven side by side over random rules (every operator, delays, TTLs, tolerances and
limits), batches of opened verifications (unknown baselines), observations with unknown
values, unobserved targets and missing columns, time going back, and a final ``finish``:
both must return the same record entries, the same Failed positions, the same
``verifying`` and ``holds`` answers, the same count of open verifications, and the same
JSON text of the closed entries (``closed_json``, with rollbacks of every kind).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.control import Policy
from sentinel.control.verification_store import ReferenceVerificationStore, VerificationStore
from sentinel.errors import InvalidInputError

METRICS = ("a", "b")
TARGETS = 6

_rule = st.fixed_dictionaries(
    {
        "metric": st.sampled_from(METRICS),
        "op": st.sampled_from([">=", "<=", ">", "<", "==", "!="]),
        "value": st.sampled_from(["0", "3", "2.5", "1e-05", "1234565"]),
        "ttl": st.sampled_from([60, 180, 420]),
        "delay": st.sampled_from([0, 60, 120]),
        "tolerance": st.sampled_from([0, 0.5, 1]),
        "failure_limit": st.integers(0, 1),
        "error_limit": st.integers(0, 1),
        "inconclusive_limit": st.integers(0, 3),
    }
)


def _policy(rules: list[dict[str, Any]]) -> Policy:
    lines = ['revision = "store"']
    for n, rule in enumerate(rules):
        lines += [
            "[[rule]]", f'id = "r{n}"', 'plane = "agent"', 'when = ["a >= 0"]',
            'action = "nudge"', f"ttl_ticks = {rule['ttl']}",
            f'verify = {{ condition = "{rule["metric"]} {rule["op"]} {rule["value"]}", '
            f"initial_delay_ticks = {rule['delay']}, tolerance = {rule['tolerance']}, "
            f"failure_limit = {rule['failure_limit']}, error_limit = {rule['error_limit']}, "
            f"inconclusive_limit = {rule['inconclusive_limit']} }}",
        ]  # fmt: skip
    return Policy.from_text("\n".join(lines).encode())


_value = st.one_of(
    st.sampled_from([0.0, 1.0, 2.5, 3.0, 4.0, 1234565.0, -0.0, 7.25]),
    st.floats(-1e7, 1e7, allow_nan=False),
    st.just(math.nan),
)
_open = st.tuples(
    st.just("open"),
    st.integers(0, 3),  # which rule (modulo the rules drawn)
    st.lists(st.integers(0, TARGETS - 1), min_size=1, max_size=TARGETS, unique=True),
    st.lists(st.one_of(st.none(), _value), min_size=TARGETS, max_size=TARGETS),
    st.tuples(*[st.lists(st.sampled_from([0, 60, 120, 600]), min_size=TARGETS,
                         max_size=TARGETS)] * 2),  # backoff and cooldown until, per id
)  # fmt: skip
_measure = st.tuples(
    st.just("measure"),
    st.sampled_from([60, 60, 120, 0, -120]),
    st.lists(st.integers(-1, TARGETS + 1), min_size=TARGETS, max_size=TARGETS),  # id -> row
    st.lists(st.one_of(st.none(), st.lists(_value, min_size=8, max_size=8)), min_size=2,
             max_size=2),
)  # fmt: skip
_steps = st.lists(st.one_of(_open, _measure), min_size=1, max_size=25)
_rollback = st.one_of(
    st.fixed_dictionaries({"key": st.text(max_size=8), "status": st.just("applied"),
                           "detail": st.one_of(st.text(max_size=8), st.none(), st.integers())}),
    st.just({"key": "k", "status": "error", "detail": 2**70}),  # left to the standard library
    st.just({"key": "\ud800", "status": "error", "detail": ""}),  # a lone surrogate
)  # fmt: skip


def _same_closed_json(
    native: VerificationStore, reference: ReferenceVerificationStore, failed: int, draw: Any
) -> None:
    """Both stores write the last closed entries alike, given the same rollbacks."""
    rollbacks = [draw(_rollback) for _ in range(failed)]
    expected = reference.closed_json(rollbacks)
    written = native.closed_json(rollbacks)
    assert written is None or written == expected
    if not any(r["detail"] == 2**70 or r["key"] == "\ud800" for r in rollbacks):
        assert written == expected  # only those are left to the standard library
    assert native.closed_json([*rollbacks, {}]) is None  # one per Failed entry, or None
    assert reference.closed_json([*rollbacks, {}]) is None


@settings(max_examples=300, deadline=None)
@given(rules=st.lists(_rule, min_size=1, max_size=4), steps=_steps, data=st.data())
def test_the_native_store_is_its_reference(
    rules: list[dict[str, Any]], steps: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    policy = _policy(rules)
    native, reference = VerificationStore(), ReferenceVerificationStore()
    for n, rule in enumerate(policy.rules_of("agent")):
        metric = METRICS.index(rule.verify.comparison.metric)
        assert native.add_rule(rule, metric) == reference.add_rule(rule, metric) == n
    tick, decisions = 0, 0
    for step in steps:
        if step[0] == "open":
            _, which, ids, baselines, until = step
            check = which % len(rules)
            free = np.array(ids, dtype=np.intp)
            taken = native.verifying(check, free)
            assert taken.tolist() == reference.verifying(check, free).tolist()
            backoff_until, cooldown_until = (np.array(u, dtype=np.int64) for u in until)
            assert (
                native.holds(check, free, tick, backoff_until, cooldown_until).tolist()
                == reference.holds(check, free, tick, backoff_until, cooldown_until).tolist()
            )
            ids = [i for i, busy in zip(ids, taken.tolist(), strict=True) if not busy]
            decisions += 1
            arguments = (
                check, f"agent-{decisions:06d}", tick, [f"agent/r{check}/T{i}/{tick}" for i in ids],
                [f"T{i}" for i in ids], ids, [baselines[i] for i in ids],
            )  # fmt: skip
            native.open_many(*arguments)
            reference.open_many(*arguments)
        else:
            _, delta, rows, columns = step
            tick = max(0, tick + delta)
            row_map = np.array(rows, dtype=np.int64)
            arrays = [None if c is None else np.array(c, dtype=np.float64) for c in columns]
            closed = native.measure(tick, row_map, arrays)
            assert closed == reference.measure(tick, row_map, arrays)
            _same_closed_json(native, reference, len(closed[1]), data.draw)
        assert len(native) == len(reference)
    closed = native.finish("stopped")
    assert closed == reference.finish("stopped")
    _same_closed_json(native, reference, len(closed[1]), data.draw)
    assert len(native) == len(reference) == 0


def test_an_entry_is_what_analysis_records() -> None:
    policy = _policy([
        {"metric": "a", "op": "<", "value": "3", "ttl": 600, "delay": 0, "tolerance": 0,
         "failure_limit": 0, "error_limit": 0, "inconclusive_limit": 5}
    ])  # fmt: skip
    store = VerificationStore()
    check = store.add_rule(policy.rules["r0"], 0)
    store.open_many(check, "agent-000001", 0, ["agent/r0/T0/0", "agent/r0/T1/0"],
                    ["T0", "T1"], [0, 1], [5.0, None])  # fmt: skip
    entries, failed = store.measure(60, np.array([0, 1], dtype=np.int64),
                                    [np.array([6.0, 2.0])])  # fmt: skip
    assert failed == [0]
    assert entries == [
        {"key": "agent/r0/T0/0", "decision": "agent-000001", "rule": "r0", "target": "T0",
         "condition": "a < 3", "baseline": 5.0,
         "series": [{"tick": 60, "value": 6.0, "result": "failure"}], "verdict": "Failed",
         "why": "a worse than 5 at tick 60", "rollback": None},
        {"key": "agent/r0/T1/0", "decision": "agent-000001", "rule": "r0", "target": "T1",
         "condition": "a < 3", "baseline": None,
         "series": [{"tick": 60, "value": 2.0, "result": "success"}], "verdict": "Successful",
         "why": "a < 3 at tick 60", "rollback": None},
    ]  # fmt: skip
    assert len(store) == 0


def test_mismatched_batches_and_unknown_checks_are_refused() -> None:
    store = VerificationStore()
    with pytest.raises(InvalidInputError, match="no check 0"):
        store.open_many(0, "d", 0, ["k"], ["T"], [0], [None])
    policy = _policy([
        {"metric": "a", "op": "<", "value": "3", "ttl": 600, "delay": 0, "tolerance": 0,
         "failure_limit": 0, "error_limit": 0, "inconclusive_limit": 5}
    ])  # fmt: skip
    check = store.add_rule(policy.rules["r0"], 0)
    with pytest.raises(InvalidInputError, match="2 keys, 1 targets"):
        store.open_many(check, "d", 0, ["k1", "k2"], ["T"], [0], [None])
