"""The live judge on its own: windows, carried messages, the route a verdict names."""

from __future__ import annotations

import pytest

from sentinel.agents.backends import gateway_persona
from sentinel.audit import NewEvent
from sentinel.config import DEFAULT_COMPANY, load_company
from sentinel.control import Policy
from sentinel.control.live_judge import LiveJudge
from sentinel.control.policy import JudgeSettings
from sentinel.errors import ConfigError
from sentinel.gateway.persona import Persona
from sentinel.judge.voices import voice
from tests.control.drifting_run import chat, reference


@pytest.fixture(scope="module")
def personas() -> list[Persona]:
    return [gateway_persona(p) for p in load_company(DEFAULT_COMPANY).personas]


def _judge(personas: dict[str, Persona]) -> LiveJudge:
    return LiveJudge(
        personas, "offline", JudgeSettings(interval_ticks=100, embeddings="tfidf"),
        primary=lambda: "primary-now", position=lambda: 0, reference=reference,
    )  # fmt: skip


def _said(judge: LiveJudge, agent_id: str, lines: list[str], first: int, route: str) -> None:
    for n, line in enumerate(lines):
        judge.feed(first + n, chat(agent_id, line, first + n, route))


def test_too_few_messages_are_carried_into_the_next_window(personas: list[Persona]) -> None:
    persona = personas[0]
    judge = _judge({persona.id: persona})
    lines = voice(persona, 10, 3)
    _said(judge, persona.id, lines[:5], 1, "offline")
    assert judge.due(100) and not judge.due(99)
    first = {v.evaluation: v for v in judge.judge(100)}
    assert first["drift"].status == "insufficient_data" and first["drift"].messages == 5
    assert not judge.due(150) and judge.due(200)
    _said(judge, persona.id, lines[5:], 101, "offline-2")
    _said(judge, persona.id, lines[5:6], 106, "offline-2")  # offline-2 answered most: 6 of 11
    second = {v.evaluation: v for v in judge.judge(200)}
    assert second["drift"].status == "passed" and second["drift"].messages == 11
    assert second["drift"].route == "offline-2"
    assert judge.judge(300) == []  # nothing said since: nothing judged


def test_the_route_is_the_primary_when_nothing_was_forwarded(personas: list[Persona]) -> None:
    persona = personas[1]
    judge = _judge({persona.id: persona})
    event = NewEvent(
        f"agent/{persona.id}", "world.action",
        {"agent_id": persona.id, "action_type": "chat", "content": "hello"}, tick=5,
    )  # fmt: skip
    judge.feed(5, [event, NewEvent("judge", "judge.verdict", {"agent_id": "x"})])
    verdicts = judge.judge(100)
    assert {v.route for v in verdicts} == {"primary-now"}
    events = judge.events(verdicts, 100, 3)
    assert {e.payload["input_end"] for e in events} == {3}
    assert {e.tick for e in events} == {100}
    assert judge.summary()["verdicts"] == len(verdicts)


def test_the_judge_settings_are_validated_with_the_field_named() -> None:
    text = Policy.default().text.replace(b"interval_ticks = 3600    #", b"interval_ticks = 0    #")
    with pytest.raises(ConfigError) as caught:
        Policy.from_text(text, "control.toml")
    assert caught.value.field == "judge.interval_ticks"
    text = Policy.default().text.replace(b'embeddings = "auto"', b'embeddings = "bert"')
    with pytest.raises(ConfigError) as caught:
        Policy.from_text(text, "control.toml")
    assert caught.value.field == "judge.embeddings"


def test_a_disabled_judge_is_never_due(personas: list[Persona]) -> None:
    text = Policy.default().text.replace(b"enabled = true", b"enabled = false")
    settings = Policy.from_text(text).document.judge
    judge = LiveJudge(
        {personas[0].id: personas[0]}, "offline", settings,
        primary=lambda: "offline", position=lambda: 0,
    )  # fmt: skip
    assert not judge.due(10**9)
