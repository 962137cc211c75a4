"""Token-bucket rate limits per agent and global (SEED_NOTES, Guardrails).

Buckets live in the gateway process: each replica limits its own traffic. Budgets, which
must hold across processes, live in the :class:`~sentinel.gateway.budget.BudgetLedger`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sentinel.errors import RateLimitedError
from sentinel.gateway.settings import RateLimitSettings

SECONDS_PER_MINUTE = 60.0


class TokenBucket:
    """Refills ``rate_per_minute`` tokens a minute up to ``capacity``; starts full."""

    def __init__(self, rate_per_minute: float, capacity: float, now: float) -> None:
        self.rate = rate_per_minute / SECONDS_PER_MINUTE
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def available(self, now: float) -> bool:
        """Is one token there?"""
        self._refill(now)
        return self.tokens >= 1

    def take(self) -> None:
        """Take one token (call :meth:`available` first)."""
        self.tokens -= 1

    def wait_s(self) -> float:
        """Seconds until one token is there."""
        return max(0.0, (1 - self.tokens) / self.rate)


class RateLimiter:
    """Per-agent and global buckets; a request takes one token from each, or from none.

    Args:
        settings: Rates per minute and the burst factor (capacity = rate x burst).
        clock: Monotonic seconds.
    """

    def __init__(
        self, settings: RateLimitSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._global = TokenBucket(
            settings.global_per_minute, settings.global_per_minute * settings.burst, now
        )
        self._agents: dict[str, TokenBucket] = {}

    def acquire(self, agent_id: str) -> None:
        """Take a token for ``agent_id`` and one from the global bucket.

        Raises:
            RateLimitedError: Either bucket is empty; nothing was taken.
        """
        with self._lock:
            now = self._clock()
            bucket = self._agents.get(agent_id)
            if bucket is None:
                rate = self.settings.agent_per_minute
                bucket = self._agents[agent_id] = TokenBucket(rate, rate * self.settings.burst, now)
            if not bucket.available(now):
                raise RateLimitedError(
                    f"agent {agent_id!r} is over {self.settings.agent_per_minute:g} "
                    "requests per minute",
                    retry_after_s=bucket.wait_s(),
                )
            if not self._global.available(now):
                raise RateLimitedError(
                    f"the gateway is over {self.settings.global_per_minute:g} requests per minute",
                    retry_after_s=self._global.wait_s(),
                )
            bucket.take()
            self._global.take()
