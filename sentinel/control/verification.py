"""Verification of an action: a series of measurements and a verdict (Argo Rollouts' analysis).

Each plane iteration after an action measures the rule's ``verify`` condition on the
target, until a verdict: **Successful** at the first success; **Failed** when failures
exceed ``failure_limit`` (the state got worse than when the action was taken) or errors
exceed ``error_limit`` (it could not be measured); **Inconclusive** when inconclusive
measurements exceed ``inconclusive_limit`` or the TTL ends without another verdict. Every
action gets a verdict: a plane that stops closes what is open as Inconclusive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal, NamedTuple

from sentinel.control.actuator import Command
from sentinel.control.policy import OPERATORS, Comparison, Rule

Result = Literal["success", "failure", "inconclusive", "error"]
Verdict = Literal["Successful", "Failed", "Inconclusive"]


class _Check(NamedTuple):
    """A rule's verification settings, read once per rule.

    Pydantic attributes and the condition's text cost too much to read per measurement in a
    busy iteration (hundreds of measurements).
    """

    comparison: Comparison
    condition: str
    holds: Callable[[Any, Any], Any]
    threshold: float
    text: str
    delay: int
    ttl: int
    tolerance: float
    failure_limit: int
    error_limit: int
    inconclusive_limit: int
    away: int
    """What ``Comparison.worse`` tests: +1 above the baseline (``<``, ``<=``), -1 below it
    (``>``, ``>=``), 0 never worse (``==``, ``!=``)."""


_CHECKS: dict[int, tuple[Rule, _Check]] = {}
_MAX_CHECKS: Final = 4096
"""Rules remembered (by identity; a policy has tens): past this the cache starts over."""
_AWAY: Final = {"<": 1, "<=": 1, ">": -1, ">=": -1}


def _check(rule: Rule) -> _Check:
    found = _CHECKS.get(id(rule))
    if found is not None and found[0] is rule:
        return found[1]
    spec = rule.verify
    comparison = spec.comparison
    check = _Check(
        comparison, spec.condition, OPERATORS[comparison.op], comparison.value, str(comparison),
        spec.initial_delay_ticks, rule.ttl_ticks, spec.tolerance, spec.failure_limit,
        spec.error_limit, spec.inconclusive_limit, _AWAY.get(comparison.op, 0),
    )  # fmt: skip
    if len(_CHECKS) >= _MAX_CHECKS:
        _CHECKS.clear()
    _CHECKS[id(rule)] = (rule, check)
    return check


class Measurement(NamedTuple):
    """One point of the series (a tuple: a plane makes many)."""

    tick: int
    value: float | None
    result: Result


class Analysis:
    """The verification of one applied command.

    A plain class with slots, not a dataclass: a storm iteration opens and closes a hundred
    of them, and a dataclass's generated ``__init__`` with its default factories and
    ``__post_init__`` cost a fifth of each action.

    Args:
        command: What was applied.
        rule: The rule that asked for it.
        decision: The decision id of the iteration that acted (the rollback pointer's target).
        acted_at: The tick of the action.
        baseline: The verified metric's value when the action was taken.
    """

    __slots__ = (
        "_settings", "acted_at", "baseline", "command", "counts", "deadline", "decision",
        "measure_from", "metric", "rule", "series", "verdict", "why",
    )  # fmt: skip

    def __init__(
        self, command: Command, rule: Rule, decision: str, acted_at: int, baseline: float | None
    ) -> None:
        self.command = command
        self.rule = rule
        self.decision = decision
        self.acted_at = acted_at
        self.baseline = baseline
        self.series: list[Measurement] = []
        self.verdict: Verdict | None = None
        self.why = ""
        self.counts = {"success": 0, "failure": 0, "inconclusive": 0, "error": 0}
        """Measurements so far by result."""
        self._settings = check = _check(rule)
        self.metric: str = check.comparison.metric
        """The verified metric (the rule's ``verify`` condition's)."""
        self.measure_from = acted_at + check.delay
        """The first tick a measurement counts (after the initial delay)."""
        self.deadline = acted_at + check.ttl
        """The last tick at which a measurement counts."""

    def __repr__(self) -> str:
        return (
            f"Analysis({self.command.key!r}, rule={self.rule.id!r}, verdict={self.verdict!r}, "
            f"series={self.series!r})"
        )

    def measure(self, tick: int, value: float | None) -> Verdict | None:
        """Add one measurement; return the verdict once there is one."""
        if tick < self.measure_from:
            return None  # Argo's initialDelay: the action needs time to show
        check = self._settings
        result: Result
        baseline = self.baseline
        if value is None:
            result = "error"
        elif check.holds(value, check.threshold):  # value is never NaN here
            result = "success"
        elif baseline is not None and (
            (check.away > 0 and value > baseline + check.tolerance)
            or (check.away < 0 and value < baseline - check.tolerance)
        ):  # Comparison.worse, inlined
            result = "failure"
        else:
            result = "inconclusive"
        self.series.append(Measurement(tick, value, result))
        counts = self.counts
        counts[result] += 1
        if result == "success":
            self._close("Successful", f"{check.text} at tick {tick}")
        elif counts["failure"] > check.failure_limit:
            self._close(
                "Failed", f"{check.comparison.metric} worse than {self.baseline:g} at tick {tick}"
            )
        elif counts["error"] > check.error_limit:
            self._close("Failed", f"{check.comparison.metric} could not be measured")
        elif counts["inconclusive"] > check.inconclusive_limit:
            self._close("Inconclusive", "too many inconclusive measurements")
        elif tick >= self.deadline:
            self._close("Inconclusive", f"{check.text} not reached within {check.ttl} ticks")
        return self.verdict

    def expire(self, why: str) -> Verdict:
        """Close without a further measurement (the plane stopped): Inconclusive."""
        self._close("Inconclusive", why)
        return "Inconclusive"

    def _close(self, verdict: Verdict, why: str) -> None:
        self.verdict = verdict
        self.why = why

    def to_record(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.command.key,
            "decision": self.decision,
            "rule": self.rule.id,
            "target": self.command.target,
            "condition": self._settings.condition,
            "baseline": self.baseline,
            "series": [{"tick": m.tick, "value": m.value, "result": m.result} for m in self.series],
            "verdict": self.verdict,
            "why": self.why,
        }
