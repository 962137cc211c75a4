"""The LLM judge: asked through the gateway, calibrated on the golden set, drift flagged."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sentinel.audit import AuditStore
from sentinel.gateway import Gateway
from sentinel.gateway.persona import Persona
from sentinel.gateway.providers.base import ProviderReply
from sentinel.judge.golden import GOLDEN
from sentinel.judge.llm_judge import (
    JUDGE_ID,
    JUDGE_PERSONA,
    LlmJudge,
    OfflineJudgeModel,
    judge_breaks,
    judge_gateway,
)


def test_the_offline_judge_goes_through_the_gateway_and_agrees_with_the_golden_set(
    tmp_path: Path,
) -> None:
    with AuditStore(tmp_path / "judge.db") as store:
        judge = LlmJudge(judge_gateway(store))
        calibration = judge.calibrate()
        again = judge.calibrate(previous=calibration)
        # "token limit" in developer talk is in character (the reference's detector said no).
        assert judge.ask("The token limit on the API gateway is too low.").label == "in_character"
        assert judge.ask("As a language model I have no feelings.").label == "out_of_character"
        calls = [
            e for e in store.read(type="gateway.model_call") if e.payload["agent_id"] == JUDGE_ID
        ]
    assert calibration.calibrated and calibration.agreement == 1.0
    assert calibration.items == len(GOLDEN) == 16 and calibration.unparsed == 0
    assert not again.drifted and again.answers_digest == calibration.answers_digest
    assert len(calls) == 34  # every question (2 x 16 + 2) was a gateway request, recorded


class _Drifted(OfflineJudgeModel):
    """The offline judge after a bad update: calls everything in character."""

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
        text = json.dumps({"label": "in_character", "confidence": 0.99, "reason": "fine"})
        return ProviderReply(text, 10, 10, self.model)


def test_a_judge_whose_answers_changed_is_flagged_and_not_calibrated() -> None:
    good = LlmJudge(judge_gateway()).calibrate()
    drifted_gateway = Gateway(
        personas=[JUDGE_PERSONA], ledger_path=":memory:",
        providers={"judge-offline": _Drifted("judge-offline")},
    )  # fmt: skip
    drifted = LlmJudge(drifted_gateway).calibrate(previous=good)
    assert drifted.agreement == 0.5
    assert drifted.drifted and not drifted.calibrated


def test_a_model_that_does_not_judge_is_not_calibrated() -> None:
    # The world's offline provider answers as a persona (an action), never with a label.
    calibration = LlmJudge(judge_gateway(), model="offline").calibrate()
    assert calibration.unparsed == 16 and calibration.agreement == 0.0
    assert not calibration.calibrated


def test_an_agent_that_breaks_character_fails_the_llm_verdict() -> None:
    judge = LlmJudge(judge_gateway())
    calibration = judge.calibrate()
    lines = ["Coffee first, then the standup.", "As an AI language model, I cannot do that."]
    verdict = judge_breaks(judge, calibration, "AGENT-07", [lines[0]] * 9 + [lines[1]])
    assert verdict.status == "failed" and verdict.score == 0.1
    assert verdict.explanation.examples == (lines[1],)
    clean = judge_breaks(judge, calibration, "AGENT-07", [lines[0]] * 10)
    assert clean.status == "passed"
    unused = LlmJudge(judge_gateway(), model="offline")
    verdict = judge_breaks(unused, unused.calibrate(), "AGENT-07", lines)
    assert verdict.status == "insufficient_data"
    assert "agreement below" in verdict.explanation.summary
    assert judge_breaks(judge, calibration, "AGENT-07", []).status == "insufficient_data"
