"""Step 5a: synthesis — answer from a rule, without a model, when the agent's state says enough.

The rules of :class:`~sentinel.gateway.settings.SynthesisSettings` are compiled once into
the native matcher; a batch of fingerprints is decided in one call. Each answer keeps its
provenance (rule id and the fingerprint fields it read) for the audit trail, and the
engine counts decisions per rule so the intercept rate is reported per rule rather than as
one share of gated requests (the reference's flaw).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sentinel.gateway.actions import Action
from sentinel.gateway.fingerprint import (
    DECISION_GATED,
    DECISION_MALFORMED,
    DECISION_NO_RULE,
    Matcher,
    parse_fingerprint,
)
from sentinel.gateway.settings import SynthesisRule, SynthesisSettings

OUTCOME_NAMES = {
    DECISION_MALFORMED: "malformed",
    DECISION_GATED: "gated",
    DECISION_NO_RULE: "no_rule",
}
"""Names of the outcomes that forward, as counted in :meth:`SynthesisEngine.stats`."""


@dataclass(frozen=True)
class Synthesized:
    """A rule's answer: the action, its text, and where it came from."""

    rule_id: str
    action: Action
    text: str
    inputs: dict[str, int | str]


class SynthesisEngine:
    """The compiled rule set with its per-rule counters; thread-safe.

    Args:
        settings: Gate and rules.
    """

    def __init__(self, settings: SynthesisSettings) -> None:
        self.settings = settings
        self.rules: tuple[SynthesisRule, ...] = settings.rules
        self.matcher = Matcher(settings.gate, [rule.when for rule in settings.rules])
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def decide_many(self, fingerprints: Sequence[str | None]) -> list[Synthesized | str]:
        """Decide a batch: a :class:`Synthesized` answer, or the outcome name that forwards.

        A missing fingerprint (None) counts as ``no_fingerprint``.
        """
        present = [fp for fp in fingerprints if fp is not None]
        codes = iter(self.matcher.decide_many(present) if self.settings.enabled else [])
        results: list[Synthesized | str] = []
        for fingerprint in fingerprints:
            if fingerprint is None:
                results.append("no_fingerprint")
            elif not self.settings.enabled:
                results.append("disabled")
            else:
                results.append(self._answer(next(codes), fingerprint))
        with self._lock:
            self._counts.update(r.rule_id if isinstance(r, Synthesized) else r for r in results)
        return results

    def decide(self, fingerprint: str | None) -> Synthesized | str:
        """:meth:`decide_many` for one fingerprint."""
        return self.decide_many([fingerprint])[0]

    def _answer(self, code: int, fingerprint: str) -> Synthesized | str:
        if code < 0:
            return OUTCOME_NAMES[code]
        rule = self.rules[code]
        fields = parse_fingerprint(fingerprint)
        assert fields is not None  # the matcher parsed it  # noqa: S101
        inputs = {key: fields[key] for key in self.matcher.fields_read[code]}
        inputs["PE"] = fields["PE"]
        content = rule.extrovert if fields["PE"] == "E" else rule.introvert
        action = Action(action_type=rule.action_type, target=rule.target, content=content)
        return Synthesized(rule.id, action, action.model_dump_json(), inputs)

    def stats(self) -> dict[str, dict[str, float]]:
        """Per rule and per forwarding outcome: count and share of all decisions."""
        with self._lock:
            total = sum(self._counts.values())
            names = [rule.id for rule in self.rules] + [
                *OUTCOME_NAMES.values(),
                "no_fingerprint",
                "disabled",
            ]
            return {
                name: {
                    "count": self._counts[name],
                    "rate": self._counts[name] / total if total else 0.0,
                }
                for name in names
            }
