"""Output guards: the judge clears or confirms, fails closed, gates are hooks."""

from __future__ import annotations

from collections.abc import Sequence

from sentinel.gateway import DEMO_PERSONAS, JudgeVerdict, ModelJudge, OutputGuards, Persona
from sentinel.gateway.detector import DetectorHit
from sentinel.gateway.providers.base import ProviderReply
from sentinel.gateway.settings import GuardSettings

DANA = DEMO_PERSONAS[0]
BREAK = "As an AI language model, I cannot drink coffee."


def test_clean_reply_passes() -> None:
    review = OutputGuards(GuardSettings()).review('{"action_type": "work"}', DANA)
    assert review.clean and review.hits == []


def test_detected_break_is_confirmed_by_the_default_judge() -> None:
    review = OutputGuards(GuardSettings()).review(BREAK, DANA)
    assert not review.clean and review.verdict is not None and review.verdict.is_break


def test_judge_can_clear_with_high_confidence_only() -> None:
    def sure(text: str, persona: Persona, hits: Sequence[DetectorHit]) -> JudgeVerdict:
        return JudgeVerdict(False, 0.95, "quoting a film")

    def unsure(text: str, persona: Persona, hits: Sequence[DetectorHit]) -> JudgeVerdict:
        return JudgeVerdict(False, 0.8, "maybe")

    assert OutputGuards(GuardSettings(), judge=sure).review(BREAK, DANA).clean
    assert not OutputGuards(GuardSettings(), judge=unsure).review(BREAK, DANA).clean


def test_judge_failure_fails_closed() -> None:
    def broken(text: str, persona: Persona, hits: Sequence[DetectorHit]) -> JudgeVerdict:
        raise TimeoutError("judge model timed out")

    review = OutputGuards(GuardSettings(), judge=broken).review(BREAK, DANA)
    assert not review.clean and "failing closed" in review.reason


class _Scripted:
    name = model = "judge"

    def __init__(self, text: str) -> None:
        self.text = text

    def complete(self, messages: Sequence[tuple[str, str]], *, persona: Persona, max_tokens: int,
                 temperature: float | None, **_: object) -> ProviderReply:  # fmt: skip
        return ProviderReply(self.text, 1, 1, "judge")


def test_model_judge_parses_verdict_and_fails_closed_on_garbage() -> None:
    good = ModelJudge(_Scripted('{"break": false, "confidence": 0.9, "reason": "fine"}'), DANA)
    assert OutputGuards(GuardSettings(), judge=good).review(BREAK, DANA).clean
    garbage = ModelJudge(_Scripted("I think it is fine"), DANA)
    assert not OutputGuards(GuardSettings(), judge=garbage).review(BREAK, DANA).clean


def test_gates_are_hooks() -> None:
    def too_short(text: str, persona: Persona) -> str | None:
        return "too short" if len(text) < 5 else None

    guards = OutputGuards(GuardSettings(), gates=[too_short])
    assert guards.review("ok", DANA).gate_reasons == ["too short"]
    assert guards.review("a longer reply", DANA).clean
