"""Budgets: reserve before the call, settle after, atomic under concurrency on every entry
point, and consistent after a crash between reserve and settle."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from sentinel.errors import BudgetExhaustedError, GatewayError
from sentinel.gateway import BackgroundServer, BudgetLedger, Gateway, GatewayResponse
from sentinel.gateway.settings import BudgetLimit, BudgetSettings
from tests.gateway.conftest import chat, fingerprint, remote_settings, settings_with
from tests.gateway.fake_provider import FakeModelServer

# litellm imports provider modules lazily on its first call, and those imports warn (pydantic
# TypedDict notices, deprecations) in code that is not ours.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


CONCURRENT = 200
ALLOWED = 100


def request_budget(scope: str = "agent") -> BudgetSettings:
    return BudgetSettings(limits=(BudgetLimit(scope=scope, period="day", requests=ALLOWED),))  # type: ignore[arg-type]


def outcomes(results: list[object]) -> tuple[int, int]:
    ok = sum(1 for r in results if not isinstance(r, BaseException))
    refused = sum(1 for r in results if isinstance(r, BudgetExhaustedError))
    return ok, refused


def test_library_entry_point_under_concurrency(tmp_path: Path) -> None:
    gw = Gateway(settings_with(budgets=request_budget()), ledger_path=tmp_path / "l.db")
    barrier = threading.Barrier(50)

    def call(i: int) -> object:
        if i < 50:
            barrier.wait()
        try:
            return gw.complete(chat(f"request {i}"), agent_id="DEMO-01")
        except GatewayError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(call, range(CONCURRENT)))
    assert outcomes(results) == (ALLOWED, CONCURRENT - ALLOWED)
    assert gw.ledger.open_reservations() == 0
    assert gw.ledger.held_matches_reservations()
    key = gw.ledger.keys("DEMO-01", "demo")[0]
    assert gw.ledger.usage(key).requests == ALLOWED
    gw.close()


def test_batch_entry_point(tmp_path: Path) -> None:
    gw = Gateway(settings_with(budgets=request_budget()), ledger_path=tmp_path / "l.db")
    results = gw.complete_many([chat(f"r{i}") for i in range(CONCURRENT)],
                               agent_ids=["DEMO-01"] * CONCURRENT, return_exceptions=True)  # fmt: skip
    assert outcomes(results) == (ALLOWED, CONCURRENT - ALLOWED)
    gw.close()


@pytest.mark.parametrize("stream", [False, True], ids=["http", "http-stream"])
def test_http_entry_points_under_concurrency(tmp_path: Path, stream: bool) -> None:
    gw = Gateway(settings_with(budgets=request_budget()), ledger_path=tmp_path / "l.db")

    async def storm(url: str) -> list[int]:
        limits = httpx.Limits(max_connections=CONCURRENT)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            body = {**chat("storm"), "stream": stream}
            responses = await asyncio.gather(*[
                client.post(url, json=body, headers={"Authorization": "Bearer sentinel-dev"})
                for _ in range(CONCURRENT)])  # fmt: skip
            return [r.status_code for r in responses]

    with BackgroundServer(gw) as server:
        statuses = asyncio.run(storm(f"{server.base_url}/chat/completions"))
    assert statuses.count(200) == ALLOWED
    assert statuses.count(402) == CONCURRENT - ALLOWED
    assert gw.ledger.open_reservations() == 0
    gw.close()


def test_every_entry_point_draws_on_one_budget(tmp_path: Path) -> None:
    """Library, batch, HTTP and streaming calls share the team budget: none bypasses it."""
    gw = Gateway(settings_with(budgets=request_budget("team")), ledger_path=tmp_path / "l.db")
    with BackgroundServer(gw) as server, httpx.Client(timeout=30) as client:
        url = f"{server.base_url}/chat/completions"
        headers = {"Authorization": "Bearer sentinel-dev"}
        served = 0
        for i in range(ALLOWED + 20):
            way = i % 4
            try:
                if way == 0:
                    gw.complete(chat("lib"), agent_id="DEMO-02")
                elif way == 1:
                    gw.complete_many([chat("batch")], agent_ids=["DEMO-03"])
                else:
                    r = client.post(url, json={**chat("http"), "stream": way == 3}, headers=headers)
                    if r.status_code != 200:
                        assert r.status_code == 402
                        continue
            except BudgetExhaustedError:
                continue
            served += 1
    assert served == ALLOWED
    gw.close()


def test_tokens_are_never_overspent(tmp_path: Path) -> None:
    limit = 20_000
    budgets = BudgetSettings(default_max_tokens=100,
                             limits=(BudgetLimit(scope="global", period="hour", tokens=limit),))  # fmt: skip
    gw = Gateway(settings_with(budgets=budgets), ledger_path=tmp_path / "l.db")
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda i: _try(gw, i), range(CONCURRENT)))
    ok, refused = outcomes(results)
    assert ok > 0 and refused > 0 and ok + refused == CONCURRENT
    spent = gw.ledger.usage(gw.ledger.keys("DEMO-01", "demo")[0]).tokens
    answers = [r for r in results if isinstance(r, GatewayResponse)]
    assert spent == sum(r.prompt_tokens + r.completion_tokens for r in answers)
    assert spent <= limit
    gw.close()


def _try(gw: Gateway, i: int) -> object:
    try:
        return gw.complete(chat(f"tokens {i}"), agent_id="DEMO-01")
    except GatewayError as exc:
        return exc


def test_reservation_expires_and_is_charged(tmp_path: Path) -> None:
    now = [1_000_000.0]
    limits = (BudgetLimit(scope="agent", period="day", tokens=1000),)
    ledger = BudgetLedger(tmp_path / "l.db", limits, reservation_ttl_s=10, clock=lambda: now[0])
    ledger.reserve("A", "t", tokens=600, usd=0)
    assert ledger.held_matches_reservations()
    with pytest.raises(BudgetExhaustedError, match="tokens 600 used or held"):
        ledger.reserve("A", "t", tokens=600, usd=0)
    now[0] += 11
    assert ledger.reconcile(check_processes=False) == 1
    assert ledger.usage(ledger.keys("A", "t")[0]).tokens == 600  # charged: it may have been billed
    assert ledger.open_reservations() == 0
    ledger.close()


def test_settle_after_reconcile_does_not_double_count(tmp_path: Path) -> None:
    now = [1_000_000.0]
    ledger = BudgetLedger(tmp_path / "l.db", (BudgetLimit(scope="global", period="hour", tokens=10_000),),
                          reservation_ttl_s=5, clock=lambda: now[0])  # fmt: skip
    held = ledger.reserve("A", "t", tokens=500, usd=0)
    now[0] += 6
    ledger.reconcile(check_processes=False)
    assert ledger.settle(held, tokens=100, usd=0) is False
    assert ledger.usage(ledger.keys("A", "t")[0]).tokens == 500
    ledger.close()


CHILD = """
import json, sys
from sentinel.gateway import Gateway
from sentinel.gateway.settings import GatewaySettings
settings = GatewaySettings.model_validate_json(sys.argv[1])
gw = Gateway(settings, ledger_path=sys.argv[2])
print("ready", flush=True)
gw.complete({"model": "remote", "messages": [{"role": "user", "content": "slow"}]}, agent_id="DEMO-01")
print("settled", flush=True)
"""


def test_sigkill_between_reserve_and_settle(tmp_path: Path, fake_model: FakeModelServer) -> None:
    """A real gateway process is killed while its provider call is in flight."""
    fake = fake_model.reset(delay_s=30)
    budgets = BudgetSettings(
        limits=(BudgetLimit(scope="agent", period="day", tokens=100_000, requests=10),)
    )
    settings = remote_settings(fake_model, deadline_s=30, budgets=budgets)
    ledger_path = tmp_path / "ledger.db"
    child = subprocess.Popen([sys.executable, "-c", CHILD, settings.model_dump_json(), str(ledger_path)],
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "SENTINEL_TEST_FAKE_KEY": "k"})  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while fake.calls == 0:  # the child reserved and is now inside the provider call
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    fake_model.reset()
    ledger = BudgetLedger(ledger_path, budgets.limits)  # opening reconciles dead processes
    assert ledger.open_reservations() == 0
    assert ledger.held_matches_reservations()
    [(_, reason)] = ledger.reconciled()
    assert reason == f"process {child.pid} is gone"
    usage = ledger.usage(ledger.keys("DEMO-01", "demo")[0])
    assert usage.requests == 1 and usage.tokens > 0  # the in-flight call is charged in full
    ledger.reserve("DEMO-01", "demo", tokens=10, usd=0)  # and the ledger keeps working
    assert json.loads(json.dumps(ledger.reconciled()))  # readable
    ledger.close()


def test_money_budget_and_period_rollover(tmp_path: Path) -> None:
    now = [3600.0 * 1000 + 10]
    limits = (BudgetLimit(scope="team", period="hour", usd=1.0),)
    ledger = BudgetLedger(tmp_path / "l.db", limits, clock=lambda: now[0])
    for _ in range(3):
        ledger.settle(ledger.reserve("A", "core", tokens=0, usd=0.3), tokens=0, usd=0.3)
    with pytest.raises(BudgetExhaustedError, match="team:core hour budget: usd"):
        ledger.reserve("B", "core", tokens=0, usd=0.2)  # another agent, the same team
    ledger.reserve("C", "other", tokens=0, usd=0.2)  # another team
    now[0] += 3600  # the next hour starts empty
    ledger.reserve("B", "core", tokens=0, usd=0.9)
    ledger.close()


def test_forwarded_calls_are_priced(tmp_path: Path, fake_model: FakeModelServer) -> None:
    os.environ["SENTINEL_TEST_FAKE_KEY"] = "k"
    try:
        fake_model.reset()
        budgets = BudgetSettings(default_max_tokens=100,
                                 limits=(BudgetLimit(scope="agent", period="day", usd=0.01),))  # fmt: skip
        gw = Gateway(remote_settings(fake_model, budgets=budgets), ledger_path=tmp_path / "l.db")
        answers = []
        with pytest.raises(BudgetExhaustedError):
            for _ in range(100):
                answers.append(gw.complete(chat("hi", model="remote"), agent_id="DEMO-01"))  # noqa: PERF401 - stops at the refusal
        spent = gw.ledger.usage(gw.ledger.keys("DEMO-01", "demo")[0]).usd
        assert answers and spent == pytest.approx(sum(a.cost_usd for a in answers))
        assert spent <= 0.01
        gw.close()
    finally:
        del os.environ["SENTINEL_TEST_FAKE_KEY"]


def test_charge_is_reserve_and_settle_in_one(tmp_path: Path) -> None:
    """A zero-token answer is charged its request in one transaction: the same usage a
    reservation settled at nothing leaves, the same refusal at the cap, nothing held."""
    limits = (BudgetLimit(scope="agent", period="day", requests=3),)
    charged = BudgetLedger(tmp_path / "c.db", limits)
    reserved = BudgetLedger(tmp_path / "r.db", limits)
    for _ in range(3):
        charged.charge("A", "t")
        reserved.settle(reserved.reserve("A", "t", tokens=0, usd=0.0), tokens=0, usd=0.0)
    key = charged.keys("A", "t")[0]
    assert charged.usage(key) == reserved.usage(key)
    assert charged.usage(key).requests == 3
    with pytest.raises(BudgetExhaustedError, match="requests 3 used or held"):
        charged.charge("A", "t")
    with pytest.raises(BudgetExhaustedError, match="requests 3 used or held"):
        reserved.reserve("A", "t", tokens=0, usd=0.0)
    assert charged.usage(key).requests == 3  # the refusal changed nothing
    assert charged.open_reservations() == 0 and charged.held_matches_reservations()
    extra = [("key:vk-1", BudgetLimit(scope="agent", period="hour", requests=1))]
    charged.charge("B", "t", extra=extra)
    with pytest.raises(BudgetExhaustedError, match="key:vk-1 hour budget: requests 1"):
        charged.charge("B", "t", extra=extra)  # the key's own limit: one an hour
    charged.close()
    reserved.close()


def test_synthesized_answers_hold_the_request_budget_under_concurrency(tmp_path: Path) -> None:
    """Synthesized answers (charged at once) race on one request budget and stop at it."""
    gw = Gateway(settings_with(budgets=request_budget()), ledger_path=tmp_path / "l.db")
    body = chat("tick", fingerprint=fingerprint())

    def call(_: int) -> object:
        try:
            return gw.complete(body, agent_id="DEMO-01")
        except GatewayError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(call, range(CONCURRENT)))
    assert all(r.decision == "synthesized" for r in results if isinstance(r, GatewayResponse))
    assert outcomes(results) == (ALLOWED, CONCURRENT - ALLOWED)
    assert gw.ledger.open_reservations() == 0
    assert gw.ledger.usage(gw.ledger.keys("DEMO-01", "demo")[0]).requests == ALLOWED
    gw.close()
