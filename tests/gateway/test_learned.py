"""Learned patterns: promote at >= 0.90 with >= 50 samples, probe every 100, decay on change."""

from __future__ import annotations

from sentinel.gateway import Gateway
from sentinel.gateway.learned import LearnedPatterns
from sentinel.gateway.settings import LearnedSettings
from tests.gateway.conftest import chat, fingerprint

FP = "fp"


def test_promotion_needs_samples_and_confidence() -> None:
    learned = LearnedPatterns(LearnedSettings())
    for _ in range(49):
        learned.observe("A", FP, "d1", "same")
    assert learned.lookup("A", FP, "d1") is None  # 49 samples
    learned.observe("A", FP, "d1", "same")
    answer = learned.lookup("A", FP, "d1")
    assert answer is not None and answer.text == "same" and answer.samples == 50
    other = LearnedPatterns(LearnedSettings())
    for i in range(100):
        other.observe("A", FP, "d1", "same" if i % 10 else "different")  # confidence 0.9
    assert other.lookup("A", FP, "d1") is not None
    other.observe("A", FP, "d1", "different")
    assert other.lookup("A", FP, "d1") is None  # 90/101 < 0.90


def test_every_hundredth_answer_is_a_probe() -> None:
    learned = LearnedPatterns(LearnedSettings())
    for _ in range(50):
        learned.observe("A", FP, "d1", "same")
    answers = [learned.lookup("A", FP, "d1") for _ in range(200)]
    probes = [i for i, a in enumerate(answers) if a is None]
    assert probes == [99, 199]


def test_persona_change_halves_confidence_until_new_samples() -> None:
    learned = LearnedPatterns(LearnedSettings())
    for _ in range(60):
        learned.observe("A", FP, "d1", "same")
    assert learned.confidence("A", FP) == 1.0
    assert learned.lookup("A", FP, "d2") is None  # the persona changed
    assert learned.confidence("A", FP) == 0.5
    for _ in range(50):
        learned.observe("A", FP, "d2", "same")
    assert learned.confidence("A", FP) == 1.0


def test_gateway_answers_from_a_promoted_pattern(gateway: Gateway) -> None:
    fp = fingerprint(S=8, P=2)  # no rule matches: forwarded, and learned from
    decisions = [gateway.complete(chat("status?", fingerprint=fp), agent_id="DEMO-01").decision
                 for _ in range(52)]  # fmt: skip
    assert decisions[:50] == ["forwarded"] * 50
    assert decisions[50:] == ["learned", "learned"]


def test_patterns_are_bounded() -> None:
    learned = LearnedPatterns(LearnedSettings(max_patterns=3))
    for fp in ("a", "b", "c"):
        learned.observe("A", fp, "d", "x")
    learned.observe("A", "a", "d", "x")  # "a" is now the most recently used
    learned.observe("A", "d", "d", "x")  # evicts "b"
    assert learned.confidence("A", "b") == 0.0
    assert learned.confidence("A", "a") == 1.0
