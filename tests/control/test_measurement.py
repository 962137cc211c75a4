"""One measurement's result: ``Analysis.measure`` against the policy's own comparison.

``Analysis.measure`` reads the rule's check once and inlines ``Comparison.worse`` (a storm
iteration measures hundreds of verifications); here both are driven over random
operators, thresholds, baselines, tolerances and values, and must classify alike.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.control import Analysis, Command, Policy

_number = st.integers(-3, 3).map(float)


def _rule(op: str, threshold: float, tolerance: float) -> Policy:
    text = "\n".join(
        ['revision = "measure"', "[planes.agent]", "interval_ticks = 60",
         "[[rule]]", 'id = "r"', 'plane = "agent"', 'when = ["a >= 0"]', 'action = "nudge"',
         "ttl_ticks = 600",
         f'verify = {{ condition = "a {op} {threshold:g}", tolerance = {tolerance:g}, '
         "failure_limit = 5, error_limit = 5, inconclusive_limit = 5 }"]
    )  # fmt: skip
    return Policy.from_text(text.encode())


@settings(max_examples=300, deadline=None)
@given(
    op=st.sampled_from([">=", "<=", ">", "<", "==", "!="]),
    threshold=_number,
    tolerance=st.sampled_from([0.0, 0.5, 1.0]),
    baseline=st.one_of(st.none(), _number),
    value=st.one_of(st.none(), _number),
)
def test_measure_classifies_as_the_comparison_does(
    op: str, threshold: float, tolerance: float, baseline: float | None, value: float | None
) -> None:
    rule = _rule(op, threshold, tolerance).rules["r"]
    comparison = rule.verify.comparison
    analysis = Analysis(Command("agent/r/T/0", "nudge", "T"), rule, "agent-000001", 0, baseline)
    analysis.measure(0, value)
    if value is None:
        expected = "error"
    elif comparison.holds(value):
        expected = "success"
    elif baseline is not None and comparison.worse(value, baseline, tolerance):
        expected = "failure"
    else:
        expected = "inconclusive"
    assert [m.result for m in analysis.series] == [expected]
    assert analysis.counts[expected] == 1 and sum(analysis.counts.values()) == 1
    assert value is None or not math.isnan(value)
