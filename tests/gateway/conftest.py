from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentinel.gateway import BackgroundServer, Gateway, GatewaySettings
from sentinel.gateway.fingerprint import format_fingerprint
from sentinel.gateway.providers.litellm_provider import import_litellm
from sentinel.gateway.settings import (
    BudgetSettings,
    ProviderSettings,
    RateLimitSettings,
    RoutingSettings,
)
from tests.gateway.fake_provider import FakeModelServer

CALM: dict[str, int | str] = {"H": 3, "E": 6, "B": 2, "S": 1, "C": 4, "SN": 5, "P": 0, "CH": 0, "HR": 0, "T": 9,
        "TMP": 0, "N": 0, "IM": 0, "R": "office_1", "PE": "I"}  # fmt: skip
"""A fingerprint that the default rules answer with focused_alone."""

GENEROUS_LIMITS = RateLimitSettings(agent_per_minute=1e6, global_per_minute=1e6, burst=1)


def fingerprint(**changes: int | str) -> str:
    return format_fingerprint({**CALM, **changes})


def chat(content: str = "Hello there", model: str = "offline", **sentinel: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": content}]}
    if sentinel:
        body["sentinel"] = sentinel
    return body


def settings_with(**changes: Any) -> GatewaySettings:
    base: dict[str, Any] = {"rate_limits": GENEROUS_LIMITS}
    base.update(changes)
    return GatewaySettings(**base)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = Gateway(settings_with(), ledger_path=tmp_path / "ledger.db")
    yield gw
    gw.close()


@pytest.fixture(scope="module")
def fake_model() -> Iterator[FakeModelServer]:
    server = FakeModelServer().start()
    yield server
    server.stop()
    _close_litellm_clients()


def _close_litellm_clients() -> None:
    """litellm caches one HTTP client per provider; close them so no socket outlives a test."""
    litellm = import_litellm()
    cache = litellm.in_memory_llm_clients_cache
    for client in list(getattr(cache, "cache_dict", {}).values()):
        close = getattr(client, "close", None)
        if callable(close) and not asyncio.iscoroutinefunction(close):
            close()
    cache.flush_cache()


def remote_settings(
    fake: FakeModelServer, *, deadline_s: float = 5.0, **changes: Any
) -> GatewaySettings:
    """Settings whose primary is a litellm provider pointed at the fake server."""
    providers = (
        ProviderSettings(name="offline", kind="offline", model="offline"),
        ProviderSettings(name="remote", kind="litellm", model="openai/fake-model",
                         api_base=fake.base_url, api_key_env="SENTINEL_TEST_FAKE_KEY",
                         deadline_s=deadline_s),
    )  # fmt: skip
    changes.setdefault("routing", RoutingSettings(primary="remote"))
    return settings_with(providers=providers, **changes)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Gateway, BackgroundServer]]:
    gw = Gateway(settings_with(), ledger_path=tmp_path / "ledger.db")
    with BackgroundServer(gw) as server:
        yield gw, server
    gw.close()


__all__ = ["BudgetSettings", "chat", "fingerprint", "remote_settings", "settings_with"]
