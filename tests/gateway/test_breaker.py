"""The circuit breaker: unit behaviour on a fake clock, then a failing local provider driven
through open, half-open and closed over litellm's real HTTP path."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sentinel.errors import (
    BreakerOpenError,
    ProviderError,
    UpstreamRateLimitedError,
    UpstreamRejectedError,
)
from sentinel.gateway import BackgroundServer, BreakerState, CircuitBreaker, Gateway
from sentinel.gateway.settings import BreakerSettings, RoutingSettings
from tests.gateway.conftest import chat, remote_settings
from tests.gateway.fake_provider import FakeModelServer

# litellm imports provider modules lazily on its first call, and those imports warn (pydantic
# TypedDict notices, deprecations) in code that is not ours.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


def state(breaker: CircuitBreaker) -> BreakerState:
    """The breaker's state, read through a call (mypy would narrow a property read)."""
    return breaker.state


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_trips_on_consecutive_failures() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerSettings(), clock)
    for _ in range(4):
        assert breaker.record(success=False) is BreakerState.CLOSED
    assert breaker.record(success=False) is BreakerState.OPEN
    assert not breaker.allow()


def test_trips_on_failure_ratio_with_enough_requests() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerSettings(), clock)
    for i in range(19):  # alternating: never 5 in a row, ratio 0.47 .. 0.5, but < 20 requests
        breaker.record(success=i % 2 == 0)
        clock.now += 0.1
    assert state(breaker) is BreakerState.CLOSED
    breaker.record(success=False)  # 20 requests, 10 failures: ratio 0.5
    assert state(breaker) is BreakerState.OPEN


def test_window_forgets_old_outcomes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(BreakerSettings(), clock)
    for i in range(18):  # 9 failures, 9 successes, alternating
        breaker.record(success=i % 2 == 1)
    clock.now += 21  # the window is 20 s: without it, the next two would make 10 of 20
    breaker.record(success=True)
    breaker.record(success=False)
    assert state(breaker) is BreakerState.CLOSED


def test_half_open_probes_then_close_or_reopen() -> None:
    clock = Clock()
    settings = BreakerSettings()
    breaker = CircuitBreaker(settings, clock)
    for _ in range(5):
        breaker.record(success=False)
    clock.now += settings.open_s - 1
    assert state(breaker) is BreakerState.OPEN
    clock.now += 1
    assert state(breaker) is BreakerState.HALF_OPEN
    assert [breaker.allow() for _ in range(4)] == [True, True, True, False]
    breaker.record(success=True)
    assert breaker.record(success=False) is BreakerState.OPEN
    clock.now += settings.open_s
    for _ in range(3):
        assert breaker.allow()
        breaker.record(success=True)
    assert state(breaker) is BreakerState.CLOSED


@pytest.fixture
def remote_key() -> Iterator[None]:
    os.environ["SENTINEL_TEST_FAKE_KEY"] = "test-key"
    yield
    del os.environ["SENTINEL_TEST_FAKE_KEY"]


@pytest.mark.usefixtures("remote_key")
def test_failing_provider_through_open_half_open_closed(
    tmp_path: Path, fake_model: FakeModelServer
) -> None:
    clock = Clock()
    settings = remote_settings(fake_model, routing=RoutingSettings(primary="remote"))
    gw = Gateway(settings, ledger_path=tmp_path / "l.db", clock=clock)
    breaker = gw.breakers["remote"]
    fake = fake_model.reset(status=503)
    for _ in range(5):
        with pytest.raises(ProviderError, match="server"):
            gw.complete(chat("hi", model="remote"), agent_id="DEMO-01")
    assert state(breaker) is BreakerState.OPEN
    calls = fake.calls
    with pytest.raises(BreakerOpenError):
        gw.complete(chat("hi", model="remote"), agent_id="DEMO-01")
    assert fake.calls == calls  # nothing was sent while open
    fake.status = 200
    clock.now += settings.breaker.open_s
    assert state(breaker) is BreakerState.HALF_OPEN
    for _ in range(settings.breaker.half_open_probes):
        answer = gw.complete(chat("hi", model="remote"), agent_id="DEMO-01")
        assert answer.decision == "forwarded" and answer.provider == "remote"
    assert state(breaker) is BreakerState.CLOSED
    assert fake.calls == calls + settings.breaker.half_open_probes
    gw.close()


