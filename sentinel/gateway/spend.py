"""Spend reports from the audit trail: tokens, money and requests per day, key, agent, model.

Read from the ``gateway.model_call`` events, so the report is what the audit trail proves
(not the budget ledger, whose periods roll over); the day is the event's UTC wall-clock date
and the key is the virtual key's id (empty for keys from the settings and in-process calls).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from sentinel.audit.events import Event

if TYPE_CHECKING:
    from sentinel.audit import AuditStore

MODEL_CALL = "gateway.model_call"


@dataclass
class SpendRow:
    """What one agent spent on one model on one day, with one virtual key (or none)."""

    day: str
    key_id: str
    agent_id: str
    model: str
    requests: int = 0
    synthesized: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class SpendFilter:
    """Which calls a report sums; None matches everything. Days are inclusive."""

    since: date | None = None
    until: date | None = None
    key_id: str | None = None
    agent_id: str | None = None
    model: str | None = None

    def matches(self, day: date, key_id: str, agent_id: str, model: str) -> bool:
        """True when a call on ``day`` with these names is in the report."""
        return (
            (self.since is None or day >= self.since)
            and (self.until is None or day <= self.until)
            and self.key_id in (None, key_id)
            and self.agent_id in (None, agent_id)
            and self.model in (None, model)
        )


_Key = tuple[str, str, str, str]


def spend_report(events: Iterable[Event], where: SpendFilter | None = None) -> list[SpendRow]:
    """Sum ``gateway.model_call`` events per (day, key, agent, model), sorted by those keys."""
    rows: dict[_Key, SpendRow] = {}
    _add(rows, events, where or SpendFilter())
    return [rows[key] for key in sorted(rows)]


class SpendIndex:
    """An incremental spend aggregate over one audit store.

    It keeps the unfiltered rows per (day, key, agent, model) and the position up to which
    it has read; each report reads only the ``gateway.model_call`` events appended since
    (by any process) and filters the rows, so its cost grows with the new events and the
    number of rows, not with the trail. Equal to :func:`spend_report` over the whole trail.

    Args:
        audit: The audit store to read.
    """

    def __init__(self, audit: AuditStore) -> None:
        self.audit = audit
        self._rows: dict[_Key, SpendRow] = {}
        self._next = 0
        self._lock = threading.Lock()

    def report(self, where: SpendFilter | None = None) -> list[SpendRow]:
        """The spend rows that ``where`` selects, sorted by (day, key, agent, model)."""
        where = where or SpendFilter()
        with self._lock:
            events = list(self.audit.read(type=MODEL_CALL, start=self._next))
            _add(self._rows, events, SpendFilter())
            if events:
                self._next = events[-1].position + 1
            return [
                dataclasses.replace(self._rows[key])
                for key in sorted(self._rows)
                if where.matches(date.fromisoformat(key[0]), *key[1:])
            ]


def _add(rows: dict[_Key, SpendRow], events: Iterable[Event], where: SpendFilter) -> None:
    for event in events:
        if event.type != MODEL_CALL:
            continue
        payload = event.payload
        day = datetime.fromtimestamp(event.wall_ns / 1e9, tz=UTC).date()
        names = (str(payload.get("key_id") or ""), str(payload.get("agent_id")),
                 str(payload.get("model")))  # fmt: skip
        if not where.matches(day, *names):
            continue
        key = (day.isoformat(), *names)
        row = rows.setdefault(key, SpendRow(*key))
        row.requests += 1
        row.synthesized += bool(payload.get("synthesized"))
        row.prompt_tokens += int(payload.get("prompt_tokens") or 0)
        row.completion_tokens += int(payload.get("completion_tokens") or 0)
        row.cost_usd += float(payload.get("cost_usd") or 0.0)
