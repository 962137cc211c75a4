"""Step 6: output guards — detector, judge (fails closed), quality and personality gates.

The detector flags replies that may break persona; a judge then decides. A judge that says
"no break" with confidence above ``judge_clean_confidence`` clears the reply; a judge that
fails (raises, answers garbage) counts as a break: the stage fails closed (SEED_NOTES). Gates
are hooks for quality and personality checks: each returns None or a reason. Any finding
asks the pipeline to regenerate, at most ``max_regenerations`` times.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sentinel.gateway.detector import DetectorHit, SelfRecognitionDetector
from sentinel.gateway.detector_model import train_in_background
from sentinel.gateway.persona import Persona
from sentinel.gateway.providers.base import Provider
from sentinel.gateway.settings import GuardSettings

CORRECTION = (
    "Your last reply broke character: you are {name}, a person in this office, not an AI, "
    "a model or a program. Answer again in character, as one JSON action."
)
"""The correction message added before a regeneration (SEED_NOTES: at most 2, temp 0.3)."""


@dataclass(frozen=True)
class JudgeVerdict:
    """A judge's answer: ``{break, confidence, reason}``."""

    is_break: bool
    confidence: float
    reason: str


Judge = Callable[[str, Persona, Sequence[DetectorHit]], JudgeVerdict]
"""Decides whether a flagged reply really breaks persona; may raise (then: break)."""
OutputGate = Callable[[str, Persona], str | None]
"""A quality or personality gate: a reason to regenerate, or None."""


def pattern_judge(text: str, persona: Persona, hits: Sequence[DetectorHit]) -> JudgeVerdict:
    """The default, offline judge: first-person patterns are breaks; more hits, more sure.

    Every detector pattern is a first-person statement, so a hit is taken as a break with
    confidence growing with the number of distinct patterns. Plug in :class:`ModelJudge`
    for a second opinion from a model.
    """
    if not hits:
        return JudgeVerdict(False, 1.0, "no pattern matched")
    confidence = min(1.0, 0.7 + 0.1 * len(hits))
    return JudgeVerdict(True, confidence, "matched " + ", ".join(h.name for h in hits))


class ModelJudge:
    """A judge that asks a model for ``{"break": bool, "confidence": float, "reason": str}``.

    Any failure (provider error, a reply that is not that JSON) raises, and the guard treats
    it as a break.
    """

    def __init__(self, provider: Provider, judge_persona: Persona) -> None:
        self.provider = provider
        self.judge_persona = judge_persona

    def __call__(self, text: str, persona: Persona, hits: Sequence[DetectorHit]) -> JudgeVerdict:
        """Ask the model; raises ValueError on an answer that is not the verdict JSON."""
        prompt = (
            f"Does this reply of the character {persona.name} ({persona.role}) reveal that "
            "the speaker is an AI, a language model or a program, breaking character? "
            f"Patterns that matched: {[h.name for h in hits]}. Reply: {text!r}. Answer only "
            'with JSON {"break": true|false, "confidence": 0..1, "reason": "..."}.'
        )
        reply = self.provider.complete(
            [("user", prompt)], persona=self.judge_persona, max_tokens=200, temperature=0.0
        )
        data = json.loads(reply.text)
        if not isinstance(data, dict) or not isinstance(data.get("break"), bool):
            raise ValueError(  # noqa: TRY004 - a bad answer, not a bad argument
                f"judge answered without a boolean 'break': {reply.text!r:.200}"
            )
        return JudgeVerdict(
            data["break"], float(data.get("confidence", 0)), str(data.get("reason", ""))
        )


@dataclass(frozen=True)
class Review:
    """What the guards found in one reply."""

    clean: bool
    hits: list[DetectorHit] = field(default_factory=list)
    verdict: JudgeVerdict | None = None
    gate_reasons: list[str] = field(default_factory=list)
    reason: str = ""


class OutputGuards:
    """Detector, judge and gates, applied to one reply at a time."""

    def __init__(
        self,
        settings: GuardSettings,
        *,
        judge: Judge = pattern_judge,
        gates: Sequence[OutputGate] = (),
    ) -> None:
        self.settings = settings
        self.detector = SelfRecognitionDetector()
        if settings.detector:
            train_in_background()
        self.judge = judge
        self.gates = list(gates)

    def review(self, text: str, persona: Persona) -> Review:
        """Check a reply; ``clean`` is False when it must be regenerated."""
        hits = self.detector.scan(text) if self.settings.detector else []
        verdict: JudgeVerdict | None = None
        if hits:
            try:
                verdict = self.judge(text, persona, hits)
            except Exception as exc:  # noqa: BLE001 - any judge failure fails closed
                verdict = JudgeVerdict(
                    True, 1.0, f"judge failed ({type(exc).__name__}: {exc}); failing closed"
                )
            cleared = (
                not verdict.is_break and verdict.confidence > self.settings.judge_clean_confidence
            )
            if not cleared:
                return Review(False, hits, verdict, reason=f"persona break: {verdict.reason}")
        reasons = [reason for gate in self.gates if (reason := gate(text, persona))]
        if reasons:
            return Review(False, hits, verdict, reasons, reason="gate: " + "; ".join(reasons))
        return Review(True, hits, verdict)

    def correction(self, persona: Persona) -> str:
        """The correction message for a regeneration."""
        return CORRECTION.format(name=persona.name)
