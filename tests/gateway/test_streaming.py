"""Real streaming through the guards, with the real ``openai`` client.

The upstream writes a chunk every ``DELAY`` seconds. A plain client's first token arrives
with the upstream's first; a persona's after the first sentence (the guards' window); a
reply that breaks persona is cut before the breaking sentence leaves the gateway. Budgets
settle on the usage the stream reported, and the audit is written when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from sentinel.audit import AuditStore
from sentinel.gateway import BackgroundServer, Gateway
from sentinel.gateway.settings import AuthSettings
from tests.gateway.conftest import remote_settings
from tests.gateway.fake_provider import FakeModelServer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

DELAY = 0.15
CLIENT_KEY = "sk-streaming-client"
STORY = "On it. I will read the logs first and then fix the flaky test before lunch today."
BREAK = "Sure thing. As an AI language model, I cannot go to the kitchen. Bye for now."


@pytest.fixture
def streaming(
    tmp_path: Path, fake_model: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Gateway, BackgroundServer, AuditStore]]:
    monkeypatch.setenv("SENTINEL_TEST_FAKE_KEY", "sk-test")
    fake_model.reset()
    store = AuditStore(tmp_path / "audit.db")
    settings = remote_settings(fake_model, auth=AuthSettings(
        api_keys={"sentinel-dev": "DEMO-01"}, clients={CLIENT_KEY: "ci-bot"}))  # fmt: skip
    gw = Gateway(settings, audit=store, ledger_path=tmp_path / "l.db")
    with BackgroundServer(gw) as server:
        read(server, CLIENT_KEY)  # litellm's first call imports its provider modules (seconds)
        read(server, "sentinel-dev")  # and the detector's learned stage is trained
        yield gw, server, store
    gw.close()
    store.close()


def read(server: BackgroundServer, key: str, **options: object) -> tuple[float, str, list[object]]:
    """Seconds to the first content, the whole text, and the chunks."""
    started = time.monotonic()
    first, text, chunks = read_at(server, key, **options)
    return (first - started if first else 0.0), text, chunks


def read_at(
    server: BackgroundServer, key: str, **options: object
) -> tuple[float | None, str, list[object]]:
    """When the first content came (``time.monotonic()``), the whole text, and the chunks."""
    with openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0) as client:
        first = None
        chunks: list[object] = []
        text = ""
        stream = client.chat.completions.create(
            model="remote", messages=[{"role": "user", "content": "Can you fix it?"}],
            stream=True, **options)  # type: ignore[call-overload]  # fmt: skip
        for chunk in stream:
            chunks.append(chunk)
            if chunk.choices and chunk.choices[0].delta.content:
                first = first or time.monotonic()
                text += chunk.choices[0].delta.content
    return first, text, chunks


def test_plain_client_gets_the_first_token_with_the_upstreams(
    streaming: tuple[Gateway, BackgroundServer, AuditStore], fake_model: FakeModelServer
) -> None:
    gw, server, _ = streaming
    upstream = fake_model.reset(text=STORY, chunk_delay_s=DELAY)
    words = len(STORY.split())
    first, text, chunks = read_at(server, CLIENT_KEY)
    assert text == STORY
    assert upstream.sent[-1] - upstream.sent[0] >= (words - 1) * DELAY
    # The first word reached the client before the upstream had even written its last words:
    # a buffered reply cannot do that, and a stall of a loaded machine cannot fail it unless
    # it holds the stream for the whole reply (a fresh clone under stress-ng once saw 2.3 s
    # to the first token when this was timed from the request).
    assert first is not None and first < upstream.sent[-2]
    last = chunks[-1]
    assert last.usage is not None and last.usage.completion_tokens > 0  # type: ignore[attr-defined]
    assert gw.ledger.open_reservations() == 0


def test_persona_stream_is_released_a_sentence_at_a_time(
    streaming: tuple[Gateway, BackgroundServer, AuditStore], fake_model: FakeModelServer
) -> None:
    gw, server, store = streaming
    key = gw.ledger.keys("DEMO-01", "demo")[0]
    before = gw.ledger.usage(key).tokens
    upstream = fake_model.reset(text=STORY, chunk_delay_s=DELAY)
    first, text, chunks = read_at(server, "sentinel-dev")
    assert text == STORY
    assert first is not None and first < upstream.sent[-2]  # after "On it. ", before the end
    final = chunks[-1]
    extra = final.model_extra or {}  # type: ignore[attr-defined]
    assert extra["sentinel"]["decision"] == "forwarded"
    gw.flush_audit()
    calls = list(store.read(type="gateway.model_call"))
    assert calls and calls[-1].payload["completion_tokens"] == final.usage.completion_tokens  # type: ignore[attr-defined]
    assert gw.ledger.open_reservations() == 0
    assert gw.ledger.usage(key).tokens - before == final.usage.total_tokens  # type: ignore[attr-defined]


def test_a_persona_break_is_cut_before_it_leaves(
    streaming: tuple[Gateway, BackgroundServer, AuditStore], fake_model: FakeModelServer
) -> None:
    gw, server, _ = streaming
    fake_model.reset(text=BREAK, chunk_delay_s=0.01)
    _, text, chunks = read(server, "sentinel-dev")
    assert text == "Sure thing. "
    assert "AI" not in text
    assert chunks[-1].choices[0].finish_reason == "content_filter"  # type: ignore[attr-defined]
    assert gw.ledger.open_reservations() == 0


def test_tool_calls_stream_through(
    streaming: tuple[Gateway, BackgroundServer, AuditStore], fake_model: FakeModelServer
) -> None:
    _, server, _ = streaming
    call = {"id": "call_9", "type": "function",
            "function": {"name": "lookup", "arguments": '{"q": "x"}'}}  # fmt: skip
    fake_model.reset(text="", tool_calls=[call])
    _, _, chunks = read(server, CLIENT_KEY, tools=[{"type": "function", "function": {
        "name": "lookup", "parameters": {"type": "object", "properties": {}}}}])  # fmt: skip
    deltas = [c.choices[0].delta.tool_calls for c in chunks  # type: ignore[attr-defined]
              if c.choices and c.choices[0].delta.tool_calls]  # type: ignore[attr-defined]  # fmt: skip
    assert deltas and deltas[0][0].function.name == "lookup"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"  # type: ignore[attr-defined]


def test_a_refused_stream_gets_its_status(
    streaming: tuple[Gateway, BackgroundServer, AuditStore], fake_model: FakeModelServer
) -> None:
    gw, server, _ = streaming
    fake_model.reset(status=429, retry_after="3")
    with pytest.raises(openai.RateLimitError) as limited:
        read(server, CLIENT_KEY)
    assert limited.value.response.headers["retry-after"] == "3"
    assert gw.ledger.open_reservations() == 0
    fake_model.reset()
    gw.breakers["remote"].record(success=True)
