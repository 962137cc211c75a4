"""The judge's verdicts: plain typed records the CLI prints and the control planes consume.

A verdict carries what a reader needs to trust or challenge it: the method, the threshold,
where the observed statistic falls in its random baseline (a percentile), a severity band
and an explanation (top words, example messages).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

Evaluation = Literal["drift", "quality", "fatigue", "llm"]
Status = Literal["passed", "failed", "insufficient_data"]
Severity = Literal["none", "mild", "moderate", "critical"]

SEVERITY_BANDS: Final = ((0.2, "none"), (0.5, "mild"), (0.7, "moderate"))
"""SEED_NOTES, Judge: none < 0.2 <= mild < 0.5 <= moderate < 0.7 <= critical."""
ALERT_FROM: Final = "moderate"
"""SEED_NOTES, Judge: alert on moderate (and critical)."""
EVALUATION_EVENT: Final = "gen_ai.evaluation.result"
"""The OpenTelemetry GenAI event a verdict corresponds to (semantic conventions, events)."""


def severity_of(score: float) -> Severity:
    """The reference's severity band of a score in [0, 1]."""
    if score < SEVERITY_BANDS[0][0]:
        return "none"
    if score < SEVERITY_BANDS[1][0]:
        return "mild"
    return "moderate" if score < SEVERITY_BANDS[2][0] else "critical"


@dataclass(frozen=True)
class Explanation:
    """Why a verdict came out as it did.

    Attributes:
        summary: One sentence.
        top_words: Words most over-represented in the judged messages (vs the reference).
        examples: The messages that weigh most (furthest from the reference, repeated ...).
        toward: For drift: the persona whose reference the drifted messages resemble most.
    """

    summary: str
    top_words: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    toward: str | None = None


@dataclass(frozen=True)
class Verdict:
    """One evaluation of one agent.

    Attributes:
        agent_id: The agent judged.
        evaluation: ``drift``, ``quality``, ``fatigue`` or ``llm`` (the LLM judge's persona
            breaks).
        status: ``failed`` when the evaluation found a problem, ``insufficient_data`` when
            there were too few messages to decide.
        score: In [0, 1]; higher is worse for drift and fatigue, better for quality.
        severity: The reference's band of the problem score.
        method: How it was measured (embedding model or fallback, statistic).
        threshold: The decision threshold, in the unit ``method`` names.
        percentile: Where the observed statistic falls among random baselines (0-100);
            None when the method has no random baseline.
        messages: Messages (or actions) judged.
        explanation: Top words, examples, a sentence.
        details: Numbers behind the score (statistic, baseline mean, counts).
        route: The route the judged messages came through (the run's provider or model):
            what the API control plane rolls back when the verdict fails.
    """

    agent_id: str
    evaluation: Evaluation
    status: Status
    score: float
    severity: Severity
    method: str
    threshold: float
    percentile: float | None
    messages: int
    explanation: Explanation
    details: dict[str, float] = field(default_factory=dict)
    route: str = ""

    @property
    def alert(self) -> bool:
        """Failed at a severity of moderate or worse: what the control planes act on."""
        return self.status == "failed" and self.severity in ("moderate", "critical")

    def otel_attributes(self) -> dict[str, str | float]:
        """The ``gen_ai.evaluation.*`` attributes of this verdict (one to one)."""
        return {
            "gen_ai.evaluation.name": f"sentinel.{self.evaluation}",
            "gen_ai.evaluation.score.value": round(self.score, 6),
            "gen_ai.evaluation.score.label": self.status,
            "gen_ai.evaluation.explanation": self.explanation.summary,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with ``alert`` and the OpenTelemetry attributes."""
        data = asdict(self)
        data["alert"] = self.alert
        data["attributes"] = self.otel_attributes()
        return data
