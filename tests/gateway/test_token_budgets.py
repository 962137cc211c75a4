"""Exact token budgets: the hold is the prompt actually sent plus ``max_tokens``.

Against a local upstream that reports real usage (the prompt counted with a real
tokenizer, the reply cut at ``max_tokens``), 250 racing requests never spend more than the
limit — in-process and over HTTP with the real ``openai`` client — and spend nearly all of
it: the hold is exact, not a guess.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest

from sentinel.audit import AuditStore
from sentinel.errors import BudgetExhaustedError, GatewayError
from sentinel.gateway import BackgroundServer, Gateway
from sentinel.gateway.settings import BudgetLimit, BudgetSettings, GuardSettings
from tests.gateway.conftest import chat, remote_settings
from tests.gateway.fake_provider import OUT_OF_CHARACTER, FakeModelServer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

RACERS = 250
LIMIT = 10_000


def token_budget(limit: int = LIMIT) -> BudgetSettings:
    return BudgetSettings(limits=(BudgetLimit(scope="agent", period="hour", tokens=limit),))


@pytest.fixture
def remote_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_TEST_FAKE_KEY", "sk-test")


@pytest.fixture
def budgeted(tmp_path: Path, fake_model: FakeModelServer, remote_key: None) -> Iterator[Gateway]:
    fake_model.reset()
    gw = Gateway(remote_settings(fake_model, budgets=token_budget()),
                 ledger_path=tmp_path / "ledger.db")  # fmt: skip
    yield gw
    gw.close()


def spent(gw: Gateway) -> int:
    key = gw.ledger.keys("DEMO-01", "demo")[0]
    assert gw.ledger.open_reservations() == 0  # so usage is what was spent, nothing held
    return gw.ledger.usage(key).tokens


def check_race(gw: Gateway, results: list[Any], max_tokens: int | None) -> None:
    answered = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, BudgetExhaustedError | openai.APIStatusError) for r in refused)
    assert answered, "the budget admits some requests"
    total = spent(gw)
    assert total <= LIMIT
    if max_tokens is not None:
        # Exact holds: what was refused could not have fit next to what was spent.
        largest = max(a.prompt_tokens + a.completion_tokens for a in answered)
        assert total > LIMIT - 2 * largest
    print(f"\n{len(answered)} of {RACERS} answered, {total} of {LIMIT} tokens spent")


@pytest.mark.parametrize("max_tokens", [1, 16, None])
def test_race_in_process_never_overspends(budgeted: Gateway, max_tokens: int | None) -> None:
    barrier = threading.Barrier(RACERS)

    def call(i: int) -> object:
        body = {**chat(f"request {i}", model="remote")}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        barrier.wait()
        try:
            return budgeted.complete(body, agent_id="DEMO-01")
        except GatewayError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        results = list(pool.map(call, range(RACERS)))
    check_race(budgeted, results, max_tokens)


@pytest.mark.parametrize("max_tokens", [1, None])
def test_race_over_http_never_overspends(budgeted: Gateway, max_tokens: int | None) -> None:
    async def race(base_url: str) -> list[Any]:
        async with openai.AsyncOpenAI(base_url=base_url, api_key="sentinel-dev",
                                      max_retries=0, timeout=60) as client:  # fmt: skip
            options: dict[str, Any] = {} if max_tokens is None else {"max_tokens": max_tokens}
            calls = [
                client.chat.completions.create(
                    model="remote", messages=[{"role": "user", "content": f"request {i}"}],
                    **options)
                for i in range(RACERS)
            ]  # fmt: skip
            return await asyncio.gather(*calls, return_exceptions=True)

    with BackgroundServer(budgeted) as server:
        replies = asyncio.run(race(server.base_url))
    for reply in replies:
        if isinstance(reply, openai.APIStatusError):
            assert reply.status_code == 402 and reply.code == "budget_exhausted"
    answered = [r for r in replies if not isinstance(r, BaseException)]
    assert answered
    total = spent(budgeted)
    assert total <= LIMIT
    assert total == sum(r.usage.total_tokens for r in answered)
    if max_tokens is not None:
        largest = max(r.usage.total_tokens for r in answered)
        assert total > LIMIT - 2 * largest
    print(f"\n{len(answered)} of {RACERS} answered over HTTP, {total} of {LIMIT} tokens spent")


def test_the_hold_counts_the_persona_prompt_exactly(
    tmp_path: Path, fake_model: FakeModelServer, remote_key: None
) -> None:
    fake = fake_model.reset()
    store = AuditStore(tmp_path / "audit.db")
    gw = Gateway(remote_settings(fake_model), audit=store, ledger_path=tmp_path / "l.db")
    answer = gw.complete({**chat("What are you working on?", model="remote"), "max_tokens": 5},
                         agent_id="DEMO-01")  # fmt: skip
    sent = fake.requests[-1]["messages"]
    assert sent[0]["role"] == "system" and len(sent[0]["content"]) > 500  # the persona prompt
    reserved = next(e.payload["inputs"] for e in store.read(correlation_id=answer.request_id)
                    if e.payload.get("step") == "budget" and e.payload["decision"] == "reserved")  # fmt: skip
    assert reserved["prompt_tokens"] == answer.prompt_tokens  # counted as the upstream does
    assert reserved["tokens"] == answer.prompt_tokens + 5
    assert answer.completion_tokens <= 5
    gw.close()
    store.close()


def test_a_regeneration_the_budget_cannot_cover_is_not_sent(
    tmp_path: Path, fake_model: FakeModelServer, remote_key: None
) -> None:
    # Room for one call but not for a second one with the longer prompt.
    fake_model.reset()
    probe = Gateway(remote_settings(fake_model), ledger_path=":memory:")
    first = probe.complete({**chat("Lunch?", model="remote"), "max_tokens": 20},
                           agent_id="DEMO-01")  # fmt: skip
    probe.close()
    one_call = first.prompt_tokens + 20 + 40
    fake = fake_model.reset(breaks_left=5)
    settings = remote_settings(fake_model, budgets=token_budget(one_call),
                               guards=GuardSettings(max_regenerations=2))  # fmt: skip
    gw = Gateway(settings, ledger_path=tmp_path / "l.db")
    answer = gw.complete({**chat("Lunch?", model="remote"), "max_tokens": 20}, agent_id="DEMO-01")
    assert fake.calls == 1  # the regeneration was refused before it was sent
    assert answer.finish_reason == "content_filter" and OUT_OF_CHARACTER not in answer.text
    assert spent(gw) <= one_call
    gw.close()
