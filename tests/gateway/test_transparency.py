"""Transparency for agent frameworks, through the real ``openai`` client.

Tools, tool choice, tool calls and their results, ``n``, ``response_format``, ``stop``,
``seed`` and ``top_p`` reach the provider unchanged; a plain client key gets the client's
own messages forwarded (no persona prompt), with budgets, screens and audit still applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from sentinel.audit import AuditStore
from sentinel.gateway import BackgroundServer, Gateway
from sentinel.gateway.settings import AuthSettings, BudgetLimit, BudgetSettings
from tests.gateway.conftest import remote_settings
from tests.gateway.fake_provider import FakeModelServer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

CLIENT_KEY = "sk-plain-client-key"
TOOLS: list[Any] = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]  # fmt: skip
CALL = {"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Berlin"}'}}  # fmt: skip


@pytest.fixture
def proxy(
    tmp_path: Path, fake_model: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Gateway, BackgroundServer, AuditStore]]:
    monkeypatch.setenv("SENTINEL_TEST_FAKE_KEY", "sk-test")
    fake_model.reset()
    auth = AuthSettings(clients={CLIENT_KEY: "ci-bot"})
    budgets = BudgetSettings(limits=(BudgetLimit(scope="agent", period="day", tokens=5_000),))
    store = AuditStore(tmp_path / "audit.db")
    gw = Gateway(remote_settings(fake_model, auth=auth, budgets=budgets), audit=store,
                 ledger_path=tmp_path / "l.db")  # fmt: skip
    with BackgroundServer(gw) as server:
        yield gw, server, store
    gw.close()
    store.close()


def client(server: BackgroundServer, key: str = CLIENT_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)


def test_options_and_tool_calls_reach_the_provider_and_come_back(
    proxy: tuple[Gateway, BackgroundServer, AuditStore], fake_model: FakeModelServer
) -> None:
    _, server, _ = proxy
    fake = fake_model.reset(tool_calls=[CALL])
    messages: list[Any] = [
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": "Weather in Berlin?"},
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
    ]
    with client(server) as c:
        reply = c.chat.completions.create(
            model="remote",
            messages=messages,
            tools=TOOLS, tool_choice="auto", n=2, response_format={"type": "json_object"},
            stop=["\n\n"], seed=7, top_p=0.5, max_tokens=50,
        )  # fmt: skip
    sent = fake.requests[-1]
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto"
    assert sent["n"] == 2 and sent["response_format"] == {"type": "json_object"}
    assert sent["stop"] == ["\n\n"] and sent["seed"] == 7 and sent["top_p"] == 0.5
    assert sent["messages"][2]["tool_calls"][0]["id"] == "call_1"
    assert sent["messages"][3] == {"role": "tool", "tool_call_id": "call_1",
                                   "content": '{"temp": 21}'}  # fmt: skip
    assert len(reply.choices) == 2
    call = reply.choices[0].message.tool_calls
    assert call is not None
    function = call[0].function  # type: ignore[union-attr]
    assert function.name == "get_weather" and json.loads(function.arguments) == {"city": "Berlin"}
    assert reply.choices[0].finish_reason == "tool_calls"


def test_a_plain_key_gets_its_own_messages_with_governance(
    proxy: tuple[Gateway, BackgroundServer, AuditStore], fake_model: FakeModelServer
) -> None:
    gw, server, store = proxy
    fake = fake_model.reset(text="Sure, here is the summary.")
    with client(server) as c:
        reply = c.chat.completions.create(
            model="remote",
            messages=[{"role": "system", "content": "Be terse."},
                      {"role": "user", "content": "Summarise. key AKIAABCDEFGHIJKLMNOP"}],
        )  # fmt: skip
    sent = fake.requests[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "Be terse."}  # not rewritten
    assert "[REDACTED:aws_access_key]" in sent[1]["content"]  # the screens still apply
    assert len(sent) == 2
    assert reply.choices[0].message.content == "Sure, here is the summary."
    extra = reply.model_extra or {}
    assert extra["sentinel"]["agent_id"] == "ci-bot" and extra["sentinel"]["actions"] == []
    gw.flush_audit()
    steps = {e.payload["step"]: e.payload["decision"]
             for e in store.read(correlation_id=reply.id) if "step" in e.payload}  # fmt: skip
    assert steps["compile"] == "transparent" and steps["budget"] == "settled"
    key = gw.ledger.keys("ci-bot", "clients")[0]
    assert gw.ledger.usage(key).tokens == reply.usage.total_tokens  # type: ignore[union-attr]


def test_a_plain_key_draws_on_its_budget(
    proxy: tuple[Gateway, BackgroundServer, AuditStore], fake_model: FakeModelServer
) -> None:
    _, server, _ = proxy
    fake_model.reset()
    with client(server) as c, pytest.raises(openai.APIStatusError) as refused:
        c.chat.completions.create(model="remote", max_tokens=6_000,
                                  messages=[{"role": "user", "content": "hi"}])  # fmt: skip
    assert refused.value.status_code == 402


def test_a_persona_key_still_gets_the_persona_prompt(
    proxy: tuple[Gateway, BackgroundServer, AuditStore], fake_model: FakeModelServer
) -> None:
    _, server, _ = proxy
    fake = fake_model.reset()
    with client(server, key="sentinel-dev") as c:
        c.chat.completions.create(model="remote", messages=[{"role": "user", "content": "hi"}])
    assert "Dana Demo" in fake.requests[-1]["messages"][0]["content"]
