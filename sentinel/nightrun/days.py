"""Several days in a row: each day a run, each night a nightrun, the next day remembering.

Day 1 writes the store given; day ``d`` writes ``<stem>.day<d><suffix>`` beside it (each
day is a complete run: it verifies and replays alone). After each day the nightrun
consolidates it into memories in that day's store; the next day's need prompts carry them
and its ``runtime.started`` event records them. Every day starts the world from the same
seed, so what differs between two days is what the agents remember.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentinel.agents.options import RunOptions
from sentinel.agents.runtime import RunSummary, run
from sentinel.audit import AuditStore
from sentinel.errors import InvalidInputError
from sentinel.nightrun.nightrun import NightrunReport, run_nightrun
from sentinel.nightrun.recall import latest_memories, recall_table

MAX_DAYS = 14
"""Ours: two weeks at most in one command."""


@dataclass
class DayResult:
    """One day: its run's summary and its night's consolidation."""

    day: int
    summary: RunSummary
    nightrun: NightrunReport
    recalled: int
    """Agents whose prompts carried memories of the day before."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "day": self.day,
            "recalled": self.recalled,
            "run": self.summary.to_dict(),
            "nightrun": self.nightrun.to_dict(),
        }


def day_store(store: Path, day: int) -> Path:
    """The store of day ``day`` (day 1: ``store`` itself)."""
    return store if day == 1 else store.with_name(f"{store.stem}.day{day}{store.suffix}")


def run_days(
    options: RunOptions,
    days: int,
    *,
    progress: Callable[[int, int, int], None] | None = None,
    bus: str | None = None,
) -> list[DayResult]:
    """Run ``days`` days, each followed by its nightrun.

    Args:
        options: The run of each day (its store is day 1's).
        days: How many days.
        progress: Called as ``progress(day, ticks_done, ticks_total)``.
        bus: A Zenoh endpoint every day publishes on (see :func:`sentinel.agents.runtime.run`).

    Raises:
        InvalidInputError: ``days`` out of range, or a day's store exists.
    """
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInputError(f"--days must be in [1, {MAX_DAYS}], got {days}")
    for day in range(1, days + 1):
        if day_store(options.store, day).exists():
            raise InvalidInputError(
                f"the store {day_store(options.store, day)} exists; choose another --store, "
                "or pass --overwrite"
            )
    results: list[DayResult] = []
    memories: dict[str, list[str]] = {}
    for day in range(1, days + 1):
        store = day_store(options.store, day)
        each = None if progress is None else (lambda n, t, d=day: progress(d, n, t))
        summary = run(
            dataclasses.replace(options, store=store), progress=each, memories=memories, bus=bus
        )
        night = run_nightrun(store)
        results.append(DayResult(day, summary, night, sum(1 for m in memories.values() if m)))
        if summary.interrupted:
            break
        with AuditStore(store, create=False) as opened:
            memories = recall_table(latest_memories(opened))
    return results
