"""litellm's real HTTP path against a local OpenAI-compatible server (no mocks in our path)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.audit import AuditStore
from sentinel.errors import ProviderError
from sentinel.gateway import Gateway
from tests.gateway.conftest import chat, remote_settings
from tests.gateway.fake_provider import (
    IN_CHARACTER,
    OUT_OF_CHARACTER,
    FakeModelServer,
    reply_tokens,
)

# litellm imports provider modules lazily on its first call, and those imports warn (pydantic
# TypedDict notices, deprecations) in code that is not ours.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.fixture(autouse=True)
def remote_key() -> Iterator[None]:
    os.environ["SENTINEL_TEST_FAKE_KEY"] = "test-key"
    yield
    del os.environ["SENTINEL_TEST_FAKE_KEY"]


def test_forward_through_litellm(tmp_path: Path, fake_model: FakeModelServer) -> None:
    fake = fake_model.reset()
    with AuditStore(tmp_path / "audit.db") as store:
        gw = Gateway(remote_settings(fake_model), audit=store, ledger_path=tmp_path / "l.db")
        answer = gw.complete(
            chat("What are you working on?", model="remote", tick=5), agent_id="DEMO-01"
        )
        events = [e for e in store.read() if e.correlation_id == answer.request_id]
        gw.close()
    assert answer.decision == "forwarded" and answer.provider == "remote"
    assert answer.text == IN_CHARACTER
    assert [a.action_type for a in answer.actions] == ["chat"]
    assert answer.completion_tokens == reply_tokens(IN_CHARACTER)  # the server's usage
    assert answer.cost_usd > 0  # priced with the default price for unknown models
    sent = fake.requests[-1]
    assert sent["model"] == "fake-model"
    system = sent["messages"][0]
    assert system["role"] == "system" and "Dana Demo" in system["content"]
    call = next(e for e in events if e.type == "gateway.model_call")
    attributes = call.payload["attributes"]
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "remote"
    assert attributes["gen_ai.response.model"] == "fake-model"
    assert attributes["gen_ai.usage.output_tokens"] == reply_tokens(IN_CHARACTER)
    assert attributes["gen_ai.usage.input_tokens"] == answer.prompt_tokens
    assert attributes["gen_ai.provider.name"] == "remote"
    assert all(e.tick == 5 for e in events)
    steps = [e.payload["step"] for e in events if e.type == "gateway.decision"]
    assert steps[:6] == ["authenticate", "parse", "route", "rate_limit", "screen", "synthesize"]
    assert {"compile", "synthesize", "guards", "forward", "extract"} <= set(steps)


def test_persona_break_is_regenerated(tmp_path: Path, fake_model: FakeModelServer) -> None:
    fake = fake_model.reset(breaks_left=1)
    gw = Gateway(remote_settings(fake_model), ledger_path=tmp_path / "l.db")
    answer = gw.complete(chat("Coming to lunch?", model="remote"), agent_id="DEMO-01")
    assert answer.regenerations == 1 and answer.text == IN_CHARACTER
    retry = fake.requests[-1]
    assert retry["temperature"] == 0.3
    assert "broke character" in retry["messages"][-1]["content"]
    assert fake.calls == 2
    gw.close()


def test_persistent_break_fails_closed_after_two_regenerations(
    tmp_path: Path, fake_model: FakeModelServer
) -> None:
    fake = fake_model.reset(breaks_left=10)
    gw = Gateway(remote_settings(fake_model), ledger_path=tmp_path / "l.db")
    answer = gw.complete(chat("Coming to lunch?", model="remote"), agent_id="DEMO-01")
    assert fake.calls == 3  # the first reply and two regenerations
    assert answer.regenerations == 2 and answer.finish_reason == "content_filter"
    assert "AI" not in answer.text and answer.actions  # an in-character fallback, not the break
    assert answer.completion_tokens == 3 * reply_tokens(OUT_OF_CHARACTER)  # all three paid for
    fake_model.reset()
    gw.close()


def test_replies_paid_before_a_failure_are_charged(
    tmp_path: Path, fake_model: FakeModelServer
) -> None:
    """A persona-breaking reply is paid for even when its regeneration then fails."""
    fake_model.reset(breaks_left=1, fail_after=1)
    gw = Gateway(remote_settings(fake_model), ledger_path=tmp_path / "l.db")
    with pytest.raises(ProviderError, match="server"):
        gw.complete(chat("Coming to lunch?", model="remote"), agent_id="DEMO-01")
    usage = gw.ledger.usage(gw.ledger.keys("DEMO-01", "demo")[0])
    assert usage.requests == 1 and usage.tokens > 7  # the first reply: its prompt + 7
    assert gw.ledger.open_reservations() == 0
    fake_model.reset()
    gw.close()
