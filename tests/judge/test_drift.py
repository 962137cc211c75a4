"""Persona drift: injected persona swaps are found, clean agents are not accused."""

from __future__ import annotations

import pytest

from sentinel.gateway.persona import Persona
from sentinel.judge import judge_messages
from sentinel.judge.embedding import TfidfVectors, Vectorizer, WordLlamaVectors
from sentinel.judge.voices import swapped, voice

MESSAGES = 40
"""Fewer chat messages than an agent of a busy day writes: recall is measured on the hard side."""
REFERENCE = 60


def _rates(personas: list[Persona], vectors: Vectorizer, seeds: range) -> tuple[float, float]:
    """(recall on half-swapped agents, false alarm rate on clean agents) over seeds."""
    hits = alarms = trials = 0
    references = {p.id: voice(p, REFERENCE, 10_000) for p in personas}
    for seed in seeds:
        clean = {p.id: voice(p, MESSAGES, seed) for p in personas}
        impostors = {
            p.id: personas[(i + 1 + 7 * seed) % len(personas)] for i, p in enumerate(personas)
        }
        swaps = {p.id: swapped(p, impostors[p.id], MESSAGES, seed, 0.5) for p in personas}
        for judged, counter in ((clean, "alarm"), (swaps, "hit")):
            verdicts = judge_messages(judged, references, vectors)
            failed = sum(v.status == "failed" for v in verdicts if v.evaluation == "drift")
            if counter == "hit":
                hits += failed
            else:
                alarms += failed
        trials += len(personas)
    return hits / trials, alarms / trials


@pytest.mark.parametrize(
    ("vectors", "seeds"), [(WordLlamaVectors, 3), (TfidfVectors, 2)], ids=["wordllama", "tfidf"]
)
def test_half_swapped_personas_are_found_and_clean_ones_are_not(
    personas: list[Persona], vectors: type[Vectorizer], seeds: int
) -> None:
    recall, false_alarms = _rates(personas, vectors(), range(seeds))
    assert recall >= 0.95
    assert false_alarms <= 0.05


def test_a_verdict_names_its_method_threshold_baseline_and_the_impostor(
    personas: list[Persona],
) -> None:
    agent, impostor = personas[0], personas[30]
    messages = {agent.id: swapped(agent, impostor, 60, 1, 0.5), impostor.id: voice(impostor, 60, 1)}
    references = {p.id: voice(p, REFERENCE, 10_000) for p in (agent, impostor)}
    verdict = next(
        v
        for v in judge_messages(messages, references, WordLlamaVectors())
        if v.agent_id == agent.id and v.evaluation == "drift"
    )
    assert verdict.status == "failed"
    assert "wordllama" in verdict.method and "permutation" in verdict.method
    assert verdict.threshold == 99.0
    assert verdict.percentile is not None and verdict.percentile >= 99.0
    assert verdict.details["statistic"] > verdict.details["baseline_mean"]
    assert verdict.explanation.toward == impostor.id
    assert verdict.explanation.top_words and len(verdict.explanation.examples) == 3
    assert set(verdict.explanation.examples) <= set(messages[agent.id])
    assert 0.2 <= verdict.score <= 0.7  # about half the messages are someone else's
    attributes = verdict.otel_attributes()
    assert attributes["gen_ai.evaluation.name"] == "sentinel.drift"
    assert attributes["gen_ai.evaluation.score.label"] == "failed"


def test_too_few_messages_give_no_verdict(personas: list[Persona]) -> None:
    agent = personas[0]
    verdicts = judge_messages(
        {agent.id: voice(agent, 3, 0)}, {agent.id: voice(agent, REFERENCE, 1)}, TfidfVectors()
    )
    assert {v.status for v in verdicts} == {"insufficient_data"}


def test_an_agent_without_reference_is_not_judged_for_drift(personas: list[Persona]) -> None:
    agent = personas[0]
    verdicts = judge_messages({agent.id: voice(agent, 40, 0)}, {agent.id: None}, TfidfVectors())
    drift = next(v for v in verdicts if v.evaluation == "drift")
    assert drift.status == "insufficient_data"
    assert "no reference" in drift.explanation.summary
