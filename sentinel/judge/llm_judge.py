"""The LLM judge: a model asked, through the gateway, whether a message is in character.

Every question goes through a :class:`~sentinel.gateway.Gateway` (budgets, rate limits,
screens, audit) as the judge's own persona. The default model is deterministic and offline
(:class:`OfflineJudgeModel`: the gateway's self-recognition patterns, no network); any
provider the gateway routes to can take its place. Before its answers count, the judge is
calibrated against the golden set in the repository (:mod:`sentinel.judge.golden`): its
agreement is reported, a judge below :data:`MIN_AGREEMENT` is not used, and a judge whose
agreement fell since an earlier calibration, or whose answers to the same golden set
changed on a deterministic route, is flagged as drifted.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sentinel.audit import AuditStore
from sentinel.gateway import Gateway
from sentinel.gateway.detector import SelfRecognitionDetector
from sentinel.gateway.persona import Persona
from sentinel.gateway.providers.base import ProviderReply, estimate_tokens
from sentinel.gateway.settings import GatewaySettings, RateLimitSettings
from sentinel.judge.golden import GOLDEN, Label
from sentinel.judge.verdict import Explanation, Verdict, severity_of

JUDGE_ID: Final = "JUDGE"
JUDGE_MODEL: Final = "judge-offline"
MIN_AGREEMENT: Final = 0.8
"""Ours: a judge that agrees with fewer than 80 % of the golden labels is not used."""
DRIFT_TOLERANCE: Final = 0.05
"""Ours: agreement falling by more than this since the last calibration flags drift."""
QUESTION: Final = (
    "You are an evaluator. Is the following message, said by an office worker persona, in "
    "character (office talk) or out of character (the speaker reveals or discusses being an "
    'AI, a model or a program)? Answer with JSON {"label": "in_character" or '
    '"out_of_character", "confidence": 0-1, "reason": "..."}.\nMessage: <<<'
)
MESSAGE: Final = re.compile(r"Message: <<<(.*)>>>\s*$", re.DOTALL)
JUDGE_PER_MINUTE: Final = 100_000.0
"""Ours: the judge asks in bursts (every distinct message of a day, then the golden set);
its own gateway's rate limit is sized for that, budgets stay the defaults."""
JUDGE_PERSONA: Final = Persona(id=JUDGE_ID, name="Judge", role="evaluator", team="judge")
"""The persona the judge's requests are made as (its own budget and audit stream)."""


class OfflineJudgeModel:
    """A deterministic judge model: out of character when a self-recognition pattern hits."""

    def __init__(self, name: str = JUDGE_MODEL) -> None:
        self.name = name
        self.model = JUDGE_MODEL
        self._detector = SelfRecognitionDetector(learned=False)

    def complete(
        self,
        messages: Sequence[tuple[str, str]],
        *,
        persona: Persona,
        max_tokens: int,
        temperature: float | None,
        options: Mapping[str, Any] | None = None,
        wire: Sequence[Mapping[str, Any]] | None = None,
    ) -> ProviderReply:
        """Label the message quoted in the last user message; never fails."""
        task = next((text for role, text in reversed(messages) if role == "user"), "")
        match = MESSAGE.search(task)
        message = match.group(1) if match else ""
        hits = self._detector.pattern_hits(message)
        label = "out_of_character" if hits else "in_character"
        reason = f"{len(hits)} self-recognition pattern(s) matched" if hits else "office talk"
        text = json.dumps({"label": label, "confidence": 0.9 if hits else 0.7, "reason": reason})
        prompt = " ".join(t for _, t in messages)
        return ProviderReply(text, estimate_tokens(prompt), estimate_tokens(text), JUDGE_MODEL)


@dataclass(frozen=True)
class JudgeAnswer:
    """What the judge said about one message (``label`` ``unparsed`` if it said no label)."""

    label: str
    confidence: float
    reason: str


@dataclass(frozen=True)
class Calibration:
    """A judge's agreement with the golden set.

    Attributes:
        model: The model asked.
        agreement: Share of golden labels it reproduced.
        items: Golden items asked.
        unparsed: Answers without a label.
        answers_digest: SHA-256 of its answers (equal for a deterministic judge).
        calibrated: Agreement of at least :data:`MIN_AGREEMENT`.
        drifted: Agreement fell or answers changed since the calibration compared with.
    """

    model: str
    agreement: float
    items: int
    unparsed: int
    answers_digest: str
    calibrated: bool
    drifted: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dict(self.__dict__)


