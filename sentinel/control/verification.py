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
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from sentinel.control.actuator import Command
from sentinel.control.policy import OPERATORS, Comparison, Rule

Result = Literal["success", "failure", "inconclusive", "error"]
Verdict = Literal["Successful", "Failed", "Inconclusive"]


class Measurement(NamedTuple):
    """One point of the series (a tuple: a plane makes many)."""

    tick: int
    value: float | None
    result: Result


@dataclass
class Analysis:
    """The verification of one applied command.

    Args:
        command: What was applied.
        rule: The rule that asked for it.
        decision: The decision id of the iteration that acted (the rollback pointer's target).
        acted_at: The tick of the action.
        baseline: The verified metric's value when the action was taken.
    """

    command: Command
    rule: Rule
    decision: str
    acted_at: int
    baseline: float | None
    series: list[Measurement] = field(default_factory=list)
    verdict: Verdict | None = None
    why: str = ""
    counts: dict[str, int] = field(
        default_factory=lambda: {"success": 0, "failure": 0, "inconclusive": 0, "error": 0}
    )
    """Measurements so far by result."""
    metric: str = field(init=False, repr=False, compare=False)
    """The verified metric (the rule's ``verify`` condition's)."""
    measure_from: int = field(init=False, repr=False, compare=False)
    """The first tick a measurement counts (after the initial delay)."""

    _comparison: Comparison = field(init=False, repr=False, compare=False)
    _holds: Callable[[Any, Any], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = self.rule.verify
        self._comparison = comparison = spec.comparison
        self._holds = OPERATORS[comparison.op]
        self.metric = comparison.metric
        self.measure_from = self.acted_at + spec.initial_delay_ticks

    @property
    def deadline(self) -> int:
        """The last tick at which a measurement counts."""
        return self.acted_at + self.rule.ttl_ticks

    def measure(self, tick: int, value: float | None) -> Verdict | None:
        """Add one measurement; return the verdict once there is one."""
        if tick < self.measure_from:
            return None  # Argo's initialDelay: the action needs time to show
        spec = self.rule.verify
        comparison = self._comparison
        result: Result
        if value is None:
            result = "error"
        elif self._holds(value, comparison.value):  # value is never NaN here
            result = "success"
        elif self.baseline is not None and comparison.worse(value, self.baseline, spec.tolerance):
            result = "failure"
        else:
            result = "inconclusive"
        self.series.append(Measurement(tick, value, result))
        counts = self.counts
        counts[result] += 1
        if result == "success":
            self._close("Successful", f"{comparison} at tick {tick}")
        elif counts["failure"] > spec.failure_limit:
            self._close(
                "Failed", f"{comparison.metric} worse than {self.baseline:g} at tick {tick}"
            )
        elif counts["error"] > spec.error_limit:
            self._close("Failed", f"{comparison.metric} could not be measured")
        elif counts["inconclusive"] > spec.inconclusive_limit:
            self._close("Inconclusive", "too many inconclusive measurements")
        elif tick >= self.deadline:
            self._close(
                "Inconclusive", f"{comparison} not reached within {self.rule.ttl_ticks} ticks"
            )
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
            "condition": self.rule.verify.condition,
            "baseline": self.baseline,
            "series": [{"tick": m.tick, "value": m.value, "result": m.result} for m in self.series],
            "verdict": self.verdict,
            "why": self.why,
        }