@pytest.mark.usefixtures("remote_key")
def test_open_breaker_routes_to_fallback_and_urgent_bypasses(
    tmp_path: Path, fake_model: FakeModelServer
) -> None:
    clock = Clock()
    settings = remote_settings(
        fake_model, routing=RoutingSettings(primary="remote", fallback="offline")
    )
    gw = Gateway(settings, ledger_path=tmp_path / "l.db", clock=clock)
    fake = fake_model.reset(status=500)
    for _ in range(5):  # each call fails over to the offline fallback
        assert gw.complete(chat("hi", model="auto"), agent_id="DEMO-01").provider == "offline"
    assert state(gw.breakers["remote"]) is BreakerState.OPEN
    calls = fake.calls
    assert gw.complete(chat("hi", model="auto"), agent_id="DEMO-01").provider == "offline"
    assert fake.calls == calls
    fake.status = 200
    urgent = gw.complete(chat("Dana?", model="auto", addressed=True), agent_id="DEMO-01")
    assert urgent.provider == "remote" and fake.calls == calls + 1
    gw.close()


@pytest.mark.usefixtures("remote_key")
def test_429_and_timeouts_count_4xx_do_not(tmp_path: Path, fake_model: FakeModelServer) -> None:
    gw = Gateway(remote_settings(fake_model, deadline_s=0.5), ledger_path=tmp_path / "l.db")
    fake_model.reset(status=400)
    for _ in range(6):
        with pytest.raises(UpstreamRejectedError, match="fake failure 400") as rejected:
            gw.complete(chat("hi", model="remote"), agent_id="DEMO-01")
        assert rejected.value.status == 400
    assert state(gw.breakers["remote"]) is BreakerState.CLOSED
    assert gw.breakers["remote"].consecutive_failures == 0
    fake_model.reset(status=429)
    for _ in range(3):
        with pytest.raises(UpstreamRateLimitedError, match="rate_limited"):
            gw.complete(chat("hi", model="remote"), agent_id="DEMO-01")
    fake_model.reset(delay_s=2)
    for _ in range(2):
        with pytest.raises(ProviderError, match="timeout"):
            gw.complete(chat("hi", model="remote"), agent_id="DEMO-01")
    assert state(gw.breakers["remote"]) is BreakerState.OPEN
    fake_model.reset()
    gw.close()


@pytest.mark.usefixtures("remote_key")
def test_open_breaker_is_503_over_http(tmp_path: Path, fake_model: FakeModelServer) -> None:
    gw = Gateway(remote_settings(fake_model), ledger_path=tmp_path / "l.db")
    fake_model.reset(status=502)
    with BackgroundServer(gw) as server, httpx.Client(timeout=30) as client:
        url = f"{server.base_url}/chat/completions"
        headers = {"Authorization": "Bearer sentinel-dev"}
        failed = [
            client.post(url, json=chat("hi", model="remote"), headers=headers) for _ in range(5)
        ]
        assert {r.status_code for r in failed} == {502}
        assert failed[0].json()["error"]["code"] == "provider_error"
        refused = client.post(url, json=chat("hi", model="remote"), headers=headers)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "breaker_open"
        health = client.get(url.replace("/v1/chat/completions", "/health")).json()
        assert health["breakers"]["remote"] == "open"
    fake_model.reset()
    gw.close()


@pytest.mark.usefixtures("remote_key")
def test_retries_with_backoff_before_the_fallback(
    tmp_path: Path, fake_model: FakeModelServer
) -> None:
    routing = RoutingSettings(primary="remote", fallback="offline", retries=2,
                              retry_backoff_s=0.05)  # fmt: skip
    gw = Gateway(remote_settings(fake_model, routing=routing), ledger_path=tmp_path / "l.db")
    fake = fake_model.reset(status=503, fail_first=2)
    started = time.monotonic()
    answer = gw.complete(chat("hi", model="auto"), agent_id="DEMO-01")
    assert answer.provider == "remote" and fake.calls == 3  # two retries, then an answer
    assert time.monotonic() - started >= 0.05 + 0.1  # backoff 0.05 s, then 0.1 s
    fake = fake_model.reset(status=503)
    assert gw.complete(chat("hi", model="auto"), agent_id="DEMO-01").provider == "offline"
    assert fake.calls == 3  # three tries on the primary, then the fallback
    fake = fake_model.reset(status=400)
    with pytest.raises(UpstreamRejectedError):
        gw.complete(chat("hi", model="auto"), agent_id="DEMO-01")
    assert fake.calls == 1  # the client's fault is not retried
    fake_model.reset()
    gw.close()