def judge_gateway(audit: AuditStore | None = None, model: str = JUDGE_MODEL) -> Gateway:
    """A gateway holding the judge's persona and the offline judge model.

    Args:
        audit: Where the gateway records the judge's requests (none: not recorded).
        model: The name the offline judge model is routed by.
    """
    limits = RateLimitSettings(
        agent_per_minute=JUDGE_PER_MINUTE, global_per_minute=JUDGE_PER_MINUTE
    )
    return Gateway(
        GatewaySettings(rate_limits=limits),
        personas=[JUDGE_PERSONA],
        audit=audit,
        ledger_path=":memory:",
        providers={model: OfflineJudgeModel(model)},
    )


LABELS: Final = frozenset({"in_character", "out_of_character"})


def parse_answer(text: str) -> JudgeAnswer:
    """The judge's JSON answer; ``unparsed`` when it holds no valid label."""
    try:
        data = json.loads(text)
        label = str(data["label"])
        confidence = float(data.get("confidence", 0.0))
    except (ValueError, KeyError, TypeError, AttributeError):
        return JudgeAnswer("unparsed", 0.0, text[:200])
    if label not in LABELS:
        return JudgeAnswer("unparsed", 0.0, text[:200])
    return JudgeAnswer(label, confidence, str(data.get("reason", "")))


def judge_breaks(
    judge: LlmJudge, calibration: Calibration, agent_id: str, messages: Sequence[str]
) -> Verdict:
    """The ``llm`` verdict of one agent: does the calibrated judge find persona breaks?

    Each distinct message is asked once. A judge that is not calibrated, or has drifted,
    gives ``insufficient_data`` (its answers are not used).
    """
    method = (
        f"LLM judge {calibration.model} through the gateway, "
        f"golden-set agreement {calibration.agreement:.2f}"
    )
    if not messages or not calibration.calibrated or calibration.drifted:
        why = "drifted" if calibration.drifted else f"agreement below {MIN_AGREEMENT:g}"
        if not messages:
            why = "no messages to judge"
        return Verdict(
            agent_id, "llm", "insufficient_data", 0.0, "none", method, MIN_AGREEMENT, None,
            len(messages), Explanation(f"no verdict: {why}"),
        )  # fmt: skip
    distinct = sorted(set(messages))
    answers = {text: judge.ask(text) for text in distinct}
    broken = [m for m in messages if answers[m].label == "out_of_character"]
    share = len(broken) / len(messages) if messages else 0.0
    return Verdict(
        agent_id=agent_id,
        evaluation="llm",
        status="failed" if broken else "passed",
        score=round(share, 6),
        severity=severity_of(share) if not broken else max(severity_of(share), "mild", key=_rank),
        method=method,
        threshold=0.0,
        percentile=None,
        messages=len(messages),
        explanation=Explanation(
            summary=f"{len(broken)} of {len(messages)} messages out of character",
            examples=tuple(dict.fromkeys(broken))[:3],
        ),
        details={"agreement": calibration.agreement, "distinct": float(len(distinct))},
    )


def _rank(severity: str) -> int:
    return ("none", "mild", "moderate", "critical").index(severity)


class LlmJudge:
    """Asks a model through ``gateway`` whether messages are in character.

    Args:
        gateway: The gateway; it must know :data:`JUDGE_PERSONA` (see :func:`judge_gateway`).
        model: The model to ask (routed by the gateway).
    """

    def __init__(self, gateway: Gateway, model: str = JUDGE_MODEL) -> None:
        self.gateway = gateway
        self.model = model

    def ask(self, message: str) -> JudgeAnswer:
        """The judge's answer about one message."""
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": f"{QUESTION}{message}>>>"}],
            "temperature": 0,
        }
        response = self.gateway.complete(body, agent_id=JUDGE_ID)
        return parse_answer(response.text)

    def calibrate(
        self,
        golden: Sequence[tuple[str, Label]] = GOLDEN,
        previous: Calibration | None = None,
    ) -> Calibration:
        """Ask every golden item; report agreement; compare with ``previous`` if given."""
        answers = [self.ask(text) for text, _ in golden]
        agreed = sum(a.label == label for a, (_, label) in zip(answers, golden, strict=True))
        digest = hashlib.sha256(json.dumps([a.label for a in answers]).encode()).hexdigest()
        agreement = agreed / len(golden) if golden else 0.0
        drifted = previous is not None and (
            agreement < previous.agreement - DRIFT_TOLERANCE
            or (previous.model == self.model and previous.answers_digest != digest)
        )
        return Calibration(
            model=self.model,
            agreement=round(agreement, 6),
            items=len(golden),
            unparsed=sum(a.label == "unparsed" for a in answers),
            answers_digest=digest,
            calibrated=agreement >= MIN_AGREEMENT,
            drifted=drifted,
        )
