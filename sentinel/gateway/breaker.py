"""A circuit breaker per provider (SEED_NOTES, Gateway).

Closed: calls go through; outcomes of the last ``window_s`` seconds are kept. The breaker
trips to open when the window holds at least ``min_requests`` outcomes with a failure ratio
of ``failure_ratio`` or more, or after ``consecutive_failures`` failures in a row. Open: no
calls for ``open_s`` seconds. Then half-open: up to ``half_open_probes`` calls are let
through; all of them succeeding closes the breaker, any failure opens it again. Failures
are what says the provider is unwell: timeouts, network errors, 5xx and 429.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Callable

from sentinel.gateway.settings import BreakerSettings


class BreakerState(enum.StrEnum):
    """Where a breaker is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """One provider's breaker; thread-safe.

    Args:
        settings: Window, thresholds and timings.
        clock: Monotonic seconds (tests pass a fake clock).
    """

    def __init__(
        self, settings: BreakerSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._consecutive = 0
        self._opened_at = 0.0
        self._probes_started = 0
        self._probes_passed = 0

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker turns half-open once ``open_s`` has passed)."""
        with self._lock:
            self._advance()
            return self._state

    def _advance(self) -> None:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self.settings.open_s
        ):
            self._state = BreakerState.HALF_OPEN
            self._probes_started = self._probes_passed = 0

    def allow(self) -> bool:
        """May a call go out now? In half-open, each True is one of the probes."""
        with self._lock:
            self._advance()
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                return False
            if self._probes_started < self.settings.half_open_probes:
                self._probes_started += 1
                return True
            return False

    @property
    def consecutive_failures(self) -> int:
        """Failures recorded in a row since the last success (closed state)."""
        with self._lock:
            return self._consecutive

    def forgive(self) -> None:
        """A call let through said nothing about the provider's health.

        The request itself was refused: in half-open, its probe slot is given back;
        otherwise nothing changes.
        """
        with self._lock:
            if self._state is BreakerState.HALF_OPEN and self._probes_started > 0:
                self._probes_started -= 1

    def record(self, success: bool) -> BreakerState:
        """Record a call's outcome; returns the state after it."""
        with self._lock:
            now = self._clock()
            self._advance()
            if self._state is BreakerState.HALF_OPEN:
                if not success:
                    self._trip(now)
                else:
                    self._probes_passed += 1
                    if self._probes_passed >= self.settings.half_open_probes:
                        self._close()
                return self._state
            if self._state is BreakerState.OPEN:
                return self._state  # a call let through before the trip, or an urgent one
            self._outcomes.append((now, success))
            while self._outcomes and now - self._outcomes[0][0] > self.settings.window_s:
                self._outcomes.popleft()
            self._consecutive = 0 if success else self._consecutive + 1
            failures = sum(1 for _, ok in self._outcomes if not ok)
            total = len(self._outcomes)
            if self._consecutive >= self.settings.consecutive_failures or (
                total >= self.settings.min_requests
                and failures / total >= self.settings.failure_ratio
            ):
                self._trip(now)
            return self._state

    def _trip(self, now: float) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now
        self._outcomes.clear()
        self._consecutive = 0

    def _close(self) -> None:
        self._state = BreakerState.CLOSED
        self._outcomes.clear()
        self._consecutive = 0
